/**
 * MessageQueue: the unit of point-to-point delivery. One instance backs a queue (`/queue/X`, `/temp-queue/X`, the
 * DLQ), a durable topic subscription (store key `durable://<clientId>:<name>`) or a non-durable topic
 * subscription (memory only). It owns: pending messages by priority, its consumers (the choice among them,
 * credit, priority, round robin, exclusive consumer, message groups, selectors, is ./consumer-picker.ts), expiry at
 * dispatch, and paging persistent messages in from the store. It does not own store batches, acks across
 * sessions, or memory limits: those belong to the host (the Broker).
 *
 * Paging: a queue is "paging" while some of its persistent messages live only in the store (which ones, and
 * loading them back, is ./paged-cursor.ts). While paging, every new persistent message is paged too (keeps the
 * per-producer order); non-persistent messages are held in memory and may overtake paged ones (as ActiveMQ's
 * separate persistent/non-persistent cursors do). Priority order holds within what is in memory, not across pages.
 */
import type { PersistenceAdapter, StoredMessage } from '../storage/types.ts'
import type { Clock } from '../lib/clock.ts'
import { assert } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { Consumer, InFlight } from './consumer.ts'
import type { Delivery } from './types.ts'
import type { DestinationName } from './destination.ts'
import { EntryList, type QueueEntry } from './entry-list.ts'
import { isExpired } from '../model/index.ts'
import { brokerMessage, deliveredMessage, type BrokerMessage } from './message.ts'
import { LEAD_PAGE_SIZE, PAGE_SIZE, PagedCursor, type PagedSnapshot } from './paged-cursor.ts'
import type { Selector } from './selector.ts'
import { ConsumerPicker, NO_CREDIT } from './consumer-picker.ts'

export type { Consumer, ConsumerSession, InFlight } from './consumer.ts'
export type { QueueEntry } from './entry-list.ts'

const log = logger('broker')

/** Messages delivered per dispatch run before yielding to I/O. */
export const DISPATCH_BATCH_MAX = 1000
/** Pending messages a dispatch run may skip (no matching consumer) before it stops: bounds selector scans. */
export const DISPATCH_SCAN_MAX = 5000

export type QueueKind = 'queue' | 'temp-queue' | 'durable' | 'subscription'

/** What queues need from the broker. */
export interface QueueHost {
  readonly clock: Clock
  readonly store: PersistenceAdapter | null
  /** Seqs below this were written before this broker started (the recovered range); Infinity when unknown. */
  readonly seqBoundary: number
  readonly stopped: boolean
  /** Charge a message held in memory without waiting (page-in, route-time holds of pageable messages). */
  chargeNow(msg: BrokerMessage, destination: string): void
  /** Drop one memory reference; releases the charge at zero. */
  unref(msg: BrokerMessage): void
  /** Remove a stored message (acked), batched with other removes. */
  removeStored(key: string, seq: number): Promise<void>
  /** Expired at dispatch or in the sweep: to the DLQ when persistent, else dropped. The entry is already unlisted. */
  expire(entry: QueueEntry): void
  memoryHigh(destination: string): boolean
  /** A store failure the node must act on (self-fence). */
  storeFailed(err: unknown): void
}

export class MessageQueue {
  private readonly buckets: EntryList[] = Array.from({ length: 10 }, () => new EntryList())
  /** The consumers and the choice among them. */
  private readonly picker = new ConsumerPicker()
  private dispatchScheduled = false
  private dispatchTimer: unknown = null
  /** Delivered and not yet finally acked (includes transaction-acked entries awaiting COMMIT). */
  inflightCount = 0
  deleted = false
  /** Persistent messages that live only in the store (see file comment). */
  private readonly cursor = new PagedCursor()
  private loading = false
  /** Whether a page-in ran yet: the first one reads LEAD_PAGE_SIZE messages. */
  private pagedInOnce = false
  // Metrics.
  enqueued = 0
  dequeued = 0
  expired = 0
  /** Topic subscriptions: the filter applied when the topic routes a message here. */
  subSelector: Selector | null = null
  /** Non-durable noLocal: the subscriber's session id; durable noLocal: its client id. */
  noLocalSessionId: string | null = null
  noLocalClientId: string | null = null

  constructor(
    private readonly host: QueueHost,
    readonly kind: QueueKind,
    /** The queue, or the topic (or wildcard filter) of a subscription. */
    readonly dest: DestinationName,
    /** Store key, or null for memory-only queues. */
    readonly key: string | null,
  ) {}

