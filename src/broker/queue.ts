/**
 * MessageQueue: the unit of point-to-point delivery. One instance backs a queue (`/queue/X`, `/temp-queue/X`, the
 * DLQ), a durable topic subscription (store key `durable://<clientId>:<name>`) or a non-durable topic
 * subscription (memory only). It owns: pending messages by priority, its consumers and the choice among them
 * (credit/prefetch, consumer priority, round robin, exclusive consumer, message groups, selectors), expiry at
 * dispatch, and paging persistent messages in from the store. It does not own store batches, acks across
 * sessions, or memory limits: those belong to the host (the Broker).
 *
 * Paging: a queue is "paging" while some of its persistent messages live only in the store. Two kinds exist:
 * the recovered range (every stored message with seq below the broker's boundary, i.e. written before this
 * broker started) and an explicit sorted list of seqs paged since. A page-in loads `pageSize` messages with
 * `store.load` and keeps only those it knows to be paged, so a message whose write resolved but whose routing
 * is still pending is never loaded twice. While paging, every new persistent message is paged too (keeps the
 * per-producer order); non-persistent messages are held in memory and may overtake paged ones (as ActiveMQ's
 * separate persistent/non-persistent cursors do). Priority order holds within what is in memory, not across pages.
 */
import type { AckMode, Delivery } from './types.ts'
import type { PersistenceAdapter, StoredMessage } from '../storage/types.ts'
import type { Clock } from '../lib/clock.ts'
import { assert } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { isExpired, messageFromStored, type BrokerMessage } from './message.ts'
import type { Selector } from './selector.ts'

const log = logger('broker')

/** Messages delivered per dispatch run before yielding to I/O. */
export const DISPATCH_BATCH_MAX = 1000
/** Pending messages a dispatch run may skip (no matching consumer) before it stops: bounds selector scans. */
export const DISPATCH_SCAN_MAX = 5000
/** Messages loaded per page-in (ActiveMQ's maxPageSize is 200). Page-in starts when fewer are pending in memory. */
export const PAGE_SIZE = 200

export type QueueKind = 'queue' | 'temp-queue' | 'durable' | 'subscription'

export interface QueueEntry {
  msg: BrokerMessage
  /** Store seq under this queue's key; 0 when not stored there. */
  seq: number
  redeliveries: number
  /** Recovered from a store written by an earlier primary, which may have dispatched it already: the new
   *  primary cannot tell, so its first delivery says redelivered:true (JMS: "may have been delivered before"). */
  recovered?: boolean
  queue: MessageQueue
  prev: QueueEntry | null
  next: QueueEntry | null
  listed: boolean
}

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

class EntryList {
  head: QueueEntry | null = null
  tail: QueueEntry | null = null
  size = 0
  push(e: QueueEntry): void {
    e.prev = this.tail
    e.next = null
    if (this.tail) this.tail.next = e
    else this.head = e
    this.tail = e
    e.listed = true
    this.size++
  }
  unshift(e: QueueEntry): void {
    e.next = this.head
    e.prev = null
    if (this.head) this.head.prev = e
    else this.tail = e
    this.head = e
    e.listed = true
    this.size++
  }
  remove(e: QueueEntry): void {
    assert(e.listed, 'removing an unlisted queue entry')
    if (e.prev) e.prev.next = e.next
    else this.head = e.next
    if (e.next) e.next.prev = e.prev
    else this.tail = e.prev
    e.prev = e.next = null
    e.listed = false
    this.size--
  }
}

const NO_CREDIT = Symbol('no-credit')

