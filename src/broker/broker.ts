/**
 * Broker: the message-semantics core behind every connector. Owns destinations (queues, topics, temp
 * destinations, the DLQ), durable subscriptions, sessions with their acks and transactions, producer dedupe,
 * producer flow control (memory limits), the periodic expiry sweep, recovery from a store, and every store
 * batch the semantics need. Knows no socket and no lock (see ./types.ts for the contract it implements).
 *
 * ActiveMQ behaviours followed (see /work/shared/reference/activemq-features.md §4):
 * - STOMP sends are non-persistent unless `persistent:true`; persistent ones resolve `send()` only once the store
 *   batch is durable. Non-persistent messages live in memory only.
 * - NACK is a poison ack: the message goes straight to `ActiveMQ.DLQ` (no broker-side redelivery). Expired
 *   messages go there too. Shared DLQ strategy defaults: processExpired=true, processNonPersistent=false, so a
 *   NACKed or expired NON-persistent message is dropped, not dead-lettered (BrokerOptions.deadLetter overrides).
 *   A DLQ copy never expires: `expires` is set to 0, the old value kept in `originalExpiration`, plus
 *   `original-destination` and `dlqDeliveryFailureCause`.
 * - Unacked messages of a closed consumer/session go back to the head of their queue with `redelivered:true`, no
 *   count limit. ABORT (and a failed COMMIT) returns the messages acked or NACKed in the transaction to the
 *   unacked state, as ActiveMQ STOMP does: their ack ids are valid again, and they are redelivered when the
 *   consumer or session closes (at once, if their consumer is already gone).
 * - Prefetch defaults: queue 1000, topic 32767, durable topic 100, browser 500; 0 is refused. A `<destinationPolicy>`
 *   entry's queuePrefetch/topicPrefetch/durableTopicPrefetch/queueBrowserPrefetch replaces the default for consumers
 *   that ask for none or for exactly the default (ActiveMQ's PolicyEntry.configurePrefetch does the same).
 * - Per-destination memory limit: the matching `<destinationPolicy>` entry's memoryLimit, else limits.destinationMemoryLimit.
 * - A durable subscription re-subscribed with another topic, selector or noLocal is replaced (its messages dropped).
 *   While inactive it keeps persistent messages only; non-persistent ones reach active subscribers only.
 * - Temp destinations (`/temp-queue/X`, `/temp-topic/X`) are one broker-wide namespace: created by the first
 *   session that uses the name, deleted (messages dropped) when that session closes; anyone may send to them
 *   while they exist. They are memory-only, even for persistent messages.
 *
 * Flow control: messages held in memory are charged to the broker-wide (`limits.memoryLimit`) and
 * per-destination (`limits.destinationMemoryLimit`) counters. A send that must hold a message in memory waits,
 * FIFO, until it fits (or fails with BROKER_LIMIT: at once with limits.sendFailIfNoSpace, after
 * limits.sendFailIfNoSpaceAfterTimeout ms with that set, as ActiveMQ's `<systemUsage>` attributes). Persistent messages to stored destinations never wait: above 70% of a limit (ActiveMQ's
 * cursor high-water mark) they are paged (kept in the store only) and loaded back in pages (see ./queue.ts).
 *
 * Destination count: creating a queue or topic from a client (SEND, SUBSCRIBE) past `maxDestinations` (broker-wide,
 * or a policy entry's) fails with BROKER_LIMIT; recovered destinations, the DLQ and scheduler deliveries are always
 * created. Sends validated before the limit was reached may still create theirs. Inactive destinations whose policy
 * entry says gcInactiveDestinations are removed by a sweep every schedulePeriodForDestinationPurge (./destination-limits.ts).
 *
 * Ordering: each session routes its sends in call order, even when several store writes are in flight at once.
 */
import { BrokerError, assert } from '../lib/errors.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { BrokerConfig, PolicyEntryConfig } from '../config/types.ts'
import { policyEntryFor } from '../config/index.ts'
import type { DurableSubscriptionRecord, PersistenceAdapter, RecoveredState, StoreOp } from '../storage/types.ts'
import type {
  BrokerCore,
  BrokerMetrics,
  BrokerOptions as ContractOptions,
  BrokerSession,
  ConnectInfo,
  Delivery,
  DestinationMetrics,
  SchedulerPort,
  SendRequest,
  SubscribeRequest,
} from './types.ts'
import type { Subject } from '../security/index.ts'
import { isManagementDestination } from './scheduler/job.ts'
import {
  DLQ_DESTINATION,
  durableStoreKey,
  isTemp,
  parseDestination,
  queueStoreKey,
  type DestinationName,
} from './destination.ts'
import { MemoryUsage } from './memory-usage.ts'
import {
  MessageIdGenerator,
  buildMessage,
  dedupeKey,
  isExpired,
  messageFromStored,
  type BrokerMessage,
} from './message.ts'
import {
  Consumer,
  MessageQueue,
  type ConsumerSession,
  type InFlight,
  type QueueEntry,
  type QueueHost,
} from './queue.ts'
import { Selector, headerSource } from './selector.ts'
import {
  DESTINATIONS_DEFAULT,
  INACTIVE_TIMEOUT_BEFORE_GC_DEFAULT_MS,
  InactivityTracker,
  checkCreate,
} from './destination-limits.ts'

const log = logger('broker')

export const PREFETCH_QUEUE_DEFAULT = 1000
export const PREFETCH_TOPIC_DEFAULT = 32767
export const PREFETCH_DURABLE_DEFAULT = 100
export const PREFETCH_BROWSER_DEFAULT = 500
/** Recent producer message ids remembered in memory for dedupe (non-persistent sends, writes in flight). */
export const DEDUPE_WINDOW_DEFAULT = 100_000
/** ActiveMQ's expireMessagesPeriod default. */
export const EXPIRE_PERIOD_DEFAULT_MS = 30_000
/** Remove ops per batched store write (acks are grouped into one write per event-loop turn up to this). */
export const REMOVE_BATCH_MAX = 10_000
/** Fraction of a memory limit above which persistent messages are paged instead of held. */
export const PAGING_HIGH_WATER = 0.7
/** Open transactions per session, and operations per transaction (named limits; crossing one is BROKER_LIMIT). */
export const TX_PER_SESSION_MAX = 1000
export const TX_OPS_MAX = 100_000
/**
 * Bytes of SENDs one transaction, and all open transactions of one session, may hold until COMMIT/ABORT. They are
 * also charged to the broker-wide memory limit; past any of the three the SEND gets BROKER_LIMIT at once (ActiveMQ's
 * `sendFailIfNoSpace`: a ResourceAllocationException instead of blocking a producer that holds a transaction open).
 */
export const TX_BYTES_MAX = 128 * 1024 * 1024
export const SESSION_TX_BYTES_MAX = 128 * 1024 * 1024

const SEQ_PROBE_KEY = 'broker://seq-probe'

/**
 * A consumer's prefetch: what it asked for, unless it asked for nothing or exactly the built-in default, in which
 * case a destination policy's value (if any) applies, as in ActiveMQ's PolicyEntry.configurePrefetch.
 */
function prefetchFor(asked: number | undefined, builtIn: number, policy: number | null | undefined): number {
  if (asked !== undefined && asked !== builtIn) return asked
  return policy ?? builtIn
}

export interface DeadLetterPolicy {
  /** Dead-letter expired messages (ActiveMQ default true). */
  processExpired: boolean
  /** Dead-letter non-persistent messages too (ActiveMQ default false: they are dropped). */
  processNonPersistent: boolean
}

export interface BrokerOptions extends ContractOptions {
  /** Expiry sweep period for queued messages, ms (default 30000; 0 = only at dispatch). */
  expireMessagesPeriodMs?: number
  deadLetter?: Partial<DeadLetterPolicy>
  /** In-memory producer-dedupe window (message ids). */
  dedupeWindow?: number
}

interface Waiter {
  needs: [MemoryUsage, number][]
  resolve: () => void
  reject: (e: Error) => void
  session: Session | null
}

interface DurableSub {
  record: DurableSubscriptionRecord
  queue: MessageQueue
  active: Consumer | null
}

interface Topic {
  destination: string
  subs: Set<MessageQueue>
  owner: Session | null
  published: number
}

interface Transaction {
  id: string
  sends: SendRequest[]
  acks: InFlight[]
  nacks: InFlight[]
  /** Bytes of `sends` (as charged to memory), held in txBytes of the session and in the broker's memory. */
  bytes: number
}