  /** Consumers by priority (desc), then arrival. */
  get consumers(): readonly Consumer[] {
    return this.picker.consumers
  }

  /** The label of `dest` (metrics, memory usage keys, logs). */
  get destination(): string {
    return this.dest.label
  }

  get pendingCount(): number {
    let n = 0
    for (const b of this.buckets) n += b.size
    return n
  }

  get pagedCount(): number {
    return this.cursor.count
  }

  /** Messages not yet acked: in memory, paged out, or delivered and unacked (ActiveMQ's QueueSize). */
  depth(): number {
    return this.pendingCount + this.pagedCount + this.inflightCount
  }

  isPaging(): boolean {
    return this.cursor.isPaging()
  }

  /** Recovery: `count` stored messages below the seq boundary belong to this queue. */
  startRecoveredRange(count: number): void {
    this.cursor.startRecoveredRange(count)
  }

  /** Hold a message in memory (the caller charged memory or will via host.chargeNow). */
  enqueue(msg: BrokerMessage, seq: number): void {
    if (this.deleted) return
    msg.refs++
    const e: QueueEntry = { msg, seq, redeliveries: 0, queue: this, prev: null, next: null, listed: false }
    this.buckets[msg.message.priority]!.push(e)
    this.enqueued++
    this.scheduleDispatch()
  }

  /** A persistent message that stays in the store until paged in. */
  enqueuePaged(seq: number): void {
    if (this.deleted) return
    assert(this.key !== null, 'paging a memory-only queue')
    this.cursor.add(seq)
    this.enqueued++
    this.scheduleDispatch()
  }

  /** A delivered message comes back (consumer closed, transaction aborted): head of its priority, redelivered. */
  returnEntry(e: QueueEntry): void {
    this.inflightCount--
    if (this.deleted) {
      this.host.unref(e.msg)
      return
    }
    e.redeliveries++
    this.buckets[e.msg.message.priority]!.unshift(e)
    this.scheduleDispatch()
  }

  /** The entry was acked for good. `storeDone`: the caller already removed it from the store in its batch. */
  finalize(e: QueueEntry, storeDone: boolean): Promise<void> | null {
    this.inflightCount--
    this.dequeued++
    this.host.unref(e.msg)
    if (!storeDone && e.seq > 0 && this.key !== null && !this.deleted) return this.host.removeStored(this.key, e.seq)
    return null
  }

  /** An entry leaves without being consumed (sent to the DLQ): counts as dequeued, like ActiveMQ. */
  discardInflight(e: QueueEntry): void {
    this.inflightCount--
    this.dequeued++
    this.host.unref(e.msg)
  }

  addConsumer(c: Consumer): void {
    this.picker.add(c)
    this.scheduleDispatch()
  }

  removeConsumer(c: Consumer): void {
    this.picker.remove(c)
    this.scheduleDispatch()
  }

  /** Drop everything (temp destination deleted, durable subscription removed, non-durable subscription closed). */
  delete(): void {
    this.deleted = true
    this.host.clock.clearTimeout(this.dispatchTimer)
    for (const b of this.buckets) {
      while (b.head) {
        const e = b.head
        b.remove(e)
        this.host.unref(e.msg)
      }
    }
    this.cursor.clear()
  }

  /** In-memory pending entries, highest priority first (browser snapshots). */
  snapshot(): QueueEntry[] {
    const out: QueueEntry[] = []
    for (let p = 9; p >= 0; p--) for (let e = this.buckets[p]!.head; e; e = e.next) out.push(e)
    return out
  }

  /** What a browser needs to read paged messages without disturbing the queue. */
  pagedSnapshot(): PagedSnapshot {
    return this.cursor.snapshot()
  }

  /**
   * Management (#18): an in-memory pending entry leaves the queue undelivered (an operator deleted or moved it).
   * False when it is no longer pending here. Counted as dequeued (ActiveMQ's removeMessage); the caller releases
   * its memory reference and store record.
   */
  takeEntry(e: QueueEntry): boolean {
    if (!e.listed || e.queue !== this || this.deleted) return false
    this.buckets[e.msg.message.priority]!.remove(e)
    this.dequeued++
    return true
  }

  /**
   * Management (#18): stored message `seq` leaves the queue undelivered if it is still waiting paged out here
   * (false otherwise). The caller removes its store record; page-in never loads it after this returns true.
   */
  takePaged(seq: number): boolean {
    if (this.deleted || !this.cursor.take(seq, this.host.seqBoundary)) return false
    this.dequeued++
    return true
  }

