/**
 * Consumer: one subscription's receiving end on a MessageQueue: its ack mode, prefetch (credit), consumer
 * priority, exclusivity, selector, delivery callback and the deliveries it has not had acked yet. With prefetch 0 its
 * credit is what pulls granted (`pullCredit`), not a window. The queue
 * chooses among consumers (./queue.ts); the session acks (./session.ts). ConsumerSession is all a consumer sees
 * of its session.
 */
import { BrokerError } from '../lib/errors.ts'
import type { AckMode, Delivery } from './types.ts'
import type { QueueEntry } from './entry-list.ts'
import type { MessageQueue } from './queue.ts'
import type { Selector } from './selector.ts'

/** What a consumer's session exposes to queues. */
export interface ConsumerSession {
  readonly sessionId: string
  readonly paused: boolean
  nextAckId(): string
  trackInflight(f: InFlight): void
}

export interface InFlight {
  ackId: string
  entry: QueueEntry
  consumer: Consumer
}

/** One-shot pull credit a prefetch 0 consumer may hold at once (what pull() may grant beyond what is unused). */
export const PULL_CREDIT_MAX = 1_000_000

export class Consumer {
  /** Delivered and not yet acked (nor acked inside an open transaction), in delivery order. */
  readonly inflight = new Map<string, InFlight>()
  closed = false
  /** Prefetch 0 only: deliveries granted by pulls and not made yet; each delivery uses one. */
  pullCredit = 0
  constructor(
    readonly session: ConsumerSession,
    readonly id: string,
    readonly queue: MessageQueue,
    readonly ack: AckMode,
    /** Unacked deliveries it may hold; 0: none without a pull (pull mode). Changed by ConsumerControl. */
    public prefetch: number,
    readonly priority: number,
    readonly exclusive: boolean,
    /** Evaluated at dispatch (queues); topic subscriptions filter at routing instead and pass null. */
    readonly selector: Selector | null,
    readonly onDelivery: (d: Delivery) => void,
  ) {}

  /** A pull grants `count` more deliveries (prefetch 0 only; the caller checked), up to PULL_CREDIT_MAX unused. */
  grantPull(count: number): void {
    if (!Number.isSafeInteger(count) || count < 1 || count > PULL_CREDIT_MAX - this.pullCredit)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `PULL ${JSON.stringify(this.id)}: count ${count} is not a whole number from 1 to ${PULL_CREDIT_MAX - this.pullCredit} (credit ${this.pullCredit} of ${PULL_CREDIT_MAX} already granted)`,
        { details: { id: this.id, count } },
      )
    this.pullCredit += count
    this.queue.scheduleDispatch()
  }

  hasCredit(): boolean {
    if (this.closed || this.session.paused) return false
    return this.prefetch > 0 ? this.inflight.size < this.prefetch : this.pullCredit > 0
  }
}