/** A bounded set remembering the most recent ids (FIFO eviction). */
class RecentIds {
  private readonly set = new Set<string>()
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.set.has(id)
  }
  add(id: string): void {
    this.set.add(id)
    if (this.set.size > this.capacity) this.set.delete(this.set.values().next().value as string)
  }
  delete(id: string): void {
    this.set.delete(id)
  }
}

class Browser {
  stopped = false
  wake: (() => void) | null = null
  constructor(readonly id: string) {}
}

export class Broker implements BrokerCore, QueueHost {
  readonly clock: Clock
  readonly store: PersistenceAdapter | null
  seqBoundary = Infinity
  stopped = false
  private readonly config: BrokerConfig
  private readonly onStoreFailure: (err: Error) => void
  private readonly dlqPolicy: DeadLetterPolicy
  private readonly memory: MemoryUsage
  private readonly destMemory = new Map<string, MemoryUsage>()
  private readonly waiters: Waiter[] = []
  private readonly queues = new Map<string, MessageQueue>()
  private readonly topics = new Map<string, Topic>()
  private readonly durables = new Map<string, DurableSub>()
  private readonly tempOwners = new Map<string, Session>()
  private readonly sessions = new Set<Session>()
  private readonly clientIds = new Map<string, Session>()
  private readonly recentIds: RecentIds
  private readonly idGen: MessageIdGenerator
  private scheduler: SchedulerPort | null = null
  private sessionCounter = 0
  private routedCounter = 0
  routeChain: Promise<void> = Promise.resolve()
  private removeOps: StoreOp[] = []
  private removeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = []
  private removeScheduled = false
  private pendingWrites = new Set<Promise<unknown>>()
  private expireTimer: unknown = null
  private readonly expirePeriodMs: number
  private purgeTimer: unknown = null
  private readonly inactivity = new InactivityTracker()
  private storeFailureReported = false
  private readonly authorizer: BrokerOptions['authorizer']

  private constructor(opts: BrokerOptions) {
    this.config = opts.config
    this.store = opts.config.persistent ? opts.store : null
    this.clock = opts.clock ?? systemClock
    this.onStoreFailure = opts.onStoreFailure ?? (() => {})
    this.authorizer = opts.authorizer ?? null
    this.dlqPolicy = { processExpired: true, processNonPersistent: false, ...opts.deadLetter }
    this.memory = new MemoryUsage(opts.config.limits.memoryLimit)
    this.recentIds = new RecentIds(opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT)
    this.idGen = new MessageIdGenerator(this.clock.now())
    this.expirePeriodMs = opts.expireMessagesPeriodMs ?? EXPIRE_PERIOD_DEFAULT_MS
  }

  /** Build a broker and recover queues and durable subscriptions from `opts.recovered` (store already open). */
  static async create(opts: BrokerOptions): Promise<Broker> {
    const b = new Broker(opts)
    await b.recover(opts.recovered)
    b.armExpirySweep()
    b.armPurgeSweep()
    return b
  }

  // ---------------------------------------------------------------------------------------------------------
  // Recovery

  private async recover(recovered: RecoveredState | null): Promise<void> {
    const store = this.store
    if (!store || !recovered) return
    for (const rec of recovered.subscriptions) {
      const dest = parseDestination(
        rec.destination,
        `recovered durable subscription ${rec.clientId}:${rec.subscriptionName}`,
      )
      this.attachDurable(rec, dest)
    }
    const purge: StoreOp[] = []
    let ranges = 0
    for (const d of recovered.destinations) {
      if (d.count <= 0) continue
      let q: MessageQueue | undefined
      if (d.destination.startsWith('queue://')) {
        q = this.queueFor(
          parseDestination('/queue/' + d.destination.slice('queue://'.length), `recovered store key ${d.destination}`),
        )
      } else if (d.destination.startsWith('durable://')) {
        q = [...this.durables.values()].find((s) => s.record.storeKey === d.destination)?.queue
        if (!q) {
          // Messages stored for a subscription whose record did not make it (crash between the two): unreachable.
          log.warn(
            `recovery: ${d.count} message(s) under ${d.destination} have no durable subscription record; purging them`,
          )
          purge.push({ op: 'purge', destination: d.destination })
          continue
        }
      } else if (d.destination === SEQ_PROBE_KEY) {
        purge.push({ op: 'purge', destination: d.destination })
        continue
      } else {
        log.warn(`recovery: ignoring store key ${d.destination} (${d.count} message(s)): not a broker destination`)
        continue
      }
      q.startRecoveredRange(d.count)
      ranges++
    }
    if (ranges > 0) {
      // Learn the first seq this broker's writes get: stored messages below it are the recovered range.
      const probe = await store.write([
        {
          op: 'add',
          destination: SEQ_PROBE_KEY,
          message: { messageId: `seq-probe:${this.idGen.next(0, 0)}`, headers: {}, body: new Uint8Array(0) },
        },
      ])
      this.seqBoundary = probe.seqs[0]!
      purge.push({ op: 'purge', destination: SEQ_PROBE_KEY })
    }
    if (purge.length) await store.write(purge)
    if (ranges > 0 || recovered.subscriptions.length > 0)
      log.info(
        `recovered ${ranges} destination(s) with stored messages and ${recovered.subscriptions.length} durable subscription(s)`,
      )
  }

  // ---------------------------------------------------------------------------------------------------------
  // BrokerCore

  connect(info: ConnectInfo): Session {
    if (this.stopped) throw new BrokerError('BROKER_STOPPED', 'broker is stopped; no new sessions')
    if (info.clientId !== undefined && info.clientId !== '') {
      if (this.clientIds.has(info.clientId)) {
        // ActiveMQ's InvalidClientIDException text (RegionBroker.addConnection); the new connection is refused.
        const from = this.clientIds.get(info.clientId)!.remoteAddress
        throw new BrokerError(
          'BROKER_CLIENT_ID_IN_USE',
          `Broker: ${this.config.brokerName} - Client: ${info.clientId} already connected from tcp://${from}`,
          { details: { clientId: info.clientId } },
        )
      }
    }
    const s = new Session(this, ++this.sessionCounter, info)
    this.sessions.add(s)
    if (s.clientId) this.clientIds.set(s.clientId, s)
    return s
  }

  /** Inject a message as if a producer sent it (the scheduler's firing path). Skips the scheduler and dedupe. */
  async route(req: SendRequest): Promise<void> {
    this.checkRunning()
    await this.commitBatch(null, [req], [], [], { skipScheduler: true })
  }

  setScheduler(s: SchedulerPort | null): void {
    this.scheduler = s
  }

