/**
 * BatchCommitter: the one path for SENDs, transactional COMMITs, NACKs and routed (scheduler) messages. A batch
 * is validated whole, deduped (producer message ids), offered to the scheduler, charged to memory (flow control
 * may make it wait), written to the store as one atomic batch with every add, ack remove and DLQ move, and then
 * routed in memory, in its session's call order even when several of the session's store writes are in flight.
 * Owns that order (one promise chain per session, one for routed messages) and which queues a message goes to.
 *
 * This is the hot path (send → commit → store.write → dispatch): no await or allocation per message beyond
 * what the steps need. Messages arrive built (connectors map onto the model's CoreMessage); the broker assigns a
 * message id when the request has none, dedupes on the model's dedupeKey, and adds the ops of SendRequest.extraOps
 * and of the topic taps (./topic.ts) to the same atomic store batch.
 */
import { BrokerError, assert } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import { type CoreMessage, dedupeKey, validateDestinationName } from '../model/index.ts'
import type { PersistenceAdapter, StoreOp } from '../storage/types.ts'
import type { BrokerSession, SchedulerPort, SendRequest } from './types.ts'
import { isQueue, isTemp, labelOf, named, type DestinationName } from './destination.ts'
import type { DeadLetters } from './dead-letter.ts'
import type { Destinations, TempOwner } from './destinations.ts'
import type { FlowControl } from './flow-control.ts'
import type { MemoryUsage } from './memory-usage.ts'
import { brokerMessage, type BrokerMessage, type MessageIdGenerator } from './message.ts'
import type { InFlight, MessageQueue } from './queue.ts'
import type { RecentIds } from './recent-ids.ts'
import type { StoreWrites } from './store-writes.ts'
import { fanOut, type TopicTaps } from './topic.ts'

const log = logger('broker')

/** What a batch needs of the session it commits for. */
export interface BatchSession extends BrokerSession, TempOwner {
  readonly sessionNo: number
  readonly clientId: string | null
  readonly isClosed: boolean
  /** Sends numbered for message ids. */
  sent: number
  /** The session's routing order: each batch routes after the one before it. */
  routeChain: Promise<void>
  /** Batches of this session that have not routed yet (0: routeChain has settled, nothing to wait for). */
  routePending: number
}

/** A NACKed (poisoned) delivery, the subscription it came from, and the client's cause, if it gave one. */
export interface Nack {
  f: InFlight
  sub: string
  /** The DLQ copy's `dlqDeliveryFailureCause`; without one it names the subscription that NACKed. */
  cause?: string
}

const NO_TAPS: readonly { ops: StoreOp[]; committed?: () => void }[] = []

/** One commit() call: the batch before it in its session's routing order (null: none to wait for), and its parts. */
interface Batch {
  prev: Promise<void> | null
  session: BatchSession | null
  sends: SendRequest[]
  acks: InFlight[]
  nacks: Nack[]
  opts: { skipScheduler?: boolean }
}

/**
 * The dedupe keys one batch took (in RecentIds) and has not settled yet: from its dedupe check to the end of its
 * store write (or its failure). A resend of one of them waits for that outcome instead of being acknowledged as a
 * duplicate of a write that may still fail: a failover client resends when its connection drops, and the first
 * copy's write can then fail (fenced, disk full, share gone) after the resend was receipted, which lost it.
 */
class KeyClaim {
  readonly keys: string[] = []
  private resolve!: () => void
  readonly settled = new Promise<void>((r) => (this.resolve = r))
  private done = false

  constructor(private readonly table: Map<string, KeyClaim>) {}

  take(key: string): void {
    this.keys.push(key)
    this.table.set(key, this)
  }

  settle(): void {
    if (this.done) return
    this.done = true
    for (const k of this.keys) if (this.table.get(k) === this) this.table.delete(k)
    this.resolve()
  }
}

export class BatchCommitter {
  /** The scheduler, when one is plugged in (Broker.setScheduler). */
  scheduler: SchedulerPort | null = null
  /** The routing order of routed messages (no session). */
  routeChain: Promise<void> = Promise.resolve()
  routePending = 0
  private routedCounter = 0
  /** Dedupe keys of batches whose store write has not ended yet (KeyClaim). */
  private readonly unsettled = new Map<string, KeyClaim>()
  private readonly store: PersistenceAdapter | null
  /** Store keys written since start with add ops (storeKeys()); recovery seeds it. */
  readonly writtenKeys: Set<string>

  constructor(
    private readonly clock: Clock,
    private readonly writes: StoreWrites,
    private readonly flow: FlowControl,
    private readonly destinations: Destinations,
    private readonly deadLetters: DeadLetters,
    private readonly recentIds: RecentIds,
    private readonly idGen: MessageIdGenerator,
    private readonly isStopped: () => boolean,
    private readonly taps: TopicTaps,
  ) {
    this.store = writes.store
    this.writtenKeys = writes.keys
  }

  /** A fresh broker message id (messages without one, plug-ins' newMessageId()). */
  newMessageId(session: BatchSession | null): string {
    return this.idGen.next(session?.sessionNo ?? 0, session ? ++session.sent : ++this.routedCounter)
  }

