/**
 * Test kit: an in-memory socket pair. `socketPair()` returns two connected `Duplex` ends: bytes written to one are
 * read from the other, in order, asynchronously (as from a socket, never within the write call). `end()` on one
 * side ends the other's readable; `destroy(err?)` on one side closes both, the peer with a 'close' and no error
 * (as a reset reads to the far end of a TCP socket). Backpressure is the streams' own highWaterMark; nothing
 * here buffers beyond it. Tests only.
 */
import { Duplex } from 'node:stream'

/** One end of a socketPair: a Duplex with the peer it writes to. */
export class PairSocket extends Duplex {
  peer: PairSocket | null = null
  /** Bytes this end has written, for tests that assert what went out. */
  bytesWritten = 0

  override _read(): void {
    // Data is pushed by the peer's _write; nothing to pull.
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    if (!peer || peer.destroyed) {
      cb(new Error('socket pair: the peer is closed'))
      return
    }
    this.bytesWritten += chunk.length
    // Delivered on a later tick, like a socket: a reader never runs inside the writer's call.
    queueMicrotask(() => {
      if (!peer.destroyed) peer.push(chunk)
      cb()
    })
  }

  override _final(cb: (err?: Error | null) => void): void {
    const peer = this.peer
    queueMicrotask(() => {
      if (peer && !peer.destroyed) peer.push(null)
      cb()
    })
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    this.peer = null
    if (peer) {
      peer.peer = null
      if (!peer.destroyed) queueMicrotask(() => peer.destroy())
    }
    cb(err)
  }
}

/** Two connected ends, `[a, b]`: what a writes, b reads, and back. */
export function socketPair(opts: { highWaterMark?: number } = {}): [PairSocket, PairSocket] {
  const a = new PairSocket({ highWaterMark: opts.highWaterMark })
  const b = new PairSocket({ highWaterMark: opts.highWaterMark })
  a.peer = b
  b.peer = a
  return [a, b]
}