  metrics(): BrokerMetrics {
    const destinations: DestinationMetrics[] = []
    for (const q of this.queues.values()) {
      destinations.push({
        destination: q.destination,
        enqueued: q.enqueued,
        dequeued: q.dequeued,
        depth: q.depth(),
        consumers: q.consumers.length,
        expired: q.expired,
      })
    }
    for (const t of this.topics.values()) {
      let dequeued = 0,
        depth = 0,
        consumers = 0,
        expired = 0
      for (const q of t.subs) {
        dequeued += q.dequeued
        depth += q.depth()
        consumers += q.consumers.length
        expired += q.expired
      }
      destinations.push({ destination: t.destination, enqueued: t.published, dequeued, depth, consumers, expired })
    }
    destinations.sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0))
    return {
      connections: this.sessions.size,
      destinations,
      memoryBytes: this.memory.used,
      memoryLimitBytes: this.memory.limit,
    }
  }

  // Management (#18): narrow accessors for ./management.ts; message semantics stay in this file.

  /** The queue (`/queue/X`, `/temp-queue/X`) by name, if it exists. */
  queueNamed(name: string): MessageQueue | undefined {
    return this.queues.get(name)
  }

  /** Open sessions, for the console's connection list. */
  openSessions(): Session[] {
    return [...this.sessions]
  }

  /** Remove a queue or topic that holds no message and has no consumer or subscription; false when it is not so. */
  removeIdleDestination(name: string): boolean {
    const q = this.queues.get(name)
    if (q) {
      if (q.kind !== 'queue' || q.depth() > 0 || q.consumers.length > 0) return false
      this.queues.delete(name)
      q.delete()
    } else {
      const t = this.topics.get(name)
      if (!t || t.owner !== null || t.subs.size > 0) return false
      this.topics.delete(name)
    }
    this.destMemory.delete(name)
    this.inactivity.forget(name)
    return true
  }

  /** Memory held per destination, bytes (the per-destination usage counters). */
  destinationMemoryBytes(name: string): number {
    return this.destMemory.get(name)?.used ?? 0
  }

  /** Durable subscriptions known to the broker (for status/admin and tests). */
  durableSubscriptions(): {
    clientId: string
    subscriptionName: string
    destination: string
    active: boolean
    depth: number
  }[] {
    return [...this.durables.values()].map((d) => ({
      clientId: d.record.clientId,
      subscriptionName: d.record.subscriptionName,
      destination: d.record.destination,
      active: d.active !== null,
      depth: d.queue.depth(),
    }))
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.clock.clearTimeout(this.expireTimer)
    this.clock.clearTimeout(this.purgeTimer)
    const err = new BrokerError('BROKER_STOPPED', 'broker stopped while the send waited for memory')
    for (const w of this.waiters.splice(0)) w.reject(err)
    for (const s of [...this.sessions]) await s.close().catch(() => {})
    this.flushRemoves()
    await Promise.allSettled([...this.pendingWrites])
  }

  // ---------------------------------------------------------------------------------------------------------
  // QueueHost

  /** Byte limits of one transaction and of one session's open transactions (`<systemUsage maxTransactionSize…>`). */
  txBytesLimits(): { transaction: number; session: number } {
    const l = this.config.limits
    return {
      transaction: l.maxTransactionSize ?? TX_BYTES_MAX,
      session: l.maxTransactionSizePerConnection ?? SESSION_TX_BYTES_MAX,
    }
  }

  /** Charge an open transaction's SEND to the broker-wide memory now, or false when it does not fit (no waiting). */
  chargeTx(bytes: number): boolean {
    if (this.memory.used + bytes > this.memory.limit) return false
    this.memory.add(bytes)
    return true
  }

  releaseTx(bytes: number): void {
    if (bytes > 0) this.memory.release(bytes)
    this.wakeWaiters()
  }

  chargeNow(msg: BrokerMessage, destination: string): void {
    if (msg.charged) return
    const d = this.destUsage(destination)
    this.memory.add(msg.size)
    d.add(msg.size)
    msg.charged = [this.memory, d]
  }

  unref(msg: BrokerMessage): void {
    msg.refs--
    if (msg.refs <= 0) this.releaseCharge(msg)
  }

  private releaseCharge(msg: BrokerMessage): void {
    if (!msg.charged) return
    for (const u of msg.charged) u.release(msg.size)
    msg.charged = null
    this.wakeWaiters()
  }

  removeStored(key: string, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.removeOps.push({ op: 'remove', destination: key, seq })
      this.removeWaiters.push({ resolve, reject })
      if (this.removeOps.length >= REMOVE_BATCH_MAX) this.flushRemoves()
      else if (!this.removeScheduled) {
        this.removeScheduled = true
        setImmediate(() => this.flushRemoves())
      }
    })
  }

  private flushRemoves(): void {
    this.removeScheduled = false
    if (this.removeOps.length === 0) return
    const ops = this.removeOps
    const waiters = this.removeWaiters
    this.removeOps = []
    this.removeWaiters = []
    this.storeWrite(ops).then(
      () => {
        for (const w of waiters) w.resolve()
      },
      (e) => {
        for (const w of waiters) w.reject(e)
      },
    )
  }

  expire(entry: QueueEntry): void {
    if (!this.dlqPolicy.processExpired) {
      this.dropEntry(entry)
      return
    }
    this.deadLetterNow(entry, 'expired').catch(() => {})
  }

  storeFailed(err: unknown): void {
    if (this.storeFailureReported) return
    this.storeFailureReported = true
    log.error('store failure; the node must stop serving', err)
    try {
      this.onStoreFailure(err instanceof Error ? err : new Error(String(err)))
    } catch (e) {
      log.error('onStoreFailure threw', e)
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Internals shared with Session

  checkRunning(): void {
    if (this.stopped) throw new BrokerError('BROKER_STOPPED', 'broker is stopped')
  }

  /** One store write; a failure is reported to the node (self-fence) and rethrown to the caller. */
  async storeWrite(ops: StoreOp[]): Promise<number[]> {
    const store = this.store
    assert(store, 'store write without a store')
    const p = store.write(ops)
    this.pendingWrites.add(p)
    try {
      return (await p).seqs
    } catch (e) {
      if (!this.stopped) this.storeFailed(e)
      throw e
    } finally {
      this.pendingWrites.delete(p)
    }
  }

  destUsage(destination: string): MemoryUsage {
    let u = this.destMemory.get(destination)
    if (!u)
      this.destMemory.set(
        destination,
        (u = new MemoryUsage(this.policyFor(destination)?.memoryLimit ?? this.config.limits.destinationMemoryLimit)),
      )
    return u
  }

  /** The `<destinationPolicy>` entry for a queue or topic (temporary destinations have none), or null. */
  policyFor(destination: string): PolicyEntryConfig | null {
    const d = parseDestination(destination)
    if (d.kind !== 'queue' && d.kind !== 'topic') return null
    return policyEntryFor(this.config.destinationPolicy, d.kind, d.name)
  }

  private fitsAll(needs: [MemoryUsage, number][]): boolean {
    return needs.every(([u, n]) => u.fits(n))
  }

  /**
   * Producer flow control: wait until every usage can take its bytes, then charge them. Waiters of one session
   * are served in order (a later send never takes memory an earlier one of the same session waits for); across
   * sessions, whoever fits goes, so a producer blocked on one full destination does not block another.
   */
  private async acquire(needs: [MemoryUsage, number][], session: Session | null, destination: string): Promise<void> {
    if (!this.waiters.some((w) => w.session === session) && this.fitsAll(needs)) {
      for (const [u, n] of needs) u.add(n)
      return
    }
    // ActiveMQ's BaseDestination.waitForSpace: with `<systemUsage sendFailIfNoSpace="true">` a client's send fails
    // at once, with sendFailIfNoSpaceAfterTimeout=N after waiting N ms; by default it waits. Routed messages
    // (scheduler, DLQ: no session) always wait.
    const { sendFailIfNoSpace = false, sendFailIfNoSpaceAfterTimeout = 0 } = this.config.limits
    if (session && sendFailIfNoSpace) throw this.noSpace(needs, destination, 'sendFailIfNoSpace')
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { needs, resolve, reject, session }
      if (session && sendFailIfNoSpaceAfterTimeout > 0) {
        const timer = this.clock.setTimeout(() => {
          const i = this.waiters.indexOf(w)
          if (i < 0) return
          this.waiters.splice(i, 1)
          reject(this.noSpace(needs, destination, `sendFailIfNoSpaceAfterTimeout=${sendFailIfNoSpaceAfterTimeout}`))
          this.wakeWaiters()
        }, sendFailIfNoSpaceAfterTimeout)
        w.resolve = () => {
          this.clock.clearTimeout(timer)
          resolve()
        }
        w.reject = (e) => {
          this.clock.clearTimeout(timer)
          reject(e)
        }
      }
      this.waiters.push(w)
    })
  }

  /** BROKER_LIMIT for a send that found no memory (ActiveMQ's ResourceAllocationException), naming the full usage. */
  private noSpace(needs: [MemoryUsage, number][], destination: string, setting: string): BrokerError {
    const full = needs.find(([u, n]) => !u.fits(n)) ?? needs[0]!
    const which =
      full[0] === this.memory ? 'the broker-wide memory limit (memoryUsage)' : `the memory limit of ${destination}`
    return new BrokerError(
      'BROKER_LIMIT',
      `SEND to ${destination}: ${full[1]} bytes do not fit in ${which}, ${full[0].used} of ${full[0].limit} bytes used; producer stopped to prevent flooding (${setting})`,
      { details: { limit: full[0].limit, used: full[0].used, bytes: full[1] } },
    )
  }

  private wakeWaiters(): void {
    if (this.waiters.length === 0) return
    const blocked = new Set<Session | null>()
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!
      if (!blocked.has(w.session) && this.fitsAll(w.needs)) {
        this.waiters.splice(i, 1)
        for (const [u, n] of w.needs) u.add(n)
        w.resolve()
        continue
      }
      blocked.add(w.session)
      i++
    }
  }

  /** Whether memory is above the paging high-water mark, broker-wide or for `destination`. */
  memoryHigh(destination: string): boolean {
    return this.memory.above(PAGING_HIGH_WATER) || this.destUsage(destination).above(PAGING_HIGH_WATER)
  }

  rejectWaiters(session: Session): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!
      if (w.session === session) {
        this.waiters.splice(i, 1)
        w.reject(
          new BrokerError(
            'BROKER_SESSION_CLOSED',
            `session ${session.sessionId} closed while its send waited for memory`,
          ),
        )
      }
    }
    this.wakeWaiters()
  }

  private releaseNeeds(needs: [MemoryUsage, number][]): void {
    for (const [u, n] of needs) u.release(n)
    this.wakeWaiters()
  }

  /**
   * The authorization hook (ActiveMQ's AuthorizationBroker): `op` on `dest`, then `admin` when the client's use
   * would create it. The scheduler's management destination is never created, so it needs write only.
   */
  authorize(session: Session, op: 'read' | 'write', dest: DestinationName): void {
    const a = this.authorizer
    if (!a) return
    const d = { kind: dest.kind, name: dest.name }
    a.check(session.subject, op, d)
    if (this.queues.has(dest.stomp) || this.topics.has(dest.stomp)) return
    if (dest.kind !== 'queue' && dest.kind !== 'topic') return a.check(session.subject, 'admin', d)
    if (this.scheduler && isManagementDestination(dest.stomp)) return
    a.check(session.subject, 'admin', d)
  }

  /** Throw BROKER_LIMIT if `dest` does not exist and a client may not create it now (maxDestinations). */
  ensureRoom(dest: DestinationName): void {
    if (this.queues.has(dest.stomp) || this.topics.has(dest.stomp) || dest.stomp === DLQ_DESTINATION) return
    checkCreate(
      dest,
      this.config.destinations ?? DESTINATIONS_DEFAULT,
      this.config.destinationPolicy,
      this.queues.size + this.topics.size,
      (kind) => this.namesOf(kind),
    )
  }

  private *namesOf(kind: 'queue' | 'topic'): Iterable<string> {
    const prefix = `/${kind}/`
    for (const name of kind === 'queue' ? this.queues.keys() : this.topics.keys())
      if (name.startsWith(prefix)) yield name.slice(prefix.length)
  }

  queueFor(dest: DestinationName, creator: Session | null = null): MessageQueue {
    let q = this.queues.get(dest.stomp)
    if (q) {
      this.inactivity.touch(dest.stomp)
      return q
    }
    if (dest.kind === 'temp-queue') {
      q = new MessageQueue(this, 'temp-queue', dest.stomp, null)
      if (creator) {
        this.tempOwners.set(dest.stomp, creator)
        creator.tempDests.add(dest.stomp)
      }
    } else {
      assert(dest.kind === 'queue', 'queueFor on a topic')
      q = new MessageQueue(this, 'queue', dest.stomp, this.store ? queueStoreKey(dest.name) : null)
    }
    this.queues.set(dest.stomp, q)
    return q
  }

  topicFor(dest: DestinationName, creator: Session | null = null): Topic {
    let t = this.topics.get(dest.stomp)
    if (t) {
      this.inactivity.touch(dest.stomp)
      return t
    }
    t = { destination: dest.stomp, subs: new Set(), owner: null, published: 0 }
    if (dest.kind === 'temp-topic' && creator) {
      t.owner = creator
      this.tempOwners.set(dest.stomp, creator)
      creator.tempDests.add(dest.stomp)
    }
    this.topics.set(dest.stomp, t)
    return t
  }

  deleteTemp(name: string): void {
    this.tempOwners.delete(name)
    const q = this.queues.get(name)
    if (q) {
      this.queues.delete(name)
      q.delete()
    }
    const t = this.topics.get(name)
    if (t) {
      this.topics.delete(name)
      for (const s of t.subs) s.delete()
    }
    this.destMemory.delete(name)
  }

  private attachDurable(rec: DurableSubscriptionRecord, dest: DestinationName): DurableSub {
    const q = new MessageQueue(this, 'durable', rec.destination, rec.storeKey)
    q.subSelector = rec.selector ? Selector.parse(rec.selector) : null
    q.noLocalClientId = rec.noLocal ? rec.clientId : null
    const d: DurableSub = { record: rec, queue: q, active: null }
    this.durables.set(`${rec.clientId}:${rec.subscriptionName}`, d)
    this.topicFor(dest).subs.add(q)
    return d
  }

  durable(clientId: string, name: string): DurableSub | undefined {
    return this.durables.get(`${clientId}:${name}`)
  }

  /** Find or create (or replace, when topic/selector/noLocal changed) a durable subscription. */
  openDurable(
    clientId: string,
    name: string,
    dest: DestinationName,
    selector: string | null,
    noLocal: boolean,
  ): DurableSub {
    const existing = this.durable(clientId, name)
    if (existing) {
      const r = existing.record
      if (r.destination === dest.stomp && r.selector === selector && r.noLocal === noLocal) return existing
      log.info(
        `durable subscription ${clientId}:${name} changed (topic, selector or noLocal): replacing it and dropping its messages`,
      )
      this.dropDurable(existing, false)
    }
    const rec: DurableSubscriptionRecord = {
      clientId,
      subscriptionName: name,
      destination: dest.stomp,
      selector,
      noLocal,
      storeKey: durableStoreKey(clientId, name),
      createdAt: this.clock.now(),
    }
    const d = this.attachDurable(rec, dest)
    if (this.store) {
      const ops: StoreOp[] = existing
        ? [
            { op: 'purge', destination: rec.storeKey },
            { op: 'putSubscription', subscription: rec },
          ]
        : [{ op: 'putSubscription', subscription: rec }]
      this.storeWrite(ops).catch(() => {})
    }
    return d
  }

  /** Remove a durable subscription and its messages (UNSUBSCRIBE with the subscription name). */
  async removeDurable(d: DurableSub): Promise<void> {
    await this.dropDurable(d, true)
  }

  private async dropDurable(d: DurableSub, removeRecord: boolean): Promise<void> {
    const r = d.record
    this.durables.delete(`${r.clientId}:${r.subscriptionName}`)
    this.topics.get(r.destination)?.subs.delete(d.queue)
    d.queue.delete()
    if (this.store && removeRecord) {
      await this.storeWrite([
        { op: 'purge', destination: r.storeKey },
        { op: 'removeSubscription', clientId: r.clientId, subscriptionName: r.subscriptionName },
      ])
    }
  }

  releaseClientId(s: Session): void {
    if (s.clientId && this.clientIds.get(s.clientId) === s) this.clientIds.delete(s.clientId)
    this.sessions.delete(s)
  }

  private dropEntry(entry: QueueEntry): void {
    // A pending entry that leaves for good without delivery (expired and not dead-lettered).
    entry.queue.dequeued++
    this.unref(entry.msg)
    if (entry.seq > 0 && entry.queue.key && !entry.queue.deleted)
      this.removeStored(entry.queue.key, entry.seq).catch(() => {})
  }

  /** The DLQ copy of an entry's message, or null when the policy drops it. */
  private dlqCopy(entry: QueueEntry, cause: string): BrokerMessage | null {
    const m = entry.msg
    if (!m.persistent && !this.dlqPolicy.processNonPersistent) return null
    const headers: Record<string, string> = { ...m.headers }
    headers['original-destination'] = entry.queue.destination
    headers.destination = DLQ_DESTINATION
    headers.dlqDeliveryFailureCause = cause
    if (m.expires > 0) headers.originalExpiration = String(m.expires)
    headers.expires = '0'
    return { ...m, headers, expires: 0, refs: 0, charged: null, size: m.size + 64 + cause.length }
  }

  /** Store ops to move an entry to the DLQ (remove from its key, add to the DLQ key when persistent). */
  private dlqOps(entry: QueueEntry, copy: BrokerMessage | null): StoreOp[] {
    const ops: StoreOp[] = []
    if (!this.store) return ops
    if (entry.seq > 0 && entry.queue.key && !entry.queue.deleted)
      ops.push({ op: 'remove', destination: entry.queue.key, seq: entry.seq })
    if (copy && copy.persistent)
      ops.push({
        op: 'add',
        destination: queueStoreKey(DLQ_DESTINATION.slice('/queue/'.length)),
        message: { messageId: copy.id, headers: copy.headers, body: copy.body },
      })
    return ops
  }

  /** Put a DLQ copy on the DLQ (after its store add, with `seq`, or memory-only with 0). */
  private enqueueDlq(copy: BrokerMessage, seq: number): void {
    const q = this.queueFor(parseDestination(DLQ_DESTINATION))
    this.place(q, copy, seq)
  }

  /** Dead-letter a pending (already unlisted) or in-flight entry now, outside any transaction. */
  private async deadLetterNow(entry: QueueEntry, cause: string): Promise<void> {
    const copy = this.dlqCopy(entry, cause)
    const ops = this.dlqOps(entry, copy)
    entry.queue.dequeued++
    this.unref(entry.msg)
    let seq = 0
    if (ops.length) {
      const seqs = await this.storeWrite(ops)
      seq = copy && copy.persistent ? seqs[0]! : 0
    }
    if (copy) this.enqueueDlq(copy, seq)
  }

  /**
   * Hold a stored-or-not message on a queue: paged when it is persistent under a store key and the queue is
   * paging or memory is above the high-water mark; held in memory otherwise.
   */
  private place(q: MessageQueue, msg: BrokerMessage, seq: number): void {
    if (
      seq > 0 &&
      q.key !== null &&
      (q.isPaging() || this.memory.above(PAGING_HIGH_WATER) || this.destUsage(q.destination).above(PAGING_HIGH_WATER))
    ) {
      q.enqueuePaged(seq)
      return
    }
    this.chargeNow(msg, q.destination)
    q.enqueue(msg, seq)
  }

  /** The queues a message goes to: the queue, or every matching subscription of the topic. */
  private targets(dest: DestinationName, msg: BrokerMessage, session: Session | null): MessageQueue[] {
    // A send finishing after its session closed must not re-create (and leak) a temp destination.
    if (isTemp(dest) && session?.isClosed && !this.queues.has(dest.stomp) && !this.topics.has(dest.stomp)) return []
    if (dest.kind === 'queue' || dest.kind === 'temp-queue') return [this.queueFor(dest, session)]
    const t = this.topicFor(dest, session)
    t.published++
    const out: MessageQueue[] = []
    if (t.subs.size === 0) return out
    const src = headerSource(msg.headers)
    for (const q of t.subs) {
      // ActiveMQ keeps only persistent messages for an inactive durable subscriber.
      if (q.kind === 'durable' && !msg.persistent && q.consumers.length === 0) continue
      if (q.noLocalSessionId !== null && q.noLocalSessionId === msg.originSessionId) continue
      if (q.noLocalClientId !== null && session?.clientId === q.noLocalClientId) continue
      if (q.subSelector && !q.subSelector.matches(src)) continue
      out.push(q)
    }
    return out
  }

  /**
   * The one path for SENDs, transactional COMMITs, NACKs and routed messages: dedupe, scheduler, flow control,
   * one atomic store batch with every add and remove, then in-memory routing in the session's call order.
   */
  async commitBatch(
    session: Session | null,
    sends: SendRequest[],
    acks: InFlight[],
    nacks: { f: InFlight; sub: string }[],
    opts: { skipScheduler?: boolean } = {},
  ): Promise<void> {
    // Take this batch's place in the session's routing order now, at call time: later calls route after it even
    // when their own awaits (memory, store) finish first.
    const chainOwner = session ?? this
    const prev = chainOwner.routeChain
    let done!: () => void
    chainOwner.routeChain = new Promise<void>((r) => (done = r))
    try {
      await this.commitBatchInOrder(prev, session, sends, acks, nacks, opts)
    } finally {
      done()
    }
  }

  private async commitBatchInOrder(
    prev: Promise<void>,
    session: Session | null,
    sends: SendRequest[],
    acks: InFlight[],
    nacks: { f: InFlight; sub: string }[],
    opts: { skipScheduler?: boolean },
  ): Promise<void> {
    const now = this.clock.now()
    const prepared: { msg: BrokerMessage; dest: DestinationName; key: string | null }[] = []
    // 1. Validate every message first, so a bad one fails the batch before anything happens.
    const built = sends.map((req) => {
      const dest = parseDestination(req.destination, 'SEND destination')
      if (session) this.ensureRoom(dest)
      const key = opts.skipScheduler ? null : dedupeKey(req.headers)
      const id =
        key ??
        (req.headers['message-id'] ||
          this.idGen.next(session?.sessionNo ?? 0, session ? ++session.sent : ++this.routedCounter))
      return {
        req,
        dest,
        key,
        msg: buildMessage(dest.stomp, req.headers, req.body, id, now, session?.sessionId ?? null),
      }
    })
    // 2. Dedupe and scheduler.
    for (const b of built) {
      if (b.key !== null && (this.recentIds.has(b.key) || (this.store?.isDuplicate(b.key) ?? false))) {
        log.debug(`duplicate send of message id ${b.key} to ${b.dest.stomp}: acknowledged, not stored again`)
        continue
      }
      if (b.key !== null) this.recentIds.add(b.key)
      if (!opts.skipScheduler && this.scheduler) {
        try {
          if (await this.scheduler.accept(b.req, session)) continue
        } catch (e) {
          if (b.key !== null) this.recentIds.delete(b.key)
          for (const p of prepared) if (p.key !== null) this.recentIds.delete(p.key)
          throw e
        }
      }
      prepared.push({ msg: b.msg, dest: b.dest, key: b.key })
    }
    const forget = (): void => {
      for (const p of prepared) if (p.key !== null) this.recentIds.delete(p.key)
    }
    // 3. Targets and flow control: messages some non-pageable target must hold wait for memory (FIFO).
    const routed = prepared.map((p) => ({ ...p, targets: this.targets(p.dest, p.msg, session) }))
    const needs = new Map<MemoryUsage, number>()
    const mustHold = (msg: BrokerMessage, q: MessageQueue): boolean =>
      !(msg.persistent && this.store !== null && q.key !== null)
    for (const r of routed) {
      if (r.targets.some((q) => mustHold(r.msg, q))) {
        const d = this.destUsage(r.dest.stomp)
        needs.set(this.memory, (needs.get(this.memory) ?? 0) + r.msg.size)
        needs.set(d, (needs.get(d) ?? 0) + r.msg.size)
      }
    }
    const needList = [...needs]
    if (needList.length) {
      try {
        await this.acquire(
          needList,
          session,
          routed.find((r) => r.targets.some((q) => mustHold(r.msg, q)))?.dest.stomp ?? '?',
        )
      } catch (e) {
        forget()
        throw e
      }
      if (this.stopped) {
        this.releaseNeeds(needList)
        forget()
        throw new BrokerError('BROKER_STOPPED', 'broker stopped')
      }
      for (const r of routed) {
        if (r.targets.some((q) => mustHold(r.msg, q))) r.msg.charged = [this.memory, this.destUsage(r.dest.stomp)]
      }
    }
    // 4. One atomic store batch: adds for persistent messages under stored keys, removes for acks, DLQ moves.
    const ops: StoreOp[] = []
    const addSlots: { msg: BrokerMessage; q: MessageQueue }[] = []
    if (this.store) {
      for (const r of routed) {
        if (!r.msg.persistent) continue
        for (const q of r.targets) {
          if (q.key === null) continue
          ops.push({
            op: 'add',
            destination: q.key,
            message: { messageId: r.msg.id, headers: r.msg.headers, body: r.msg.body },
          })
          addSlots.push({ msg: r.msg, q })
        }
      }
      for (const f of acks) {
        const e = f.entry
        if (e.seq > 0 && e.queue.key && !e.queue.deleted)
          ops.push({ op: 'remove', destination: e.queue.key, seq: e.seq })
      }
    }
    let adds = addSlots.length
    const dlq = nacks.map(({ f, sub }) => ({
      f,
      copy: this.dlqCopy(f.entry, `poison ack (NACK) from subscription ${sub}`),
      slot: -1,
    }))
    for (const d of dlq) {
      for (const o of this.dlqOps(d.f.entry, d.copy)) {
        if (o.op === 'add') d.slot = adds++
        ops.push(o)
      }
    }
    let seqs: number[] = []
    if (ops.length) {
      try {
        seqs = await this.storeWrite(ops)
      } catch (e) {
        for (const r of routed) if (r.msg.charged) this.releaseCharge(r.msg)
        forget()
        throw e
      }
    }
    // 5. Route in the session's call order.
    {
      await prev
      const seqOf = new Map<MessageQueue, number>()
      let slot = 0
      for (const r of routed) {
        seqOf.clear()
        for (const q of r.targets) {
          if (r.msg.persistent && this.store && q.key !== null) seqOf.set(q, seqs[slot++]!)
        }
        // Hold a reference while placing so the charge is not released between targets.
        r.msg.refs++
        for (const q of r.targets) {
          const seq = seqOf.get(q) ?? 0
          if (mustHold(r.msg, q)) q.enqueue(r.msg, 0)
          else this.place(q, r.msg, seq)
        }
        this.unref(r.msg)
      }
      for (const f of acks) {
        f.entry.queue.finalize(f.entry, true)
      }
      for (const d of dlq) {
        const q = d.f.entry.queue
        q.discardInflight(d.f.entry)
        if (d.copy) this.enqueueDlq(d.copy, d.slot >= 0 ? seqs[d.slot]! : 0)
      }
    }
  }

  private armExpirySweep(): void {
    if (this.expirePeriodMs <= 0 || this.stopped) return
    this.expireTimer = this.clock.setTimeout(() => {
      const now = this.clock.now()
      for (const q of this.queues.values()) q.sweepExpired(now)
      for (const d of this.durables.values()) d.queue.sweepExpired(now)
      for (const t of this.topics.values()) for (const q of t.subs) if (q.kind === 'subscription') q.sweepExpired(now)
      this.armExpirySweep()
    }, this.expirePeriodMs)
    ;(this.expireTimer as { unref?: () => void })?.unref?.()
  }

  /**
   * Every schedulePeriodForDestinationPurge: remove queues and topics whose policy entry says gcInactiveDestinations
   * and that have had no consumer, no message and no use for its inactiveTimoutBeforeGC (ActiveMQ's
   * purgeInactiveDestinations). Temporary destinations go with their session instead; topics holding any
   * subscription (durable ones included) are in use.
   */
  private armPurgeSweep(): void {
    const cfg = this.config.destinations ?? DESTINATIONS_DEFAULT
    if (cfg.schedulePeriodForDestinationPurge <= 0 || this.stopped) return
    this.purgeTimer = this.clock.setTimeout(() => {
      this.purgeInactive(cfg.maxPurgedDestinationsPerSweep)
      this.armPurgeSweep()
    }, cfg.schedulePeriodForDestinationPurge)
    ;(this.purgeTimer as { unref?: () => void })?.unref?.()
  }

  /** One GC sweep; returns the destinations removed (at most `max`, 0 = no limit). */
  purgeInactive(max = 0): string[] {
    const now = this.clock.now()
    const removed: string[] = []
    const timeoutOf = (name: string): number | null => {
      const p = this.policyFor(name)
      return p?.gcInactiveDestinations === true
        ? (p.inactiveTimeoutBeforeGC ?? INACTIVE_TIMEOUT_BEFORE_GC_DEFAULT_MS)
        : null
    }
    for (const [name, q] of this.queues) {
      if (max > 0 && removed.length >= max) break
      if (q.kind !== 'queue') continue
      const timeout = timeoutOf(name)
      if (timeout === null) continue
      if (
        !this.inactivity.expired(
          name,
          q.consumers.length === 0 && q.depth() === 0,
          q.enqueued + q.dequeued,
          now,
          timeout,
        )
      )
        continue
      this.queues.delete(name)
      q.delete()
      this.destMemory.delete(name)
      this.inactivity.forget(name)
      removed.push(name)
    }
    for (const [name, t] of this.topics) {
      if (max > 0 && removed.length >= max) break
      if (t.owner !== null || !name.startsWith('/topic/')) continue
      const timeout = timeoutOf(name)
      if (timeout === null) continue
      if (!this.inactivity.expired(name, t.subs.size === 0, t.published, now, timeout)) continue
      this.topics.delete(name)
      this.destMemory.delete(name)
      this.inactivity.forget(name)
      removed.push(name)
    }
    if (removed.length > 0) {
      const shown = removed.slice(0, 10).join(', ')
      log.info(
        `removed ${removed.length} inactive destination(s) (gcInactiveDestinations): ${shown}${removed.length > 10 ? `, ... ${removed.length - 10} more` : ''}`,
      )
    }
    return removed
  }

  /** Expose for sessions: whether a message should still be delivered at `now`. */
  isLive(msg: BrokerMessage): boolean {
    return !isExpired(msg, this.clock.now())
  }
}

