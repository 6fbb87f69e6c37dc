/**
 * OutboundWriter: the bytes one connection writes, and the flow control of that direction. Writes of one
 * event-loop turn are joined into one port write (many MESSAGE frames per syscall): a frame given as head and body
 * (writeFrame) is copied once, straight into that write's buffer; bodies over OUT_SLICE_BYTES go out uncopied, at
 * most OUT_TURN_BYTES per turn; while the port's buffer is full (write() returned false) or
 * more than `outBytesMax` is queued for it, the session's dispatch is paused. Knows nothing of frames or outcomes.
 */
import type { BrokerSession } from '../../broker/types.ts'
import type { Clock } from '../../lib/clock.ts'
import { idleGc } from '../../lib/idle-gc.ts'
import { JOIN_BYTES_MAX } from '../../net/index.ts'
import type { DuplexPort } from './duplex-port.ts'
import { frameParts } from './frame-encoder.ts'

/** Bodies over this go out uncopied, handed to the port this many bytes per write (see pumpOut). */
export const OUT_SLICE_BYTES = 1024 * 1024
/** Bytes handed to the port per event-loop turn before pumpOut yields (one slice of a large body). */
const OUT_TURN_BYTES = OUT_SLICE_BYTES
/** While dispatch is paused on a port that accepted every write but still buffers, recheck this often. */
const RESUME_RECHECK_MS = 10

/** A frame not yet encoded: its head (command, headers, blank line) and body; the NUL is added when written. */
class PendingFrame {
  constructor(
    readonly head: string,
    readonly headBytes: number,
    readonly body: Uint8Array,
  ) {}
}

/** What the writer asks of its connection. */
export interface OutboundHost {
  /** Nothing more is written (the connection ended or closed). */
  writesEnded(): boolean
  /** The port is gone. */
  closed(): boolean
  /** The session whose dispatch is paused and resumed, while there is one. */
  session(): BrokerSession | null
}

export class OutboundWriter {
  /** When a frame was last written (heart-beats are sent only after silence). */
  lastWriteAt: number
  private chunks: (Buffer | PendingFrame)[] = []
  private chunksBytes = 0
  /** Flushed but not yet handed to the port (large bodies go in slices, see pumpOut). */
  private queue: Buffer[] = []
  private queued = 0
  private waitingDrain = false
  private endAfterFlush = false
  private flushScheduled = false
  private dispatchPaused = false
  /** A pumpOut is queued for the next turn (the last one stopped at OUT_TURN_BYTES). */
  private pumpScheduled = false
  private resumeTimer: unknown = null

  constructor(
    private readonly port: DuplexPort,
    private readonly clock: Clock,
    private readonly outBytesMax: number,
    private readonly host: OutboundHost,
  ) {
    this.lastWriteAt = clock.now()
  }