  /**
   * Commit one batch: dedupe, scheduler, flow control, one atomic store batch with every add and remove, then
   * in-memory routing in the session's call order.
   */
  async commit(
    session: BatchSession | null,
    sends: SendRequest[],
    acks: InFlight[],
    nacks: Nack[],
    opts: { skipScheduler?: boolean } = {},
  ): Promise<void> {
    // A batch with no sends (ACKs and NACKs of a COMMIT, a NACK) routes nothing: it takes no place in the order
    // and waits for no earlier batch. A NACK queued behind a send waiting for memory would keep the very bytes
    // that send waits for (the NACKed message's), a deadlock for a client producing and consuming on one session.
    if (sends.length === 0) return this.commitInOrder({ prev: null, session, sends, acks, nacks, opts })
    // Take this batch's place in the session's routing order now, at call time: later calls route after it even
    // when their own awaits (memory, store) finish first.
    const chainOwner = session ?? this
    // With no earlier batch still pending, the chain has settled: routing need not wait (no microtask per send).
    const prev = chainOwner.routePending > 0 ? chainOwner.routeChain : null
    let done!: () => void
    chainOwner.routeChain = new Promise<void>((r) => (done = r))
    chainOwner.routePending++
    try {
      await this.commitInOrder({ prev, session, sends, acks, nacks, opts })
    } finally {
      chainOwner.routePending--
      done()
    }
  }

  /** The queues a message goes to: the queue, or every matching subscription of the topic. */
  private targets(dest: DestinationName, msg: BrokerMessage, session: BatchSession | null): MessageQueue[] {
    // A send finishing after its session closed must not re-create (and leak) a temp destination.
    if (isTemp(dest) && session?.isClosed && !this.destinations.has(dest.label)) return []
    if (isQueue(dest)) return [this.destinations.queueFor(dest, session)]
    const t = this.destinations.topicFor(dest, session)
    t.published++
    const out: MessageQueue[] = []
    fanOut(this.destinations.subscriptionsMatching(dest), msg, session?.clientId, out)
    return out
  }

  private async commitInOrder(b: Batch): Promise<void> {
    // Only sends with a producer identity have dedupe keys (routed messages are not deduped).
    if (b.opts.skipScheduler || !b.sends.some((r) => r.message.producer !== null)) return this.commitClaimed(b, null)
    const claim = new KeyClaim(this.unsettled)
    try {
      await this.commitClaimed(b, claim)
    } finally {
      claim.settle()
    }
  }