/** One connection's view of the broker: subscriptions, unacked deliveries, transactions, temp destinations. */
export class Session implements BrokerSession, ConsumerSession {
  readonly sessionId: string
  readonly clientId: string | null
  readonly remoteAddress: string
  /** Who authenticated this session (null without an authentication plugin). */
  readonly subject: Subject | null
  paused = false
  sent = 0
  routeChain: Promise<void> = Promise.resolve()
  readonly tempDests = new Set<string>()
  private readonly consumers = new Map<string, Consumer>()
  private readonly browsers = new Map<string, Browser>()
  private readonly inflight = new Map<string, InFlight>()
  private readonly txs = new Map<string, Transaction>()
  /** Bytes held by this session's open transactions (SESSION_TX_BYTES_MAX). */
  private txBytes = 0
  private ackCounter = 0
  private closed = false
  /** What CONNECT said (client id, login, remote address, protocol), for the console (#18). */
  readonly connectInfo: ConnectInfo
  readonly connectedAt: number

  get isClosed(): boolean {
    return this.closed
  }

  constructor(
    private readonly broker: Broker,
    readonly sessionNo: number,
    info: ConnectInfo,
  ) {
    this.clientId = info.clientId ? info.clientId : null
    this.remoteAddress = info.remoteAddress
    this.subject = info.subject ?? null
    this.sessionId = `${info.clientId ? info.clientId : 'session'}-${sessionNo}`
    this.connectInfo = { ...info }
    this.connectedAt = broker.clock.now()
  }

