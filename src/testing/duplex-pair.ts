/**
 * Test-only: two connected in-memory byte streams, each a DuplexPort (src/protocol/stomp/duplex-port.ts) with a
 * socket's flow control: bytes written count in the writer's `writableLength` until the peer reads them, write()
 * returns false at `highWaterMark` and 'drain' follows once the peer has read below it; a paused end reads
 * nothing (bytes wait, in order). Delivery happens on a later turn (setImmediate), never inside write().
 * No packet loss, no partial writes: what a unit test needs to run a connection without a kernel.
 */
import { EventEmitter } from 'node:events'

/** Default bytes a writer may have unread by its peer before write() returns false (node's socket default). */
export const DUPLEX_PAIR_HIGH_WATER_MARK = 16 * 1024

export interface DuplexPairOptions {
  highWaterMark?: number
  /** Remote address and port each end reports (a: the client, b: the server). */
  addressA?: string
  addressB?: string
}

export class MemoryDuplex extends EventEmitter {
  destroyed = false
  /** end() was called: nothing more is written; the peer sees 'end' once it has read everything. */
  ended = false
  /** The peer ended and everything it wrote has been read. */
  peerEnded = false
  private paused = false
  private peer!: MemoryDuplex
  /** Written by this end, not yet read by the peer. */
  private unread: Buffer[] = []
  private unreadBytes = 0
  private mustDrain = false
  private deliveryScheduled = false

  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
    private readonly highWaterMark: number,
  ) {
    super()
  }

  static pair(opts: DuplexPairOptions = {}): [MemoryDuplex, MemoryDuplex] {
    const hwm = opts.highWaterMark ?? DUPLEX_PAIR_HIGH_WATER_MARK
    const a = new MemoryDuplex(opts.addressB ?? '10.0.0.2', 61613, hwm)
    const b = new MemoryDuplex(opts.addressA ?? '10.0.0.1', 40000, hwm)
    a.peer = b
    b.peer = a
    return [a, b]
  }

  get writableLength(): number {
    return this.unreadBytes
  }

  /** Bytes the peer wrote that this end has not read (it is paused). */
  get readableLength(): number {
    return this.peer.unreadBytes
  }

  write(bytes: Buffer | string): boolean {
    if (this.destroyed || this.ended) return false
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes
    if (b.length > 0) {
      this.unread.push(b)
      this.unreadBytes += b.length
      this.peer.scheduleRead()
    }
    if (this.unreadBytes >= this.highWaterMark) this.mustDrain = true
    return !this.mustDrain
  }

  pause(): this {
    this.paused = true
    return this
  }

  resume(): this {
    this.paused = false
    this.scheduleRead()
    return this
  }

  isPaused(): boolean {
    return this.paused
  }

  end(): this {
    if (this.destroyed || this.ended) return this
    this.ended = true
    this.peer.scheduleRead()
    return this
  }

  /** Close both ends now (a reset): what is unread is dropped; 'close' on each, on a later turn. */
  destroy(): this {
    if (this.destroyed) return this
    this.destroyed = true
    this.unread = []
    this.unreadBytes = 0
    setImmediate(() => this.emit('close'))
    this.peer.destroy()
    return this
  }

  setNoDelay(): this {
    return this
  }

  private scheduleRead(): void {
    if (this.deliveryScheduled) return
    this.deliveryScheduled = true
    setImmediate(() => {
      this.deliveryScheduled = false
      this.read()
    })
  }

  /** Read what the peer wrote, one 'data' per write, while not paused. */
  private read(): void {
    const peer = this.peer
    while (!this.paused && !this.destroyed && peer.unread.length > 0) {
      const chunk = peer.unread.shift()!
      peer.unreadBytes -= chunk.length
      this.emit('data', chunk)
    }
    if (peer.mustDrain && peer.unreadBytes < peer.highWaterMark && !peer.destroyed) {
      peer.mustDrain = false
      peer.emit('drain')
    }
    if (peer.ended && peer.unread.length === 0 && !this.paused && !this.peerEnded && !this.destroyed) {
      this.peerEnded = true
      this.emit('end')
      // As a socket without allowHalfOpen: a FIN is answered with a FIN, and once both are read the pair closes.
      if (this.ended) this.destroy()
      else this.end()
    }
  }
}

/** A connected pair: [client end, server end]. */
export function duplexPair(opts: DuplexPairOptions = {}): [MemoryDuplex, MemoryDuplex] {
  return MemoryDuplex.pair(opts)
}
