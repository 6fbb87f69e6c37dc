/**
 * The OpenWire frame layer: a command on the wire is an int size (unless SizePrefixDisabled was negotiated),
 * the type byte and the loose-encoded fields. `FrameDecoder` takes chunks split anywhere, refuses a size over
 * `maxFrameSize` as soon as its 4 bytes are in (before any of the body is kept), holds at most one frame's
 * bytes, and emits each command once its frame is whole. Without size prefixes it re-reads the buffered bytes
 * as they grow, still bounded by `maxFrameSize`. After an error the decoder is dead: the connection closes.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { Command } from './commands.ts'
import { DataReader, isTruncation } from './data-reader.ts'
import { DataWriter } from './data-writer.ts'
import { readStructure, writeStructure } from './loose-codec.ts'

/** The size prefix is a Java int: no frame is larger, whatever was negotiated. */
export const FRAME_BYTES_CEILING = 0x7fffffff

export type FrameOptions = {
  /** Largest frame accepted or written, counted after the size prefix. */
  maxFrameSize: number
  sizePrefixDisabled: boolean
  stackTraceEnabled: boolean
}

/** Before negotiation: what every peer uses for its first WireFormatInfo. */
export function initialFrameOptions(maxFrameSize: number): FrameOptions {
  return { maxFrameSize, sizePrefixDisabled: false, stackTraceEnabled: false }
}

export class FrameDecoder {
  private opts: FrameOptions
  private parts: Uint8Array[] = []
  private buffered = 0
  /** Body size of the frame being collected, once its prefix is in; -1 while reading the prefix. */
  private frameSize = -1
  private failed: BrokerError | null = null

  constructor(opts: FrameOptions) {
    this.opts = { ...opts }
  }

  /** Switches to the negotiated format; bytes already buffered are read under the new one. */
  setOptions(opts: FrameOptions): void {
    this.opts = { ...opts }
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** Feeds a chunk; calls `onCommand` for each whole command. Throws a BrokerError on bad input. */
  push(chunk: Uint8Array, onCommand: (c: Command) => void): void {
    if (this.failed !== null) throw this.failed
    try {
      if (chunk.length > 0) {
        this.parts.push(chunk)
        this.buffered += chunk.length
      }
      if (this.opts.sizePrefixDisabled) this.drainUnprefixed(onCommand)
      else this.drainPrefixed(onCommand)
      // What is kept past this call is copied, so the caller may reuse its chunk's memory. Bytes leave from the
      // front only, so what is left of this chunk is the last part (a copy already, at worst copied again).
      if (chunk.length > 0 && this.buffered > 0) {
        const last = this.parts.length - 1
        this.parts[last] = this.parts[last]!.slice()
      }
    } catch (e) {
      if (e instanceof BrokerError) this.failed = e
      throw e
    }
  }

  private drainPrefixed(onCommand: (c: Command) => void): void {
    for (;;) {
      if (this.frameSize < 0) {
        if (this.buffered < 4) return
        const size = this.takeInt32()
        const max = Math.min(this.opts.maxFrameSize, FRAME_BYTES_CEILING)
        if (size > max)
          throw new BrokerError(
            'OPENWIRE_FRAME_TOO_LARGE',
            `openwire frame size prefix: found ${size} bytes, expected at most maxFrameSize ${max}`,
            { details: { size, maxFrameSize: max } },
          )
        if (size < 1)
          throw new BrokerError(
            'OPENWIRE_FRAME_INVALID',
            `openwire frame size prefix: found ${size}, expected at least 1 (the type byte)`,
          )
        this.frameSize = size
      }
      if (this.buffered < this.frameSize) return
      const frame = this.take(this.frameSize)
      this.frameSize = -1
      onCommand(this.decodeFrame(frame))
      if (this.failed !== null) return
    }
  }

  private decodeFrame(frame: Uint8Array): Command {
    const r = new DataReader(frame, 0, frame.length, 4)
    const c = readStructure(r, this.opts) as Command
    if (r.remaining !== 0) {
      r.where = c.type
      throw r.fail(`${r.remaining} byte(s) after the ${c.type}`, 'the command to end with its frame')
    }
    return c
  }

  private drainUnprefixed(onCommand: (c: Command) => void): void {
    while (this.buffered > 0) {
      const all = this.take(this.buffered)
      const r = new DataReader(all)
      let c: Command
      try {
        c = readStructure(r, this.opts) as Command
      } catch (e) {
        if (!isTruncation(e)) throw e
        if (all.length > this.opts.maxFrameSize)
          throw new BrokerError(
            'OPENWIRE_FRAME_TOO_LARGE',
            `openwire frame: ${all.length} bytes buffered without a whole command, maxFrameSize is ${this.opts.maxFrameSize}`,
          )
        this.parts = [all]
        this.buffered = all.length
        return
      }
      if (r.offset < all.length) {
        this.parts = [all.subarray(r.offset)]
        this.buffered = all.length - r.offset
      }
      onCommand(c)
    }
  }

  /** Removes the first 4 buffered bytes and reads them as a big-endian int (the size prefix). */
  private takeInt32(): number {
    const first = this.parts[0]!
    if (first.length < 4) {
      const b = this.take(4)
      return (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!
    }
    const v = (first[0]! << 24) | (first[1]! << 16) | (first[2]! << 8) | first[3]!
    if (first.length === 4) this.parts.shift()
    else this.parts[0] = first.subarray(4)
    this.buffered -= 4
    return v
  }

  /** Removes and returns the first `n` buffered bytes (a view when one part holds them, else a copy). */
  private take(n: number): Uint8Array {
    const first = this.parts[0]!
    let out: Uint8Array
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.parts.shift()
      else this.parts[0] = first.subarray(n)
    } else {
      out = new Uint8Array(n)
      let at = 0
      while (at < n) {
        const p = this.parts[0]!
        const k = Math.min(p.length, n - at)
        out.set(p.subarray(0, k), at)
        at += k
        if (k === p.length) this.parts.shift()
        else this.parts[0] = p.subarray(k)
      }
    }
    this.buffered -= n
    return out
  }
}

/** Encodes one command as a frame (with its size prefix unless disabled). */
export function encodeFrame(c: Command, opts: FrameOptions): Uint8Array {
  const w = new DataWriter(Math.min(opts.maxFrameSize, FRAME_BYTES_CEILING) + (opts.sizePrefixDisabled ? 0 : 4))
  encodeFrameInto(w, c, opts)
  return w.toBytes()
}

/** Encodes one command as a frame into `w`, which is reset first (a connection reuses one writer). */
export function encodeFrameInto(w: DataWriter, c: Command, opts: FrameOptions): void {
  const max = Math.min(opts.maxFrameSize, FRAME_BYTES_CEILING)
  const prefix = opts.sizePrefixDisabled ? 0 : 4
  w.reset(max + prefix)
  if (prefix > 0) w.i32(0)
  writeStructure(w, c, opts)
  if (prefix > 0) w.patchI32(0, w.length - 4)
}