  /** Management (#18): this session's subscriptions with prefetch and in-flight counts (browsers included). */
  subscriptionsInfo(): {
    id: string
    destination: string
    ack: string
    prefetch: number
    inflight: number
    selector: boolean
    browser: boolean
  }[] {
    const out: {
      id: string
      destination: string
      ack: string
      prefetch: number
      inflight: number
      selector: boolean
      browser: boolean
    }[] = []
    for (const c of this.consumers.values()) {
      out.push({
        id: c.id,
        destination: c.queue.destination,
        ack: c.ack,
        prefetch: c.prefetch,
        inflight: c.inflight.size,
        selector: c.selector !== null || c.queue.subSelector !== null,
        browser: false,
      })
    }
    for (const id of this.browsers.keys())
      out.push({ id, destination: '', ack: 'auto', prefetch: 0, inflight: 0, selector: false, browser: true })
    return out
  }

  nextAckId(): string {
    return `${this.sessionNo}-${++this.ackCounter}`
  }

  trackInflight(f: InFlight): void {
    this.inflight.set(f.ackId, f)
  }

  private checkOpen(): void {
    this.broker.checkRunning()
    if (this.closed) throw new BrokerError('BROKER_SESSION_CLOSED', `session ${this.sessionId} is closed`)
  }

