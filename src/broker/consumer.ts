/**
 * Consumer: one subscription's receiving end on a MessageQueue: its ack mode, prefetch (credit), consumer
 * priority, exclusivity, selector, delivery callback and the deliveries it has not had acked yet. The queue
 * chooses among consumers (./queue.ts); the session acks (./session.ts). ConsumerSession is all a consumer sees
 * of its session.
 */
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

export class Consumer {
  /** Delivered and not yet acked (nor acked inside an open transaction), in delivery order. */
  readonly inflight = new Map<string, InFlight>()
  closed = false
  constructor(
    readonly session: ConsumerSession,
    readonly id: string,
    readonly queue: MessageQueue,
    readonly ack: AckMode,
    readonly prefetch: number,
    readonly priority: number,
    readonly exclusive: boolean,
    /** Evaluated at dispatch (queues); topic subscriptions filter at routing instead and pass null. */
    readonly selector: Selector | null,
    readonly onDelivery: (d: Delivery) => void,
  ) {}

  hasCredit(): boolean {
    return !this.closed && !this.session.paused && this.inflight.size < this.prefetch
  }
}