  /** Remove expired in-memory pending messages (the periodic sweep). */
  sweepExpired(nowMs: number): number {
    let n = 0
    for (const b of this.buckets) {
      for (let e = b.head; e; ) {
        const next = e.next
        if (isExpired(e.msg.message, nowMs)) {
          b.remove(e)
          this.expired++
          this.host.expire(e)
          n++
        }
        e = next
      }
    }
    return n
  }

  scheduleDispatch(): void {
    if (this.dispatchScheduled || this.deleted) return
    this.dispatchScheduled = true
    queueMicrotask(() => this.dispatch())
  }

  private deliver(c: Consumer, e: QueueEntry): void {
    this.inflightCount++
    const recovered = e.recovered === true
    const message = deliveredMessage(e.msg.message, e.redeliveries, recovered)
    const redelivered = message.redeliveryCount > 0
    const groupFirst = this.picker.groupFirst
    const ackId = c.session.nextAckId()
    if (c.prefetch === 0) c.pullCredit--
    if (c.ack === 'auto') {
      // ActiveMQ STOMP auto ack: acknowledged when dispatched.
      this.finalize(e, false)?.catch(() => {})
    } else {
      const f: InFlight = { ackId, entry: e, consumer: c }
      c.inflight.set(ackId, f)
      c.session.trackInflight(f)
    }
    try {
      const d: Delivery = { subscriptionId: c.id, ackId, message, redelivered }
      if (groupFirst) d.groupFirst = true
      c.onDelivery(d)
    } catch (err) {
      log.error(`delivery callback of subscription ${c.id} threw`, err)
    }
  }

  /** Hand pending messages to consumers with credit. Runs from a microtask; yields after DISPATCH_BATCH_MAX. */
  dispatch(): void {
    this.dispatchScheduled = false
    if (this.deleted || this.host.stopped) return
    if (this.picker.consumers.length > 0) {
      const now = this.host.clock.now()
      let delivered = 0
      let scanned = 0
      outer: for (let p = 9; p >= 0; p--) {
        const b = this.buckets[p]!
        let e = b.head
        while (e) {
          const next = e.next
          if (isExpired(e.msg.message, now)) {
            b.remove(e)
            this.expired++
            this.host.expire(e)
            e = next
            continue
          }
          const c = this.picker.pick(e)
          if (c === NO_CREDIT) break outer
          if (c) {
            b.remove(e)
            this.deliver(c, e)
            if (this.deleted) return
            if (++delivered >= DISPATCH_BATCH_MAX) {
              this.dispatchScheduled = true
              this.dispatchTimer = this.host.clock.setTimeout(() => this.dispatch(), 0)
              return
            }
            // A callback may have changed the list (close, redelivery): restart the bucket if `next` left it.
            e = next && next.listed && next.queue === this ? next : b.head
          } else {
            if (++scanned >= DISPATCH_SCAN_MAX) break outer
            e = next
          }
        }
      }
    }
    this.maybePageIn()
  }

  private maybePageIn(): void {
    if (this.loading || this.deleted || !this.isPaging() || this.host.stopped) return
    const pending = this.pendingCount
    if (this.picker.consumers.length === 0 || pending >= PAGE_SIZE) return
    // Memory above the high-water mark: page in only when nothing is left to dispatch (progress, bounded).
    if (pending > 0 && this.host.memoryHigh(this.destination)) return
    const store = this.host.store
    assert(store && this.key, 'paging without a store key')
    this.loading = true
    const pageSize = this.pagedInOnce ? PAGE_SIZE : LEAD_PAGE_SIZE
    this.pagedInOnce = true
    this.cursor
      .pageIn(
        store,
        this.key,
        () => this.host.seqBoundary,
        () => this.deleted,
        (m, recovered) => this.hold(m, recovered),
        pageSize,
      )
      .catch((err) => {
        if (!this.host.stopped) this.host.storeFailed(err)
      })
      .finally(() => {
        this.loading = false
        this.scheduleDispatch()
      })
  }

  private hold(m: StoredMessage, recovered: boolean): void {
    const msg = brokerMessage(m.message)
    this.host.chargeNow(msg, this.destination)
    msg.refs++
    const e: QueueEntry = {
      msg,
      seq: m.seq,
      redeliveries: 0,
      recovered,
      queue: this,
      prev: null,
      next: null,
      listed: false,
    }
    this.buckets[msg.message.priority]!.push(e)
  }
}