  private tx(txId: string, where: string): Transaction {
    const t = this.txs.get(txId)
    if (!t)
      throw new BrokerError(
        'BROKER_TX_UNKNOWN',
        `${where}: transaction ${JSON.stringify(txId)} is not open on this session`,
        { details: { transaction: txId } },
      )
    return t
  }

  async send(req: SendRequest, txId?: string): Promise<void> {
    this.checkOpen()
    this.broker.authorize(this, 'write', parseDestination(req.destination, 'SEND destination'))
    if (txId !== undefined) {
      const t = this.tx(txId, 'SEND')
      // Validate now so a bad SEND fails on its own frame, not at COMMIT.
      const dest = parseDestination(req.destination, 'SEND destination')
      const size = buildMessage(dest.stomp, req.headers, req.body, 'validation', 0, null).size
      if (t.sends.length + t.acks.length + t.nacks.length >= TX_OPS_MAX) {
        throw new BrokerError('BROKER_LIMIT', `transaction ${txId}: more than ${TX_OPS_MAX} operations`, {
          details: { limit: TX_OPS_MAX },
        })
      }
      const lim = this.broker.txBytesLimits()
      if (t.bytes + size > lim.transaction) {
        throw new BrokerError(
          'BROKER_LIMIT',
          `transaction ${txId}: SEND of ${size} bytes would hold ${t.bytes + size} bytes, over the transaction limit ${lim.transaction} (maxTransactionSize, sendFailIfNoSpace)`,
          { details: { limit: lim.transaction, bytes: t.bytes + size } },
        )
      }
      if (this.txBytes + size > lim.session) {
        throw new BrokerError(
          'BROKER_LIMIT',
          `transaction ${txId}: SEND of ${size} bytes would hold ${this.txBytes + size} bytes in this session's open transactions, over ${lim.session} (maxTransactionSizePerConnection, sendFailIfNoSpace)`,
          { details: { limit: lim.session, bytes: this.txBytes + size } },
        )
      }
      if (!this.broker.chargeTx(size)) {
        throw new BrokerError(
          'BROKER_LIMIT',
          `transaction ${txId}: SEND of ${size} bytes does not fit in the broker's memory limit (memoryUsage), not waiting inside a transaction (sendFailIfNoSpace)`,
          { details: { bytes: size } },
        )
      }
      t.bytes += size
      this.txBytes += size
      t.sends.push(req)
      return
    }
    await this.broker.commitBatch(this, [req], [], [])
  }

