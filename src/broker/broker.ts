/**
 * Broker: the message-semantics core behind every connector, and the composition of its parts. It builds them
 * and owns what spans them: sessions and client ids, the authorization hook, the periodic expiry and
 * gcInactiveDestinations sweeps, metrics, stop, and the ports its parts reach it through (QueueHost for queues,
 * SessionHost for sessions). Knows no socket and no lock (see ./types.ts for the contract it implements).
 *
 * Where each idea lives:
 * - ./session.ts (acks, NACK, unsubscribe, close), ./subscribe.ts (SUBSCRIBE rules, prefetch defaults),
 *   ./queue-browser.ts, ./transactions.ts (per-session transactions and their limits)
 * - ./commit-batch.ts: the one path of SENDs, COMMITs, NACKs and routed messages (dedupe, scheduler, flow
 *   control, one store batch, routing in call order); ./topic.ts: topic fan-out; ./recent-ids.ts: dedupe window
 * - ./destinations.ts (registry, temp destinations, maxDestinations, gcInactiveDestinations), ./durable-subscriptions.ts
 * - ./flow-control.ts (memory limits, producer waits, paging decision), ./dead-letter.ts (DLQ policy and moves)
 * - ./store-writes.ts (store writes, grouped removes, self-fence on failure), ./recovery.ts
 *
 * STOMP sends are non-persistent unless `persistent:true`; persistent ones resolve `send()` only once the store
 * batch is durable. Non-persistent messages live in memory only. See /work/shared/reference/activemq-features.md §4
 * for the ActiveMQ behaviours the parts follow.
 */
import { BrokerError, assert } from '../lib/errors.ts'
import type { Destination } from '../model/index.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import type { BrokerConfig, PolicyEntryConfig } from '../config/types.ts'
import type { PersistenceAdapter, StoreOp, StoredMessage } from '../storage/types.ts'
import type {
  BrokerCore,
  BrokerMetrics,
  BrokerOptions as ContractOptions,
  BrokerSession,
  ConnectInfo,
  SchedulerPort,
  SendRequest,
  TopicTap,
} from './types.ts'
import { isManagementDestination } from './scheduler/job.ts'
import { DLQ, named, type DestinationName } from './destination.ts'
import { DESTINATIONS_DEFAULT } from './destination-limits.ts'
import { BatchCommitter, type Nack } from './commit-batch.ts'
import { DeadLetters, type DeadLetterPolicy } from './dead-letter.ts'
import { Destinations, destinationPolicy } from './destinations.ts'
import { DurableSubscriptions, type DurableSubscriptionInfo } from './durable-subscriptions.ts'
import { FlowControl } from './flow-control.ts'
import { MessageIdGenerator, type BrokerMessage } from './message.ts'
import type { InFlight, MessageQueue, QueueEntry, QueueHost } from './queue.ts'
import { DEDUPE_WINDOW_DEFAULT, RecentIds } from './recent-ids.ts'
import { recover } from './recovery.ts'
import { Session, type SessionHost } from './session.ts'
import { StoreWrites } from './store-writes.ts'
import { TopicTaps, type Topic } from './topic.ts'
import { SESSION_TX_BYTES_MAX, TX_BYTES_MAX } from './transactions.ts'

/** ActiveMQ's expireMessagesPeriod default. */
export const EXPIRE_PERIOD_DEFAULT_MS = 30_000

export interface BrokerOptions extends ContractOptions {
  /** Expiry sweep period for queued messages, ms (default 30000; 0 = only at dispatch). */
  expireMessagesPeriodMs?: number
  deadLetter?: Partial<DeadLetterPolicy>
  /** In-memory producer-dedupe window (message ids). */
  dedupeWindow?: number
}

function noStore(what: string): BrokerError {
  return new BrokerError('STORAGE_CLOSED', `${what}: this broker has no message store (persistent=false)`)
}

export class Broker implements BrokerCore, QueueHost, SessionHost {
  readonly clock: Clock
  readonly store: PersistenceAdapter | null
  seqBoundary = Infinity
  stopped = false
  readonly durables: DurableSubscriptions
  private readonly config: BrokerConfig
  private readonly flow: FlowControl
  private readonly writes: StoreWrites
  private readonly destinations: Destinations
  private readonly deadLetters: DeadLetters
  private readonly batches: BatchCommitter
  private readonly sessions = new Set<Session>()
  private readonly clientIds = new Map<string, Session>()
  private readonly idGen: MessageIdGenerator
  private sessionCounter = 0
  private expireTimer: unknown = null
  private readonly expirePeriodMs: number
  private purgeTimer: unknown = null
  private readonly authorizer: BrokerOptions['authorizer']
  private readonly taps = new TopicTaps()