  write(bytes: Buffer): void {
    if (this.host.writesEnded()) return
    this.chunks.push(bytes)
    this.chunksBytes += bytes.length
    this.lastWriteAt = this.clock.now()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushNow())
    }
  }

  /**
   * A frame from its head (as frameHead writes it: command line, header lines, blank line) and body. A body up to
   * OUT_SLICE_BYTES is copied once, into this turn's joined write; a larger one goes out uncopied (frameParts).
   */
  writeFrame(head: string, body: Uint8Array): void {
    if (body.length > OUT_SLICE_BYTES) {
      for (const part of frameParts(head, body)) this.write(part)
      return
    }
    if (this.host.writesEnded()) return
    const headBytes = Buffer.byteLength(head, 'utf8')
    this.chunks.push(new PendingFrame(head, headBytes, body))
    this.chunksBytes += headBytes + body.length + 1
    this.lastWriteAt = this.clock.now()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushNow())
    }
  }

  /** Nothing written is waiting (this turn's frames and the queue are empty): a heart-beat may go out. */
  idle(): boolean {
    return this.chunks.length === 0 && this.queue.length === 0
  }

  /** Half-close the port once the queue is handed over (large bodies may still be going out in slices). */
  endAfterQueue(): void {
    if (this.queue.length > 0) this.endAfterFlush = true
    else this.port.end()
  }

  /** The port is gone: drop what was not written. */
  discard(): void {
    this.chunks = []
    this.chunksBytes = 0
    this.queue = []
    this.queued = 0
  }

  /** After a MESSAGE: a consumer that does not read gets no more once outBytesMax is queued for its port. */
  pauseIfBacklogged(): void {
    if (this.dispatchPaused) return
    const session = this.host.session()
    if (session && this.outBytes() > this.outBytesMax) {
      this.dispatchPaused = true
      session.setDispatchPaused(true)
    }
  }

  onDrain(): void {
    this.waitingDrain = false
    this.pumpOut()
  }

  /** Bytes held for this port: this turn's frames, the queue and the port's own buffer. */
  private outBytes(): number {
    return this.chunksBytes + this.queued + (this.port.writableLength ?? 0)
  }

  flushNow(): void {
    this.flushScheduled = false
    if (this.chunks.length === 0 || this.host.writesEnded() || this.port.destroyed) {
      this.chunks = []
      this.chunksBytes = 0
      return
    }
    // Small frames of one turn are joined (one syscall); a large body is queued as it is, never copied.
    let small: (Buffer | PendingFrame)[] = []
    let smallBytes = 0
    const joinSmall = (): void => {
      if (small.length === 1 && !(small[0] instanceof PendingFrame)) this.queue.push(small[0]!)
      else if (small.length > 0) this.queue.push(joined(small, smallBytes))
      small = []
      smallBytes = 0
    }
    for (const b of this.chunks) {
      if (!(b instanceof PendingFrame) && b.length > OUT_SLICE_BYTES) {
        joinSmall()
        this.queue.push(b)
      } else {
        const n = b instanceof PendingFrame ? b.headBytes + b.body.length + 1 : b.length
        if (smallBytes > 0 && smallBytes + n > JOIN_BYTES_MAX) joinSmall()
        small.push(b)
        smallBytes += n
      }
    }
    joinSmall()
    this.queued += this.chunksBytes
    this.chunks = []
    this.chunksBytes = 0
    this.pumpOut()
  }

  /**
   * Hand the queue to the port, at most OUT_SLICE_BYTES per write, until the port says its buffer is full;
   * 'drain' goes on. Dispatch is paused meanwhile (a port that does not drain gets no more messages).
   */
  private pumpOut(): void {
    this.pumpScheduled = false
    // At most OUT_TURN_BYTES per event-loop turn: the socket copies what it cannot send at once into its own
    // buffer (fresh pages, ~10 ms/MiB on a loaded VM), so a large body handed over in one turn held the loop.
    let turnBytes = 0
    while (this.queue.length > 0 && !this.waitingDrain) {
      if (turnBytes >= OUT_TURN_BYTES) {
        if (!this.pumpScheduled) {
          this.pumpScheduled = true
          setImmediate(() => this.pumpOut())
        }
        break
      }
      if (this.host.closed() || this.port.destroyed) {
        this.queue = []
        this.queued = 0
        return
      }
      const head = this.queue[0]!
      let piece: Buffer
      if (head.length > OUT_SLICE_BYTES) {
        piece = head.subarray(0, OUT_SLICE_BYTES)
        this.queue[0] = head.subarray(OUT_SLICE_BYTES)
        // A large body handed over: its buffer is garbage once the socket has sent it (see lib/idle-gc.ts).
        idleGc.noteFreed(OUT_SLICE_BYTES)
      } else {
        piece = head
        this.queue.shift()
      }
      this.queued -= piece.length
      turnBytes += piece.length
      if (!this.port.write(piece)) this.waitingDrain = true
    }
    if (this.queue.length === 0 && this.endAfterFlush) {
      this.endAfterFlush = false
      this.port.end()
    }
    if (this.waitingDrain && !this.dispatchPaused) {
      const session = this.host.session()
      if (session) {
        this.dispatchPaused = true
        session.setDispatchPaused(true)
      }
    }
    this.maybeResumeDispatch()
  }

  /**
   * Resume dispatch once the port took our queue and holds at most half of outBytesMax. Without a pending
   * 'drain' to wait for (the port accepted every write but still buffers), check again shortly.
   */
  private maybeResumeDispatch(): void {
    if (!this.dispatchPaused || this.waitingDrain || this.host.closed() || this.queue.length > 0) return
    const session = this.host.session()
    if (!session) return
    if (this.outBytes() <= this.outBytesMax / 2) {
      this.dispatchPaused = false
      session.setDispatchPaused(false)
      return
    }
    if (this.resumeTimer === null) {
      this.resumeTimer = this.clock.setTimeout(() => {
        this.resumeTimer = null
        this.maybeResumeDispatch()
      }, RESUME_RECHECK_MS)
    }
  }
}

/** One buffer holding `parts` in order (`bytes` in all); a pending frame is written as head, body, NUL. */
function joined(parts: (Buffer | PendingFrame)[], bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes)
  let pos = 0
  for (const p of parts) {
    if (p instanceof PendingFrame) {
      pos += out.write(p.head, pos, 'utf8')
      out.set(p.body, pos)
      pos += p.body.length
      out[pos++] = 0
    } else {
      out.set(p, pos)
      pos += p.length
    }
  }
  return out
}