  subscribe(req: SubscribeRequest, onDelivery: (d: Delivery) => void): void {
    this.checkOpen()
    const where = `SUBSCRIBE id ${JSON.stringify(req.id)}`
    if (this.consumers.has(req.id) || this.browsers.has(req.id)) {
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: a subscription with this id already exists on this session`,
        { details: { id: req.id } },
      )
    }
    const dest = parseDestination(req.destination, `${where} destination`)
    this.broker.authorize(this, 'read', dest)
    this.broker.ensureRoom(dest)
    const selectorText = req.selector !== undefined && req.selector.trim() !== '' ? req.selector : null
    const selector = selectorText !== null ? Selector.parse(selectorText) : null
    if (req.prefetch !== undefined && (!Number.isSafeInteger(req.prefetch) || req.prefetch < 1)) {
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: activemq.prefetchSize ${req.prefetch} is not a positive integer (0 is not supported)`,
        { details: { prefetch: req.prefetch } },
      )
    }
    const isQueue = dest.kind === 'queue' || dest.kind === 'temp-queue'
    const policy = this.broker.policyFor(dest.stomp)
    if (req.browser) {
      if (!isQueue)
        throw new BrokerError(
          'BROKER_SUBSCRIPTION_INVALID',
          `${where}: browser:true is only supported on queues, not ${dest.stomp}`,
        )
      const b = new Browser(req.id)
      this.browsers.set(req.id, b)
      this.runBrowser(
        b,
        this.broker.queueFor(dest, this),
        selector,
        prefetchFor(req.prefetch, PREFETCH_BROWSER_DEFAULT, policy?.queueBrowserPrefetch),
        onDelivery,
      ).catch((e) => log.error(`browser ${req.id} failed`, e))
      return
    }
    const ack = req.ack ?? 'auto'
    if (ack !== 'auto' && ack !== 'client' && ack !== 'client-individual') {
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: ack mode ${JSON.stringify(ack)} is not auto, client or client-individual`,
      )
    }
    const priority = req.priority ?? 0
    if (!Number.isSafeInteger(priority))
      throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `${where}: activemq.priority ${priority} is not an integer`)
    let c: Consumer
    if (isQueue) {
      if (req.durableName)
        throw new BrokerError(
          'BROKER_SUBSCRIPTION_INVALID',
          `${where}: activemq.subscriptionName is only valid on topics, not ${dest.stomp}`,
        )
      const q = this.broker.queueFor(dest, this)
      c = new Consumer(
        this,
        req.id,
        q,
        ack,
        prefetchFor(req.prefetch, PREFETCH_QUEUE_DEFAULT, policy?.queuePrefetch),
        priority,
        req.exclusive ?? false,
        selector,
        onDelivery,
      )
      q.addConsumer(c)
    } else if (req.durableName) {
      if (dest.kind === 'temp-topic')
        throw new BrokerError(
          'BROKER_SUBSCRIPTION_INVALID',
          `${where}: durable subscriptions are not allowed on temporary topic ${dest.stomp}`,
        )
      if (!this.clientId)
        throw new BrokerError(
          'BROKER_SUBSCRIPTION_INVALID',
          `${where}: durable subscription ${JSON.stringify(req.durableName)} needs a client-id on CONNECT`,
        )
      const d = this.broker.durable(this.clientId, req.durableName)
      if (d?.active)
        throw new BrokerError(
          'BROKER_SUBSCRIPTION_INVALID',
          `${where}: durable subscription ${this.clientId}:${req.durableName} is already in use`,
        )
      const ds = this.broker.openDurable(this.clientId, req.durableName, dest, selectorText, req.noLocal ?? false)
      c = new Consumer(
        this,
        req.id,
        ds.queue,
        ack,
        prefetchFor(req.prefetch, PREFETCH_DURABLE_DEFAULT, policy?.durableTopicPrefetch),
        priority,
        false,
        null,
        onDelivery,
      )
      ds.active = c
      ds.queue.addConsumer(c)
    } else {
      const t = this.broker.topicFor(dest, this)
      const q = new MessageQueue(this.broker, 'subscription', dest.stomp, null)
      q.subSelector = selector
      q.noLocalSessionId = req.noLocal ? this.sessionId : null
      t.subs.add(q)
      c = new Consumer(
        this,
        req.id,
        q,
        ack,
        prefetchFor(req.prefetch, PREFETCH_TOPIC_DEFAULT, policy?.topicPrefetch),
        priority,
        false,
        null,
        onDelivery,
      )
      q.addConsumer(c)
    }
    this.consumers.set(req.id, c)
  }

  /** Deliver a queue snapshot; `batch` (the browser prefetch) messages go out between yields to the event loop. */
  private async runBrowser(
    b: Browser,
    q: MessageQueue,
    selector: Selector | null,
    batch: number,
    onDelivery: (d: Delivery) => void,
  ): Promise<void> {
    // A snapshot: what is in memory now, then what is paged out, read from the store without consuming.
    const mem = q.snapshot().map((e) => ({ msg: e.msg, redelivered: e.redeliveries > 0 || e.recovered === true }))
    const paged = q.pagedSnapshot()
    let n = 0
    const deliver = async (msg: BrokerMessage, redelivered: boolean): Promise<boolean> => {
      while (this.paused && !b.stopped && !this.closed) await new Promise<void>((r) => (b.wake = r))
      if (b.stopped || this.closed) return false
      if (!this.broker.isLive(msg)) return true
      if (selector && !selector.matches(headerSource(msg.headers, redelivered))) return true
      const headers = { ...msg.headers }
      if (redelivered) headers.redelivered = 'true'
      try {
        onDelivery({
          subscriptionId: b.id,
          ackId: `browse:${this.sessionNo}-${++n}`,
          messageId: msg.id,
          headers,
          body: msg.body,
          redelivered,
        })
      } catch (e) {
        log.error(`browser ${b.id} delivery callback threw`, e)
      }
      // Yield every `batch` messages so a large snapshot does not hold the event loop.
      if (n % batch === 0) await new Promise((r) => setImmediate(r))
      return true
    }
    for (const m of mem) if (!(await deliver(m.msg, m.redelivered))) return
    const store = this.broker.store
    if (store && q.key && (paged.rangeActive || paged.seqs.size > 0)) {
      let after = paged.rangeAfter
      if (!paged.rangeActive) {
        after = Infinity
        for (const x of paged.seqs) if (x < after) after = x
        after -= 1
      }
      for (let pages = 0; pages < 1_000_000; pages++) {
        const page = await store.load(q.key, after, 500)
        for (const m of page) {
          after = m.seq
          const inRange = paged.rangeActive && m.seq < this.broker.seqBoundary
          if (!inRange && !paged.seqs.has(m.seq)) continue
          if (!(await deliver(messageFromStored(m.messageId, m.headers, m.body), inRange))) return
        }
        if (page.length < 500) break
      }
    }
    while (this.paused && !b.stopped && !this.closed) await new Promise<void>((r) => (b.wake = r))
    if (b.stopped || this.closed) return
    this.browsers.delete(b.id)
    try {
      onDelivery({
        subscriptionId: b.id,
        ackId: `browse:${this.sessionNo}-end`,
        messageId: '0',
        redelivered: false,
        browserEnd: true,
        body: new Uint8Array(0),
        headers: { destination: q.destination, 'message-id': '0', browser: 'end' },
      })
    } catch (e) {
      log.error(`browser ${b.id} end callback threw`, e)
    }
  }

  async unsubscribe(id: string, opts: { removeDurable?: boolean; durableName?: string } = {}): Promise<void> {
    this.checkOpen()
    const b = this.browsers.get(id)
    if (b) {
      b.stopped = true
      b.wake?.()
      this.browsers.delete(id)
      return
    }
    const c = this.consumers.get(id)
    if (!c) {
      if (opts.removeDurable && opts.durableName && this.clientId) {
        const d = this.broker.durable(this.clientId, opts.durableName)
        if (!d)
          throw new BrokerError(
            'BROKER_SUBSCRIPTION_INVALID',
            `UNSUBSCRIBE: no durable subscription ${this.clientId}:${opts.durableName}`,
          )
        if (d.active)
          throw new BrokerError(
            'BROKER_SUBSCRIPTION_INVALID',
            `UNSUBSCRIBE: durable subscription ${this.clientId}:${opts.durableName} is in use by another subscription`,
          )
        await this.broker.removeDurable(d)
        return
      }
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `UNSUBSCRIBE: no subscription with id ${JSON.stringify(id)} on this session`,
        { details: { id } },
      )
    }
    this.closeConsumer(c)
    if (opts.removeDurable && c.queue.kind === 'durable') {
      const d = this.findDurableByQueue(c.queue)
      if (d) await this.broker.removeDurable(d)
    }
  }

  private findDurableByQueue(q: MessageQueue): ReturnType<Broker['durable']> {
    for (const s of this.broker.durableSubscriptions()) {
      const d = this.broker.durable(s.clientId, s.subscriptionName)
      if (d?.queue === q) return d
    }
    return undefined
  }

  /** Detach a consumer; its unacked deliveries go back to the queue (or are dropped with a non-durable subscription). */
  private closeConsumer(c: Consumer): void {
    c.closed = true
    this.consumers.delete(c.id)
    const q = c.queue
    q.removeConsumer(c)
    if (q.kind === 'durable') {
      const d = this.findDurableByQueue(q)
      if (d && d.active === c) d.active = null
    }
    const back = [...c.inflight.values()]
    c.inflight.clear()
    for (const f of back) this.inflight.delete(f.ackId)
    if (q.kind === 'subscription') {
      this.broker.topicFor(parseDestination(q.destination)).subs.delete(q)
      for (const f of back) q.finalize(f.entry, true)
      q.delete()
      return
    }
    // Redeliver in the original order: returning puts each at the head, so walk newest first.
    for (let i = back.length - 1; i >= 0; i--) q.returnEntry(back[i]!.entry)
  }

  private takeAcked(ackId: string, where: string): InFlight[] {
    const f = this.inflight.get(ackId)
    if (!f) {
      throw new BrokerError(
        'BROKER_ACK_INVALID',
        `${where}: ${JSON.stringify(ackId)} is not an unacknowledged delivery of this session`,
        { details: { ackId } },
      )
    }
    const c = f.consumer
    const list: InFlight[] = []
    if (c.ack === 'client') {
      // Cumulative: everything this subscription delivered up to and including this one.
      for (const [id, g] of c.inflight) {
        list.push(g)
        if (id === ackId) break
      }
    } else list.push(f)
    for (const g of list) {
      c.inflight.delete(g.ackId)
      this.inflight.delete(g.ackId)
    }
    c.queue.scheduleDispatch()
    return list
  }

  async ack(ackId: string, txId?: string): Promise<void> {
    this.checkOpen()
    if (ackId.startsWith('browse:')) return
    const t = txId !== undefined ? this.tx(txId, 'ACK') : null
    const list = this.takeAcked(ackId, 'ACK')
    if (t) {
      t.acks.push(...list)
      return
    }
    const writes: Promise<void>[] = []
    for (const f of list) {
      const p = f.entry.queue.finalize(f.entry, false)
      if (p) writes.push(p)
    }
    if (writes.length) await Promise.all(writes)
  }

  async nack(ackId: string, txId?: string): Promise<void> {
    this.checkOpen()
    if (ackId.startsWith('browse:')) return
    const t = txId !== undefined ? this.tx(txId, 'NACK') : null
    const f = this.inflight.get(ackId)
    if (!f)
      throw new BrokerError(
        'BROKER_ACK_INVALID',
        `NACK: ${JSON.stringify(ackId)} is not an unacknowledged delivery of this session`,
        { details: { ackId } },
      )
    // NACK applies to the one message, in every ack mode (ActiveMQ sends one poison ack).
    f.consumer.inflight.delete(ackId)
    this.inflight.delete(ackId)
    f.consumer.queue.scheduleDispatch()
    if (t) {
      t.nacks.push(f)
      return
    }
    await this.broker.commitBatch(this, [], [], [{ f, sub: f.consumer.id }])
  }

  begin(txId: string): void {
    this.checkOpen()
    if (this.txs.has(txId))
      throw new BrokerError(
        'BROKER_TX_UNKNOWN',
        `BEGIN: transaction ${JSON.stringify(txId)} is already open on this session`,
        { details: { transaction: txId } },
      )
    if (this.txs.size >= TX_PER_SESSION_MAX)
      throw new BrokerError('BROKER_LIMIT', `BEGIN: more than ${TX_PER_SESSION_MAX} open transactions on one session`, {
        details: { limit: TX_PER_SESSION_MAX },
      })
    this.txs.set(txId, { id: txId, sends: [], acks: [], nacks: [], bytes: 0 })
  }

  async commit(txId: string): Promise<void> {
    this.checkOpen()
    const t = this.tx(txId, 'COMMIT')
    this.txs.delete(txId)
    // Released before the batch: commitBatch charges what it keeps in memory itself (it may wait for memory).
    this.releaseTxBytes(t)
    try {
      await this.broker.commitBatch(
        this,
        t.sends,
        t.acks,
        t.nacks.map((f) => ({ f, sub: f.consumer.id })),
      )
    } catch (e) {
      // The batch did not happen: acked messages come back for redelivery, as on ABORT.
      this.returnTx(t)
      throw e
    }
  }

  async abort(txId: string): Promise<void> {
    this.checkOpen()
    const t = this.tx(txId, 'ABORT')
    this.txs.delete(txId)
    this.releaseTxBytes(t)
    this.returnTx(t)
  }

  private releaseTxBytes(t: Transaction): void {
    this.txBytes -= t.bytes
    this.broker.releaseTx(t.bytes)
    t.bytes = 0
  }

  /** Undo a transaction's acks and NACKs: back to unacked with the same ack ids (ActiveMQ STOMP ABORT). */
  private returnTx(t: Transaction): void {
    const back = [...t.acks, ...t.nacks]
    const requeue: InFlight[] = []
    for (const f of back) {
      if (!f.consumer.closed && this.consumers.get(f.consumer.id) === f.consumer) {
        // Appended in their original order, so a later cumulative ack covers them as the client expects.
        f.consumer.inflight.set(f.ackId, f)
        this.inflight.set(f.ackId, f)
      } else requeue.push(f)
    }
    // Returning puts each at the head of its queue: walk newest first to keep the original order.
    for (let i = requeue.length - 1; i >= 0; i--) {
      const e = requeue[i]!.entry
      if (e.queue.kind === 'subscription' && e.queue.deleted) e.queue.finalize(e, true)
      else e.queue.returnEntry(e)
    }
  }

  setDispatchPaused(paused: boolean): void {
    if (this.paused === paused) return
    this.paused = paused
    if (!paused) {
      for (const c of this.consumers.values()) c.queue.scheduleDispatch()
      for (const b of this.browsers.values()) {
        const w = b.wake
        b.wake = null
        w?.()
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.broker.rejectWaiters(this)
    for (const t of [...this.txs.values()]) {
      this.releaseTxBytes(t)
      this.returnTx(t)
    }
    this.txs.clear()
    for (const b of this.browsers.values()) {
      b.stopped = true
      const w = b.wake
      b.wake = null
      w?.()
    }
    this.browsers.clear()
    for (const c of [...this.consumers.values()]) this.closeConsumer(c)
    for (const name of this.tempDests) this.broker.deleteTemp(name)
    this.tempDests.clear()
    this.broker.releaseClientId(this)
  }
}