  private constructor(opts: BrokerOptions) {
    this.config = opts.config
    this.store = opts.config.persistent ? opts.store : null
    this.clock = opts.clock ?? systemClock
    this.authorizer = opts.authorizer ?? null
    this.idGen = new MessageIdGenerator(this.clock.now())
    this.expirePeriodMs = opts.expireMessagesPeriodMs ?? EXPIRE_PERIOD_DEFAULT_MS
    this.flow = new FlowControl(this.config, this.clock, (d) => destinationPolicy(this.config, d))
    this.writes = new StoreWrites(this.store, () => this.stopped, opts.onStoreFailure ?? (() => {}))
    this.destinations = new Destinations(this.config, this, this.flow, this.clock)
    this.durables = new DurableSubscriptions(this, this.destinations, this.writes, this.clock)
    this.deadLetters = new DeadLetters(opts.deadLetter, this.writes, this.flow, () =>
      this.destinations.queueFor(named(DLQ)),
    )
    this.batches = new BatchCommitter(
      this.clock,
      this.writes,
      this.flow,
      this.destinations,
      this.deadLetters,
      new RecentIds(opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT),
      this.idGen,
      () => this.stopped,
      this.taps,
    )
  }

  /** Build a broker and recover queues and durable subscriptions from `opts.recovered` (store already open). */
  static async create(opts: BrokerOptions): Promise<Broker> {
    const b = new Broker(opts)
    if (b.store && opts.recovered)
      b.seqBoundary = await recover(b.store, opts.recovered, b.destinations, b.durables, b.idGen, b.writes)
    b.armExpirySweep()
    b.armPurgeSweep()
    return b
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
    await this.batches.commit(null, [req], [], [], { skipScheduler: true })
  }

  setScheduler(s: SchedulerPort | null): void {
    this.batches.scheduler = s
  }

  // Plug-in seams (types.ts BrokerCore): topic taps, the store under a plug-in's own keys, authorization, ids.

  addTopicTap(tap: TopicTap): () => void {
    return this.taps.add(tap)
  }

  async storeWrite(ops: StoreOp[]): Promise<number[]> {
    this.checkRunning()
    if (!this.store) throw noStore('storeWrite')
    return this.writes.write(ops)
  }

  async storeLoad(key: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    this.checkRunning()
    if (!this.store) throw noStore('storeLoad')
    return this.store.load(key, afterSeq, limit)
  }

  storeKeys(prefix: string): string[] {
    const out: string[] = []
    for (const k of this.writes.keys) if (k.startsWith(prefix)) out.push(k)
    return out.sort()
  }

  newMessageId(): string {
    return this.batches.newMessageId(null)
  }

