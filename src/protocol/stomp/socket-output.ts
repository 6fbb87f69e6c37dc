/**
 * SocketOutput: what a connection writes to its socket, and the flow control of that direction. Writes of one
 * event-loop turn are joined into one socket write (many MESSAGE frames per syscall); large bodies go out
 * uncopied in slices; when the socket's buffer is full (write() returned false) or more than `outBytesMax` is
 * queued for it, the session's dispatch is paused until it drains. Knows nothing of frames or outcomes.
 */
import type { Socket } from 'node:net'
import type { Clock } from '../../lib/clock.ts'
import { idleGc } from '../../lib/idle-gc.ts'
import type { BrokerSession } from '../../broker/types.ts'

/** Bodies over this go out uncopied, handed to the socket this many bytes per write (see pumpOut). */
export const OUT_SLICE_BYTES = 1024 * 1024
/** Bytes handed to the socket per event-loop turn before pumpOut yields (one slice of a large body). */
const OUT_TURN_BYTES = OUT_SLICE_BYTES

/** What the output asks of its connection. */
export interface OutputHost {
  /** Nothing more is written (the connection ended or closed). */
  writesEnded(): boolean
  /** The socket is gone. */
  closed(): boolean
  /** The session whose dispatch is paused and resumed, if any. */
  session(): Pick<BrokerSession, 'setDispatchPaused'> | null
}

export class SocketOutput {
  /** When the last frame was written (heart-beats are only sent after silence). */
  lastWriteAt: number
  private outChunks: Buffer[] = []
  private outChunksBytes = 0
  /** Written by flushNow but not yet handed to the socket (large bodies go in slices, see pumpOut). */
  private outQueue: Buffer[] = []
  private outQueued = 0
  private waitingDrain = false
  private endAfterFlush = false
  private flushScheduled = false
  private dispatchPaused = false
  /** A pumpOut is queued for the next turn (the last one stopped at OUT_TURN_BYTES). */
  private pumpScheduled = false
  private resumeTimer: unknown = null

  constructor(
    private readonly socket: Socket,
    private readonly clock: Clock,
    private readonly outBytesMax: number,
    private readonly host: OutputHost,
  ) {
    this.lastWriteAt = clock.now()
  }

  write(bytes: Buffer): void {
    if (this.host.writesEnded()) return
    this.outChunks.push(bytes)
    this.outChunksBytes += bytes.length
    this.lastWriteAt = this.clock.now()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushNow())
    }
  }

  /** Nothing written is waiting (this turn's frames and the queue are empty). */
  idle(): boolean {
    return this.outChunks.length === 0 && this.outQueue.length === 0
  }

  /** Half-close the socket once the queued output is handed over (large bodies may still be going out). */
  endAfterQueue(): void {
    if (this.outQueue.length > 0) this.endAfterFlush = true
    else this.socket.end()
  }

  /** The socket is gone: drop what was not written. */
  discard(): void {
    this.outChunks = []
    this.outChunksBytes = 0
    this.outQueue = []
    this.outQueued = 0
  }

  /** After a delivery: a consumer that does not read gets no more once outBytesMax is queued for its socket. */
  pauseIfBacklogged(): void {
    const session = this.host.session()
    if (!this.dispatchPaused && session && this.outBytes() > this.outBytesMax) {
      this.dispatchPaused = true
      session.setDispatchPaused(true)
    }
  }

  onDrain(): void {
    this.waitingDrain = false
    this.pumpOut()
  }

  /** Bytes held for this socket: this turn's frames, the output queue and the socket's own buffer. */
  private outBytes(): number {
    return this.outChunksBytes + this.outQueued + (this.socket.writableLength ?? 0)
  }

  flushNow(): void {
    this.flushScheduled = false
    if (this.outChunks.length === 0 || this.host.writesEnded() || this.socket.destroyed) {
      this.outChunks = []
      this.outChunksBytes = 0
      return
    }
    // Small frames of one turn are joined (one syscall); a large body is queued as it is, never copied.
    let small: Buffer[] = []
    const joinSmall = (): void => {
      if (small.length) this.outQueue.push(small.length === 1 ? small[0]! : Buffer.concat(small))
      small = []
    }
    for (const b of this.outChunks) {
      if (b.length > OUT_SLICE_BYTES) {
        joinSmall()
        this.outQueue.push(b)
      } else small.push(b)
    }
    joinSmall()
    this.outQueued += this.outChunksBytes
    this.outChunks = []
    this.outChunksBytes = 0
    this.pumpOut()
  }

  /**
   * Hand the output queue to the socket, at most OUT_SLICE_BYTES per write, until the socket says its buffer is
   * full; 'drain' goes on. Dispatch is paused meanwhile (a socket that does not drain gets no more messages).
   */
  private pumpOut(): void {
    this.pumpScheduled = false
    // At most OUT_TURN_BYTES per event-loop turn: the socket copies what it cannot send at once into its own
    // buffer (fresh pages, ~10 ms/MiB on a loaded VM), so a large body handed over in one turn held the loop.
    let turnBytes = 0
    while (this.outQueue.length > 0 && !this.waitingDrain) {
      if (turnBytes >= OUT_TURN_BYTES) {
        if (!this.pumpScheduled) {
          this.pumpScheduled = true
          setImmediate(() => this.pumpOut())
        }
        break
      }
      if (this.host.closed() || this.socket.destroyed) {
        this.outQueue = []
        this.outQueued = 0
        return
      }
      const head = this.outQueue[0]!
      let piece: Buffer
      if (head.length > OUT_SLICE_BYTES) {
        piece = head.subarray(0, OUT_SLICE_BYTES)
        this.outQueue[0] = head.subarray(OUT_SLICE_BYTES)
        // A large body handed over: its buffer is garbage once the socket has sent it (see lib/idle-gc.ts).
        idleGc.noteFreed(OUT_SLICE_BYTES)
      } else {
        piece = head
        this.outQueue.shift()
      }
      this.outQueued -= piece.length
      turnBytes += piece.length
      if (!this.socket.write(piece)) this.waitingDrain = true
    }
    if (this.outQueue.length === 0 && this.endAfterFlush) {
      this.endAfterFlush = false
      this.socket.end()
    }
    const session = this.host.session()
    if (this.waitingDrain && !this.dispatchPaused && session) {
      this.dispatchPaused = true
      session.setDispatchPaused(true)
    }
    this.maybeResumeDispatch()
  }

  /**
   * Resume dispatch once the socket took our queue and holds at most half of outBytesMax. Without a pending
   * 'drain' to wait for (the socket accepted every write but still buffers), check again shortly.
   */
  private maybeResumeDispatch(): void {
    const session = this.host.session()
    if (!this.dispatchPaused || this.waitingDrain || !session || this.host.closed() || this.outQueue.length > 0) return
    if (this.outBytes() <= this.outBytesMax / 2) {
      this.dispatchPaused = false
      session.setDispatchPaused(false)
      return
    }
    if (this.resumeTimer === null) {
      this.resumeTimer = this.clock.setTimeout(() => {
        this.resumeTimer = null
        this.maybeResumeDispatch()
      }, 10)
    }
  }
}
