/**
 * OutcomeQueue: the frames of one connection whose RECEIPT or ERROR is not written yet, in arrival order, and the
 * in-flight window (inFlightFramesMax operations, inFlightBytesMax SEND body bytes awaiting the broker). Each
 * outcome is written after every earlier one, once its own operation settled: a RECEIPT for a SEND means the
 * message is accepted, and an ERROR never overtakes the RECEIPTs of earlier frames. Writing, closing and
 * pausing the input are the connection's (OutcomeHost).
 */
import type { MemoryUsage } from '../../broker/index.ts'
import { isBrokerError, type BrokerError } from '../../lib/errors.ts'
import type { StompFrame } from './frame.ts'

/** One frame waiting for its RECEIPT or ERROR to be written. */
interface Outcome {
  kind: 'op' | 'fail' | 'disconnect'
  frame: StompFrame | null
  done: boolean
  err: unknown
  afterReceipt?: () => void
  /** SEND body bytes counted in inFlightBytes until settled. */
  bytes?: number
  /** Receive-budget bytes of this frame, released when it settles. */
  receiveBytes?: number
}

/** Settled outcomes at the head are dropped by index; past this many the array is compacted. */
const OUTCOMES_COMPACT_AFTER = 1024

export interface OutcomeHost {
  /** Nothing more is written (ended or closed): outcomes are dropped. */
  writesEnded(): boolean
  /** ERROR for a denied operation; the connection stays up. */
  refuse(err: BrokerError, frame: StompFrame | null): void
  /** ERROR, then close. */
  fail(err: unknown, frame: StompFrame | null): void
  /** Write RECEIPT for this receipt id. */
  receipt(receiptId: string): void
  /** The DISCONNECT's turn came (its RECEIPT written): flush and close. */
  disconnected(): void
  /** The window is full: stop reading, unless reading is paused already. */
  windowFull(): void
  /** The window is at most half full again: resume reading if it was paused and the connection accepts input. */
  windowBelowHalf(): void
}

export class OutcomeQueue {
  // A FIFO with a head index: O(1) dequeue.
  private outcomes: Outcome[] = []
  private head = 0
  private inFlight = 0
  private inFlightBytes = 0

  constructor(
    private readonly host: OutcomeHost,
    private readonly inFlightFramesMax: number,
    private readonly inFlightBytesMax: number,
    private readonly receiveUsage: MemoryUsage | null,
  ) {}

  /** An outcome known already (a refusal, a failure, DISCONNECT): written in its turn. */
  pushDone(kind: Outcome['kind'], frame: StompFrame | null, err: unknown): void {
    this.outcomes.push({ kind, frame, done: true, err })
    this.drain()
  }

  /**
   * Queue the outcome of one frame: after every earlier outcome, write RECEIPT (if asked) when `op` resolves
   * (null: the operation already completed synchronously), or ERROR then close when it rejects. `afterReceipt`
   * runs once the receipt is written; `bytes` count in the window and `receiveBytes` of the receive budget are
   * released, when `op` settles.
   */
  enqueue(frame: StompFrame, op: Promise<void> | null, afterReceipt?: () => void, bytes = 0, receiveBytes = 0): void {
    const o: Outcome = { kind: 'op', frame, done: op === null, err: null, afterReceipt, bytes, receiveBytes }
    this.outcomes.push(o)
    if (op === null) {
      this.drain()
      return
    }
    this.inFlight++
    this.inFlightBytes += bytes
    if (this.inFlight >= this.inFlightFramesMax || this.inFlightBytes >= this.inFlightBytesMax) this.host.windowFull()
    // The handler is attached now, so a rejection is never "unhandled" while earlier outcomes are pending.
    op.then(
      () => this.settle(o, null),
      (err: unknown) => this.settle(o, err ?? new Error('operation rejected')),
    )
  }

  private settle(o: Outcome, err: unknown): void {
    o.done = true
    o.err = err
    this.inFlight--
    this.inFlightBytes -= o.bytes ?? 0
    if (o.receiveBytes) {
      this.receiveUsage?.release(o.receiveBytes)
      o.receiveBytes = 0
    }
    this.drain()
    // After the drain: resuming parses more frames, which may append (and drain) outcomes themselves.
    if (this.inFlight <= this.inFlightFramesMax >> 1 && this.inFlightBytes <= this.inFlightBytesMax / 2)
      this.host.windowBelowHalf()
  }

  /** Write the outcomes at the head of the FIFO that are settled, in frame order. */
  private drain(): void {
    // Always through this.outcomes (never a local alias): the compaction below may replace the array.
    while (this.head < this.outcomes.length && this.outcomes[this.head]!.done) {
      const o = this.outcomes[this.head]!
      this.outcomes[this.head++] = undefined as unknown as Outcome
      if (this.host.writesEnded()) continue
      if (o.kind === 'op' && isBrokerError(o.err, 'SECURITY_NOT_AUTHORIZED')) {
        this.host.refuse(o.err, o.frame)
        continue
      }
      if (o.kind === 'fail' || o.err !== null) {
        this.host.fail(o.err, o.frame)
        continue
      }
      const receipt = o.frame?.headers.receipt
      if (receipt !== undefined) this.host.receipt(receipt)
      if (o.kind === 'disconnect') {
        this.host.disconnected()
        continue
      }
      o.afterReceipt?.()
    }
    if (this.head === this.outcomes.length) {
      this.outcomes.length = 0
      this.head = 0
    } else if (this.head > OUTCOMES_COMPACT_AFTER && this.head * 2 > this.outcomes.length) {
      this.outcomes = this.outcomes.slice(this.head)
      this.head = 0
    }
  }
}