  metrics(): BrokerMetrics {
    return {
      connections: this.sessions.size,
      destinations: this.destinations.metrics(),
      memoryBytes: this.flow.memory.used,
      memoryLimitBytes: this.flow.memory.limit,
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.clock.clearTimeout(this.expireTimer)
    this.clock.clearTimeout(this.purgeTimer)
    this.flow.rejectAll(new BrokerError('BROKER_STOPPED', 'broker stopped while the send waited for memory'))
    for (const s of [...this.sessions]) await s.close().catch(() => {})
    await this.writes.drain()
  }

  // ---------------------------------------------------------------------------------------------------------
  // Management (#18), status and tests: narrow accessors for ./management.ts; message semantics stay in the parts.

  /** The queue (`/queue/X`, `/temp-queue/X`) by name, if it exists. */
  queueNamed(name: string): MessageQueue | undefined {
    return this.destinations.queues.get(name)
  }

  /** Open sessions, for the console's connection list. */
  openSessions(): Session[] {
    return [...this.sessions]
  }

  /** Remove a queue or topic that holds no message and has no consumer or subscription; false when it is not so. */
  removeIdleDestination(name: string): boolean {
    return this.destinations.removeIdle(name)
  }

  /** Memory held per destination, bytes (the per-destination usage counters). */
  destinationMemoryBytes(name: string): number {
    return this.flow.destinationBytes(name)
  }

  /** Durable subscriptions known to the broker (for status/admin and tests). */
  durableSubscriptions(): DurableSubscriptionInfo[] {
    return this.durables.list()
  }

  /** One gcInactiveDestinations sweep; returns the destinations removed (at most `max`, 0 = no limit). */
  purgeInactive(max = 0): string[] {
    return this.destinations.purgeInactive(max)
  }

  // ---------------------------------------------------------------------------------------------------------
  // QueueHost

  chargeNow(msg: BrokerMessage, destination: string): void {
    this.flow.chargeNow(msg, destination)
  }

  unref(msg: BrokerMessage): void {
    this.flow.unref(msg)
  }

  removeStored(key: string, seq: number): Promise<void> {
    return this.writes.remove(key, seq)
  }

  expire(entry: QueueEntry): void {
    this.deadLetters.expire(entry)
  }

  memoryHigh(destination: string): boolean {
    return this.flow.memoryHigh(destination)
  }

  storeFailed(err: unknown): void {
    this.writes.failed(err)
  }

  // ---------------------------------------------------------------------------------------------------------
  // SessionHost

  get queueHost(): QueueHost {
    return this
  }

  checkRunning(): void {
    if (this.stopped) throw new BrokerError('BROKER_STOPPED', 'broker is stopped')
  }

  /** Byte limits of one transaction and of one session's open transactions (`<systemUsage maxTransactionSize…>`). */
  txBytesLimits(): { transaction: number; session: number } {
    const l = this.config.limits
    return {
      transaction: l.maxTransactionSize ?? TX_BYTES_MAX,
      session: l.maxTransactionSizePerConnection ?? SESSION_TX_BYTES_MAX,
    }
  }

  chargeTx(bytes: number): boolean {
    return this.flow.chargeTx(bytes)
  }

  releaseTx(bytes: number): void {
    this.flow.releaseTx(bytes)
  }

  /**
   * The authorization hook (ActiveMQ's AuthorizationBroker): `op` on `dest`, then `admin` when the client's use
   * would create it. The scheduler's management destination is never created, so it needs write only.
   */
  authorize(session: BrokerSession, op: 'read' | 'write', dest: Destination): void {
    const a = this.authorizer
    if (!a) return
    assert(session instanceof Session, 'authorize() with a session this broker did not connect')
    const d = { kind: dest.kind, name: dest.name }
    a.check(session.subject, op, d)
    if (this.destinations.has(named(dest).label)) return
    if (dest.kind !== 'queue' && dest.kind !== 'topic') return a.check(session.subject, 'admin', d)
    if (this.batches.scheduler && isManagementDestination(dest)) return
    a.check(session.subject, 'admin', d)
  }

  ensureRoom(dest: DestinationName): void {
    this.destinations.ensureRoom(dest)
  }

  /** The `<destinationPolicy>` entry for a queue or topic (temporary destinations have none), or null. */
  policyFor(destination: string): PolicyEntryConfig | null {
    return this.destinations.policyFor(destination)
  }

  queueFor(dest: DestinationName, creator: Session | null = null): MessageQueue {
    return this.destinations.queueFor(dest, creator)
  }

  topicFor(dest: DestinationName, creator: Session | null = null): Topic {
    return this.destinations.topicFor(dest, creator)
  }

  addSubscription(q: MessageQueue, creator: Session): void {
    this.destinations.addSubscription(q, creator)
  }

  removeSubscription(q: MessageQueue): void {
    this.destinations.removeSubscription(q)
  }

  commitBatch(session: Session, sends: SendRequest[], acks: InFlight[], nacks: Nack[]): Promise<void> {
    return this.batches.commit(session, sends, acks, nacks)
  }

  rejectWaiters(session: Session): void {
    this.flow.rejectWaiters(session)
  }

  deleteTemp(name: string): void {
    this.destinations.deleteTemp(name)
  }

  releaseClientId(s: Session): void {
    if (s.clientId && this.clientIds.get(s.clientId) === s) this.clientIds.delete(s.clientId)
    this.sessions.delete(s)
  }

  // ---------------------------------------------------------------------------------------------------------
  // Sweeps

  private armExpirySweep(): void {
    if (this.expirePeriodMs <= 0 || this.stopped) return
    this.expireTimer = this.clock.setTimeout(() => {
      const now = this.clock.now()
      for (const q of this.destinations.queues.values()) q.sweepExpired(now)
      this.durables.sweepExpired(now)
      for (const t of this.destinations.topics.values())
        for (const q of t.subs) if (q.kind === 'subscription') q.sweepExpired(now)
      this.armExpirySweep()
    }, this.expirePeriodMs)
    ;(this.expireTimer as { unref?: () => void })?.unref?.()
  }

  /** Every schedulePeriodForDestinationPurge: one gcInactiveDestinations sweep (./destinations.ts). */
  private armPurgeSweep(): void {
    const cfg = this.config.destinations ?? DESTINATIONS_DEFAULT
    if (cfg.schedulePeriodForDestinationPurge <= 0 || this.stopped) return
    this.purgeTimer = this.clock.setTimeout(() => {
      this.destinations.purgeInactive(cfg.maxPurgedDestinationsPerSweep)
      this.armPurgeSweep()
    }, cfg.schedulePeriodForDestinationPurge)
    ;(this.purgeTimer as { unref?: () => void })?.unref?.()
  }
}
