/**
 * FrameWriter: the bytes one OpenWire connection writes. Each command is encoded into one reused DataWriter and
 * copied once into the current join buffer; the frames of one event-loop turn go to the socket together (one write
 * per join buffer of at most JOIN_BYTES_MAX, many MessageDispatch frames per syscall). A frame larger than that is
 * handed over as its own buffer, uncopied. Flow control: past `outBytesMax` held here and in the socket's buffer,
 * the connection's dispatch is paused until the socket drains to half of it. Knows nothing of commands' meaning.
 */
import { type ByteSocket, JOIN_BYTES_MAX } from '../../net/index.ts'
import type { Command } from './commands.ts'
import { DataWriter } from './data-writer.ts'
import { encodeFrameInto, type FrameOptions } from './frame-codec.ts'

/**
 * A turn that wrote at most this much copies it out and keeps its join buffer: a fresh 64 KiB buffer per turn
 * for one small answer cost more (its pages faulted in) than the frames' encoding.
 */
const JOIN_KEEP_BYTES_MAX = 16 * 1024

/** What the writer asks of its connection. */
export interface FrameWriterHost {
  /** Dispatch to this connection stops (true) or goes on (false). */
  setDispatchPaused(paused: boolean): void
}

export class FrameWriter {
  private readonly scratch = new DataWriter(JOIN_BYTES_MAX)
  /** Buffers ready for this turn's socket writes, in order. */
  private ready: Uint8Array[] = []
  private readyBytes = 0
  /** The join buffer being filled, and how much of it is. */
  private join: Buffer | null = null
  private joinUsed = 0
  private flushScheduled = false
  private paused = false
  private ended = false

  constructor(
    private readonly socket: ByteSocket,
    private readonly outBytesMax: number,
    private readonly host: FrameWriterHost,
  ) {}

  /** Bytes held here and in the socket's buffer. */
  get backlogBytes(): number {
    return this.readyBytes + this.joinUsed + (this.socket.writableLength ?? 0)
  }

  /** Encodes `c` and queues its frame for this turn's write. Throws what the encoder throws (nothing queued). */
  write(c: Command, opts: FrameOptions): void {
    if (this.ended) return
    const w = this.scratch
    encodeFrameInto(w, c, opts)
    const n = w.length
    if (n > JOIN_BYTES_MAX) {
      this.closeJoin()
      this.ready.push(w.detach())
      this.readyBytes += n
    } else {
      if (this.join !== null && this.joinUsed + n > JOIN_BYTES_MAX) this.closeJoin()
      if (this.join === null) this.join = Buffer.allocUnsafe(JOIN_BYTES_MAX)
      this.join.set(w.toBytes(), this.joinUsed)
      this.joinUsed += n
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flush())
    }
    if (!this.paused && this.backlogBytes > this.outBytesMax) {
      this.paused = true
      this.host.setDispatchPaused(true)
    }
  }

  private closeJoin(): void {
    if (this.join === null || this.joinUsed === 0) return
    this.readyBytes += this.joinUsed
    if (this.joinUsed <= JOIN_KEEP_BYTES_MAX) {
      // A few frames (an answer, one dispatch): copied out, and the warm join buffer is kept for the next turn.
      this.ready.push(Buffer.from(this.join.subarray(0, this.joinUsed)))
    } else {
      // The unused tail is left to the allocator with the buffer; a copy to trim it would cost more than it saves.
      this.ready.push(this.join.subarray(0, this.joinUsed))
      this.join = null
    }
    this.joinUsed = 0
  }

  /** Hands everything queued to the socket (at the turn's end, or before the socket is ended). */
  flush(): void {
    this.flushScheduled = false
    this.closeJoin()
    const ready = this.ready
    this.ready = []
    this.readyBytes = 0
    if (this.ended) return
    for (const b of ready) this.socket.write(b)
    this.maybeResume()
  }

  /** The socket drained: dispatch goes on once the backlog is at most half of outBytesMax. */
  onDrain(): void {
    this.maybeResume()
  }

  private maybeResume(): void {
    if (this.paused && this.backlogBytes <= this.outBytesMax / 2) {
      this.paused = false
      this.host.setDispatchPaused(false)
    }
  }

  /** Writes what is queued, then nothing more is accepted. */
  end(): void {
    if (this.ended) return
    this.flush()
    this.ended = true
  }

  /** The socket is gone: what was queued is dropped. */
  discard(): void {
    this.ended = true
    this.ready = []
    this.readyBytes = 0
    this.join = null
    this.joinUsed = 0
  }
}
