/**
 * BatchCommitter: the one path for SENDs, transactional COMMITs, NACKs and routed (scheduler) messages. A batch
 * is validated whole, deduped (producer message ids), offered to the scheduler, charged to memory (flow control
 * may make it wait), written to the store as one atomic batch with every add, ack remove and DLQ move, and then
 * routed in memory, in its session's call order even when several of the session's store writes are in flight.
 * Owns that order (one promise chain per session, one for routed messages) and which queues a message goes to.
 *
 * This is the hot path (send → commit → store.write → dispatch): no await or allocation per message beyond
 * what the steps need. Messages are built in one place, ./message.ts `buildMessage`.
 */
import { BrokerError } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { PersistenceAdapter, StoreOp } from '../storage/types.ts'
import type { BrokerSession, SchedulerPort, SendRequest } from './types.ts'
import { isTemp, parseDestination, type DestinationName } from './destination.ts'
import type { DeadLetters } from './dead-letter.ts'
import type { Destinations, TempOwner } from './destinations.ts'
import type { FlowControl } from './flow-control.ts'
import type { MemoryUsage } from './memory-usage.ts'
import { buildMessage, dedupeKey, type BrokerMessage, type MessageIdGenerator } from './message.ts'
import type { InFlight, MessageQueue } from './queue.ts'
import type { RecentIds } from './recent-ids.ts'
import type { StoreWrites } from './store-writes.ts'
import { fanOut } from './topic.ts'

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
}

/** A NACKed delivery and the subscription it came from (for the DLQ cause). */
export interface Nack {
  f: InFlight
  sub: string
}

export class BatchCommitter {
  /** The scheduler, when one is plugged in (Broker.setScheduler). */
  scheduler: SchedulerPort | null = null
  /** The routing order of routed messages (no session). */
  routeChain: Promise<void> = Promise.resolve()
  private routedCounter = 0
  private readonly store: PersistenceAdapter | null

  constructor(
    private readonly clock: Clock,
    private readonly writes: StoreWrites,
    private readonly flow: FlowControl,
    private readonly destinations: Destinations,
    private readonly deadLetters: DeadLetters,
    private readonly recentIds: RecentIds,
    private readonly idGen: MessageIdGenerator,
    private readonly isStopped: () => boolean,
  ) {
    this.store = writes.store
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
    // Take this batch's place in the session's routing order now, at call time: later calls route after it even
    // when their own awaits (memory, store) finish first.
    const chainOwner = session ?? this
    const prev = chainOwner.routeChain
    let done!: () => void
    chainOwner.routeChain = new Promise<void>((r) => (done = r))
    try {
      await this.commitInOrder(prev, session, sends, acks, nacks, opts)
    } finally {
      done()
    }
  }

  /** The queues a message goes to: the queue, or every matching subscription of the topic. */
  private targets(dest: DestinationName, msg: BrokerMessage, session: BatchSession | null): MessageQueue[] {
    // A send finishing after its session closed must not re-create (and leak) a temp destination.
    if (isTemp(dest) && session?.isClosed && !this.destinations.has(dest.stomp)) return []
    if (dest.kind === 'queue' || dest.kind === 'temp-queue') return [this.destinations.queueFor(dest, session)]
    const t = this.destinations.topicFor(dest, session)
    t.published++
    const out: MessageQueue[] = []
    if (t.subs.size === 0) return out
    fanOut(t, msg, session?.clientId, out)
    return out
  }

  private async commitInOrder(
    prev: Promise<void>,
    session: BatchSession | null,
    sends: SendRequest[],
    acks: InFlight[],
    nacks: Nack[],
    opts: { skipScheduler?: boolean },
  ): Promise<void> {
    const now = this.clock.now()
    const flow = this.flow
    const prepared: { msg: BrokerMessage; dest: DestinationName; key: string | null }[] = []
    // 1. Validate every message first, so a bad one fails the batch before anything happens.
    const built = sends.map((req) => {
      const dest = parseDestination(req.destination, 'SEND destination')
      if (session) this.destinations.ensureRoom(dest)
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
        const d = flow.destUsage(r.dest.stomp)
        needs.set(flow.memory, (needs.get(flow.memory) ?? 0) + r.msg.size)
        needs.set(d, (needs.get(d) ?? 0) + r.msg.size)
      }
    }
    const needList = [...needs]
    if (needList.length) {
      try {
        await flow.acquire(
          needList,
          session,
          routed.find((r) => r.targets.some((q) => mustHold(r.msg, q)))?.dest.stomp ?? '?',
        )
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
        if (r.targets.some((q) => mustHold(r.msg, q))) r.msg.charged = [flow.memory, flow.destUsage(r.dest.stomp)]
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
      copy: this.deadLetters.copy(f.entry, `poison ack (NACK) from subscription ${sub}`),
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
          else flow.place(q, r.msg, seq)
        }
        flow.unref(r.msg)
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