export class MessageQueue {
  private readonly buckets: EntryList[] = Array.from({ length: 10 }, () => new EntryList())
  readonly consumers: Consumer[] = []
  private readonly groups = new Map<string, Consumer>()
  private rr = 0
  private dispatchScheduled = false
  private dispatchTimer: unknown = null
  /** Delivered and not yet finally acked (includes transaction-acked entries awaiting COMMIT). */
  inflightCount = 0
  deleted = false
  // Paging state (see file comment).
  private paged: number[] = []
  private pagedHead = 0
  private rangeActive = false
  private rangeAfter = 0
  private rangeRemaining = 0
  private loading = false
  /** Recovered-range seqs an operator took out (#18, management.ts): page-in skips them. */
  private rangeDropped = new Set<number>()
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
    /** The STOMP destination messages report (a queue name, or the topic of a subscription). */
    readonly destination: string,
    /** Store key, or null for memory-only queues. */
    readonly key: string | null,
  ) {}

  get pendingCount(): number {
    let n = 0
    for (const b of this.buckets) n += b.size
    return n
  }

  get pagedCount(): number {
    return this.paged.length - this.pagedHead + this.rangeRemaining
  }

  /** Messages not yet acked: in memory, paged out, or delivered and unacked (ActiveMQ's QueueSize). */
  depth(): number {
    return this.pendingCount + this.pagedCount + this.inflightCount
  }

  isPaging(): boolean {
    return this.rangeActive || this.paged.length > this.pagedHead
  }

  /** Recovery: `count` stored messages below the seq boundary belong to this queue. */
  startRecoveredRange(count: number): void {
    this.rangeActive = count > 0
    this.rangeAfter = 0
    this.rangeRemaining = count
  }

  /** Hold a message in memory (the caller charged memory or will via host.chargeNow). */
  enqueue(msg: BrokerMessage, seq: number): void {
    if (this.deleted) return
    msg.refs++
    const e: QueueEntry = { msg, seq, redeliveries: 0, queue: this, prev: null, next: null, listed: false }
    this.buckets[msg.priority]!.push(e)
    this.enqueued++
    this.scheduleDispatch()
  }

  /** A persistent message that stays in the store until paged in. */
  enqueuePaged(seq: number): void {
    if (this.deleted) return
    assert(this.key !== null, 'paging a memory-only queue')
    const p = this.paged
    if (p.length === this.pagedHead || p[p.length - 1]! < seq) p.push(seq)
    else {
      let lo = this.pagedHead,
        hi = p.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (p[mid]! < seq) lo = mid + 1
        else hi = mid
      }
      p.splice(lo, 0, seq)
    }
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
    this.buckets[e.msg.priority]!.unshift(e)
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
    // Keep the consumer list ordered by priority (desc), then arrival: the exclusive consumer is the first one.
    let i = this.consumers.length
    while (i > 0 && this.consumers[i - 1]!.priority < c.priority) i--
    this.consumers.splice(i, 0, c)
    this.scheduleDispatch()
  }

  removeConsumer(c: Consumer): void {
    const i = this.consumers.indexOf(c)
    if (i >= 0) this.consumers.splice(i, 1)
    for (const [g, owner] of this.groups) if (owner === c) this.groups.delete(g)
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
    this.paged = []
    this.pagedHead = 0
    this.rangeActive = false
    this.rangeRemaining = 0
  }

  /** In-memory pending entries, highest priority first (browser snapshots). */
  snapshot(): QueueEntry[] {
    const out: QueueEntry[] = []
    for (let p = 9; p >= 0; p--) for (let e = this.buckets[p]!.head; e; e = e.next) out.push(e)
    return out
  }

  /** What a browser needs to read paged messages without disturbing the queue. */
  pagedSnapshot(): { seqs: Set<number>; rangeActive: boolean; rangeAfter: number; rangeDropped: ReadonlySet<number> } {
    return {
      seqs: new Set(this.paged.slice(this.pagedHead)),
      rangeActive: this.rangeActive,
      rangeAfter: this.rangeAfter,
      rangeDropped: new Set(this.rangeDropped),
    }
  }

  /**
   * Management (#18): an in-memory pending entry leaves the queue undelivered (an operator deleted or moved it).
   * False when it is no longer pending here. Counted as dequeued (ActiveMQ's removeMessage); the caller releases
   * its memory reference and store record.
   */
  takeEntry(e: QueueEntry): boolean {
    if (!e.listed || e.queue !== this || this.deleted) return false
    this.buckets[e.msg.priority]!.remove(e)
    this.dequeued++
    return true
  }

  /**
   * Management (#18): stored message `seq` leaves the queue undelivered if it is still waiting paged out here
   * (false otherwise). The caller removes its store record; page-in never loads it after this returns true.
   */
  takePaged(seq: number): boolean {
    if (this.deleted) return false
    const p = this.paged
    let lo = this.pagedHead,
      hi = p.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (p[mid]! < seq) lo = mid + 1
      else hi = mid
    }
    if (lo < p.length && p[lo] === seq) {
      p.splice(lo, 1)
    } else if (
      this.rangeActive &&
      seq > this.rangeAfter &&
      seq < this.host.seqBoundary &&
      !this.rangeDropped.has(seq)
    ) {
      this.rangeDropped.add(seq)
      this.rangeRemaining = Math.max(0, this.rangeRemaining - 1)
    } else return false
    this.dequeued++
    return true
  }

  /** Remove expired in-memory pending messages (the periodic sweep). */
  sweepExpired(nowMs: number): number {
    let n = 0
    for (const b of this.buckets) {
      for (let e = b.head; e; ) {
        const next = e.next
        if (isExpired(e.msg, nowMs)) {
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

  private selectorOk(c: Consumer, e: QueueEntry): boolean {
    if (!c.selector) return true
    const h = e.msg.headers
    return c.selector.matches({
      header: (n) => h[n],
      redelivered: e.redeliveries > 0 || e.recovered === true,
      deliveryCount: e.redeliveries + 1,
    })
  }

  private groupFirst = false

  private pick(e: QueueEntry): Consumer | null | typeof NO_CREDIT {
    this.groupFirst = false
    const cs = this.consumers
    const n = cs.length
    let anyCredit = false
    for (let i = 0; i < n; i++)
      if (cs[i]!.hasCredit()) {
        anyCredit = true
        break
      }
    if (!anyCredit) return NO_CREDIT
    // Exclusive consumer: the first exclusive one (highest priority, earliest) receives everything.
    for (let i = 0; i < n; i++) {
      const c = cs[i]!
      if (c.exclusive) return c.hasCredit() ? (this.selectorOk(c, e) ? c : null) : NO_CREDIT
    }
    const gid = e.msg.groupId
    if (gid !== null) {
      const owner = this.groups.get(gid)
      if (owner && !owner.closed) return owner.hasCredit() && this.selectorOk(owner, e) ? owner : null
    }
    // Highest consumer priority among those with credit and a matching selector; round robin within it.
    let best: Consumer | null = null
    let bestAt = 0
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n
      const c = cs[i]!
      if (!c.hasCredit() || (best && c.priority <= best.priority) || !this.selectorOk(c, e)) continue
      best = c
      bestAt = i
    }
    if (best) {
      this.rr = (bestAt + 1) % n
      if (gid !== null) {
        this.groups.set(gid, best)
        this.groupFirst = true
      }
    }
    return best
  }

  private deliver(c: Consumer, e: QueueEntry): void {
    this.inflightCount++
    const redelivered = e.redeliveries > 0 || e.recovered === true
    const headers = { ...e.msg.headers }
    if (redelivered) headers.redelivered = 'true'
    if (this.groupFirst) headers.JMSXGroupFirstForConsumer = 'true'
    const ackId = c.session.nextAckId()
    if (c.ack === 'auto') {
      // ActiveMQ STOMP auto ack: acknowledged when dispatched.
      this.finalize(e, false)?.catch(() => {})
    } else {
      const f: InFlight = { ackId, entry: e, consumer: c }
      c.inflight.set(ackId, f)
      c.session.trackInflight(f)
    }
    try {
      c.onDelivery({ subscriptionId: c.id, ackId, messageId: e.msg.id, headers, body: e.msg.body, redelivered })
    } catch (err) {
      log.error(`delivery callback of subscription ${c.id} threw`, err)
    }
  }

  /** Hand pending messages to consumers with credit. Runs from a microtask; yields after DISPATCH_BATCH_MAX. */
  dispatch(): void {
    this.dispatchScheduled = false
    if (this.deleted || this.host.stopped) return
    if (this.consumers.length > 0) {
      const now = this.host.clock.now()
      let delivered = 0
      let scanned = 0
      outer: for (let p = 9; p >= 0; p--) {
        const b = this.buckets[p]!
        let e = b.head
        while (e) {
          const next = e.next
          if (isExpired(e.msg, now)) {
            b.remove(e)
            this.expired++
            this.host.expire(e)
            e = next
            continue
          }
          const c = this.pick(e)
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
    if (this.consumers.length === 0 || pending >= PAGE_SIZE) return
    // Memory above the high-water mark: page in only when nothing is left to dispatch (progress, bounded).
    if (pending > 0 && this.host.memoryHigh(this.destination)) return
    const store = this.host.store
    assert(store && this.key, 'paging without a store key')
    this.loading = true
    this.pageIn(store, this.key)
      .catch((err) => {
        if (!this.host.stopped) this.host.storeFailed(err)
      })
      .finally(() => {
        this.loading = false
        this.scheduleDispatch()
      })
  }

  private hold(m: StoredMessage, recovered: boolean): void {
    const msg = messageFromStored(m.messageId, m.headers, m.body)
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
    this.buckets[msg.priority]!.push(e)
  }

  private async pageIn(store: PersistenceAdapter, key: string): Promise<void> {
    if (this.rangeActive) {
      const batch = await store.load(key, this.rangeAfter, PAGE_SIZE)
      if (this.deleted) return
      let done = batch.length < PAGE_SIZE
      for (const m of batch) {
        if (m.seq >= this.host.seqBoundary) {
          done = true
          break
        }
        if (this.rangeDropped.delete(m.seq)) {
          this.rangeAfter = m.seq
          continue
        }
        this.rangeAfter = m.seq
        this.rangeRemaining = Math.max(0, this.rangeRemaining - 1)
        this.hold(m, true)
      }
      if (done) {
        this.rangeActive = false
        this.rangeRemaining = 0
        this.rangeDropped.clear()
      }
      return
    }
    if (this.paged.length === this.pagedHead) return
    const first = this.paged[this.pagedHead]!
    const batch = await store.load(key, first - 1, PAGE_SIZE)
    if (this.deleted) return
    const want = new Set(this.paged.slice(this.pagedHead, this.pagedHead + PAGE_SIZE * 4))
    const took = new Set<number>()
    for (const m of batch) {
      if (want.has(m.seq)) {
        took.add(m.seq)
        this.hold(m, false)
      }
    }
    if (!took.has(first)) {
      // Always progress: the first paged seq must be in the store; if it is gone (purged), forget it.
      log.warn(`page-in of ${key}: paged message seq ${first} is no longer in the store; skipping it`)
      took.add(first)
    }
    // Taken seqs are almost always a prefix of the sorted list; the rare others (gaps left by messages whose
    // routing was still pending) are spliced out one by one.
    while (this.pagedHead < this.paged.length && took.has(this.paged[this.pagedHead]!)) {
      took.delete(this.paged[this.pagedHead]!)
      this.pagedHead++
    }
    for (const s of took) {
      const i = this.paged.indexOf(s, this.pagedHead)
      if (i >= 0) this.paged.splice(i, 1)
    }
    if (this.pagedHead > 4096 && this.pagedHead * 2 > this.paged.length) {
      this.paged = this.paged.slice(this.pagedHead)
      this.pagedHead = 0
    }
  }
}