  private async commitClaimed(
    { prev, session, sends, acks, nacks, opts }: Batch,
    claim: KeyClaim | null,
  ): Promise<void> {
    const flow = this.flow
    const prepared: { msg: BrokerMessage; dest: DestinationName; key: string | null; req: SendRequest }[] = []
    // 1. Validate every message first, so a bad one fails the batch before anything happens.
    const built = sends.map((req) => {
      let m: CoreMessage = req.message
      validateDestinationName(m.destination.name, 'SEND destination')
      const dest = named(m.destination)
      if (session) this.destinations.ensureRoom(dest)
      assert(!req.extraOps?.length || m.persistent, 'extraOps on a non-persistent message')
      const key = opts.skipScheduler ? null : dedupeKey(m)
      if (m.messageId === '') m = { ...m, messageId: this.newMessageId(session) }
      return { req: m === req.message ? req : { ...req, message: m }, dest, key }
    })
    // 2. Dedupe and scheduler. First wait until no other batch holds one of this batch's keys unsettled (holding
    // none meanwhile, so two batches cannot wait for each other); then decide and take every key with no await in
    // between, so two resends that waited for one failed write cannot both go on.
    if (claim) {
      for (let i = 0; i < built.length; ) {
        const key = built[i]!.key
        const other = key === null ? undefined : this.unsettled.get(key)
        if (other !== undefined && other !== claim) {
          await other.settled
          i = 0
        } else i++
      }
    }
    const fresh: typeof built = []
    for (const b of built) {
      if (b.key !== null && (this.recentIds.has(b.key) || (this.store?.isDuplicate(b.key) ?? false))) {
        log.debug(`duplicate send of ${b.key} to ${b.dest.label}: acknowledged, not stored again`)
        continue
      }
      if (b.key !== null) {
        this.recentIds.add(b.key)
        claim?.take(b.key)
      }
      fresh.push(b)
    }
    for (let i = 0; i < fresh.length; i++) {
      const b = fresh[i]!
      if (!opts.skipScheduler && this.scheduler && this.scheduler.claims(b.req)) {
        try {
          if (await this.scheduler.accept(b.req, session)) continue
        } catch (e) {
          // Keys of what the scheduler already took stay (those jobs are stored); the rest are not sent.
          for (const p of prepared) if (p.key !== null) this.recentIds.delete(p.key)
          for (const r of fresh.slice(i)) if (r.key !== null) this.recentIds.delete(r.key)
          throw e
        }
      }
      prepared.push({
        msg: brokerMessage(b.req.message, session?.sessionId ?? null),
        dest: b.dest,
        key: b.key,
        req: b.req,
      })
    }
    const forget = (): void => {
      for (const p of prepared) if (p.key !== null) this.recentIds.delete(p.key)
    }
    // 3. Targets and flow control: messages some non-pageable target must hold wait for memory (FIFO).
    const routed = prepared.map((p) => ({ ...p, targets: this.targets(p.dest, p.msg, session), tapped: NO_TAPS }))
    // Topic taps (protocol plug-ins' per-client state): their ops join this batch, their callbacks run in order.
    if (this.taps.size > 0)
      for (const r of routed)
        if (!isQueue(r.dest)) r.tapped = this.taps.collect(r.msg.message, { subscribers: r.targets.length })
    const needs = new Map<MemoryUsage, number>()
    const mustHold = (msg: BrokerMessage, q: MessageQueue): boolean =>
      !(msg.message.persistent && this.store !== null && q.key !== null)
    for (const r of routed) {
      if (r.targets.some((q) => mustHold(r.msg, q))) {
        const d = flow.destUsage(r.dest.label)
        needs.set(flow.memory, (needs.get(flow.memory) ?? 0) + r.msg.size)
        needs.set(d, (needs.get(d) ?? 0) + r.msg.size)
      }
    }
    const needList = [...needs]
    if (needList.length) {
      try {
        const wait = flow.acquire(
          needList,
          session,
          routed.find((r) => r.targets.some((q) => mustHold(r.msg, q)))?.dest.label ?? '?',
        )
        if (wait) await wait
      } catch (e) {
        forget()
        throw e
      }
      if (this.isStopped()) {
        flow.releaseNeeds(needList)
        forget()
        throw new BrokerError('BROKER_STOPPED', 'broker stopped')
      }
      for (const r of routed) {
        if (r.targets.some((q) => mustHold(r.msg, q))) r.msg.charged = [flow.memory, flow.destUsage(r.dest.label)]
      }
    }
    // 4. One atomic store batch: adds for persistent messages under stored keys, removes for acks, DLQ moves.
    const ops: StoreOp[] = []
    const addSlots: { msg: BrokerMessage; q: MessageQueue }[] = []
    if (this.store) {
      for (const r of routed) {
        if (!r.msg.message.persistent) continue
        for (const q of r.targets) {
          if (q.key === null) continue
          ops.push({ op: 'add', destination: q.key, message: r.msg.message })
          addSlots.push({ msg: r.msg, q })
        }
      }
      // Plug-ins' ops after the broker's adds, so the seqs of those adds stay the first ones of the batch.
      for (const r of routed) {
        if (!r.msg.message.persistent) continue
        if (r.req.extraOps) for (const o of r.req.extraOps) ops.push(o)
        for (const t of r.tapped) for (const o of t.ops) ops.push(o)
      }
      for (const f of acks) {
        const e = f.entry
        if (e.seq > 0 && e.queue.key && !e.queue.deleted)
          ops.push({ op: 'remove', destination: e.queue.key, seq: e.seq })
      }
    }
    let adds = 0
    for (const o of ops) if (o.op === 'add') adds++
    const dlq = nacks.map(({ f, sub, cause }) => ({
      f,
      copy: this.deadLetters.copy(f.entry, cause ?? `poison ack (NACK) from subscription ${sub}`),
      slot: -1,
    }))
    for (const d of dlq) {
      for (const o of this.deadLetters.ops(d.f.entry, d.copy)) {
        if (o.op === 'add') d.slot = adds++
        ops.push(o)
      }
    }
    let seqs: number[] = []
    if (ops.length) {
      try {
        seqs = await this.writes.write(ops)
      } catch (e) {
        for (const r of routed) if (r.msg.charged) flow.releaseCharge(r.msg)
        forget()
        throw e
      }
    }
    // Stored (or nothing to store): a resend of these keys is a duplicate from now on.
    claim?.settle()
    // 5. Route in the session's call order.
    {
      if (prev) await prev
      const seqOf = new Map<MessageQueue, number>()
      let slot = 0
      for (const r of routed) {
        seqOf.clear()
        for (const q of r.targets) {
          if (r.msg.message.persistent && this.store && q.key !== null) seqOf.set(q, seqs[slot++]!)
        }
        // Hold a reference while placing so the charge is not released between targets.
        r.msg.refs++
        for (const q of r.targets) {
          const seq = seqOf.get(q) ?? 0
          if (mustHold(r.msg, q)) q.enqueue(r.msg, 0)
          else flow.place(q, r.msg, seq)
        }
        flow.unref(r.msg)
        for (const t of r.tapped) if (t.committed) this.taps.runCommitted(t.committed)
      }
      for (const f of acks) {
        f.entry.queue.finalize(f.entry, true)
      }
      for (const d of dlq) {
        const q = d.f.entry.queue
        q.discardInflight(d.f.entry)
        if (d.copy) this.deadLetters.enqueue(d.copy, d.slot >= 0 ? seqs[d.slot]! : 0)
      }
    }
  }
}
