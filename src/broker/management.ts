/**
 * BrokerManagement: the operator's operations on a running broker, for the admin console (#18): browse a queue by
 * page, send, delete one message, purge, move or copy messages to another queue, remove an idle destination,
 * list sessions with their subscriptions, list and remove scheduled jobs (./management-jobs.ts). It works through the narrow accessors
 * Broker and MessageQueue expose for it and through the broker's own send path; it owns no message semantics.
 *
 * What it sees: messages waiting in a queue, in memory or paged out to the store. Messages delivered and not yet
 * acknowledged belong to their consumer and are neither listed nor touched. A deep queue is read from the store a
 * page at a time (store.load), never loaded whole; skipping to an offset reads up to BROWSE_OFFSET_MAX messages.
 *
 * Not promised: atomicity across messages. A move adds the copy (durably, for persistent messages) before it
 * removes the original, so a crash in between leaves the message in both queues, never in neither.
 */
import { BrokerError } from '../lib/errors.ts'
import type { Broker } from './broker.ts'
import type { Session } from './session.ts'
import { type CoreMessage, copyMessage, prop } from '../model/index.ts'
import { parseDestination, type DestinationName } from './destination.ts'
import { brokerMessage, deliveredMessage, type BrokerMessage } from './message.ts'
import type { MessageQueue, QueueEntry } from './queue.ts'
import { ScheduledJobs, type JobInfo, type SchedulerView } from './management-jobs.ts'

export { JOBS_LIST_MAX, type JobInfo } from './management-jobs.ts'

/** Messages per browse page at most, and the deepest offset a browse may skip to (it reads what it skips). */
export const BROWSE_LIMIT_MAX = 200
export const BROWSE_OFFSET_MAX = 100_000
/** Characters of a body shown in a preview. */
export const BODY_PREVIEW_CHARS = 512
/** Messages a move/copy/purge/delete walks in one call, and ids one move may name. */
export const WALK_MAX = 1_000_000
export const SELECT_IDS_MAX = 1000
/** Stored messages read per store.load while walking a queue. */
const LOAD_PAGE = 500

export interface BrowsedMessage {
  id: string
  /** The message as it waits (redeliveryCount as its next delivery would carry it); the console spells it. */
  message: CoreMessage
  bodyBytes: number
  bodyPreview: string
  /** True when the preview is not valid UTF-8 text (shown as hex) or cut short. */
  bodyBinary: boolean
  bodyTruncated: boolean
  persistent: boolean
  priority: number
  redelivered: boolean
  /** Where the message waits: held in memory, or paged out to the store. */
  where: 'memory' | 'store'
}

export interface SessionInfo {
  sessionId: string
  clientId: string | null
  login: string | null
  remoteAddress: string
  protocol: string
  connectedAt: number
  subscriptions: ReturnType<Session['subscriptionsInfo']>
}

/** One waiting message as the walk finds it: an in-memory entry, or a paged-out stored message. */
type Item =
  | { kind: 'memory'; entry: QueueEntry; msg: BrokerMessage; redelivered: boolean }
  | { kind: 'store'; seq: number; msg: BrokerMessage; redelivered: boolean }

function preview(body: Uint8Array): { text: string; binary: boolean; truncated: boolean } {
  const head = body.subarray(0, BODY_PREVIEW_CHARS * 4)
  try {
    const s = new TextDecoder('utf-8', { fatal: true }).decode(head)
    const text = s.length > BODY_PREVIEW_CHARS ? s.slice(0, BODY_PREVIEW_CHARS) : s
    return { text, binary: false, truncated: text.length < s.length || head.length < body.length }
  } catch {
    // Binary (or a multi-byte character cut at the window's end): hex of the first bytes.
    const n = Math.min(body.length, BODY_PREVIEW_CHARS / 2)
    return { text: Buffer.from(body.subarray(0, n)).toString('hex'), binary: true, truncated: n < body.length }
  }
}

function notFound(what: string): never {
  throw new BrokerError('BROKER_DESTINATION_INVALID', what, {})
}

export class BrokerManagement {
  private readonly scheduledJobs: ScheduledJobs

  constructor(
    private readonly broker: Broker,
    scheduler: SchedulerView | null = null,
  ) {
    this.scheduledJobs = new ScheduledJobs(broker, scheduler, (m) => this.send(m))
  }

  /** The queue `name` names, or a coded error (a topic, or no such queue). */
  private queue(name: string): MessageQueue {
    const d = parseDestination(name, 'queue')
    if (d.kind !== 'queue' && d.kind !== 'temp-queue')
      throw new BrokerError(
        'BROKER_DESTINATION_INVALID',
        `queue: ${JSON.stringify(name)} is a ${d.kind}; only queues can be browsed or changed message by message`,
      )
    const q = this.broker.queueNamed(d.label)
    if (!q) notFound(`queue: ${JSON.stringify(name)} does not exist`)
    return q
  }

  /**
   * The waiting messages of `q` in delivery order as far as the queue knows it: in memory (highest priority first),
   * then paged out (store order). Both are snapshots taken at the start; the store is read LOAD_PAGE at a time.
   */
  private async *walk(q: MessageQueue): AsyncGenerator<Item> {
    const mem = q.snapshot()
    const paged = q.pagedSnapshot()
    for (const e of mem)
      yield { kind: 'memory', entry: e, msg: e.msg, redelivered: e.redeliveries > 0 || e.recovered === true }
    const store = this.broker.store
    if (!store || !q.key || (!paged.rangeActive && paged.seqs.size === 0)) return
    let after = paged.rangeAfter
    if (!paged.rangeActive) {
      after = Infinity
      for (const x of paged.seqs) if (x < after) after = x
      after -= 1
    }
    for (let read = 0; read < WALK_MAX; read += LOAD_PAGE) {
      const page = await store.load(q.key, after, LOAD_PAGE)
      for (const m of page) {
        after = m.seq
        const inRange = paged.rangeActive && m.seq < this.broker.seqBoundary && !paged.rangeDropped.has(m.seq)
        if (!inRange && !paged.seqs.has(m.seq)) continue
        yield {
          kind: 'store',
          seq: m.seq,
          msg: brokerMessage(m.message),
          redelivered: inRange,
        }
      }
      if (page.length < LOAD_PAGE) return
    }
  }

  /** One page of the waiting messages of a queue; `total` is the queue's depth (waiting plus in flight). */
  async browse(
    name: string,
    offset: number,
    limit: number,
  ): Promise<{
    destination: string
    offset: number
    limit: number
    depth: number
    inflight: number
    messages: BrowsedMessage[]
    more: boolean
  }> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset <= BROWSE_OFFSET_MAX))
      throw new BrokerError('BROKER_LIMIT', `browse offset ${offset}: expected 0..${BROWSE_OFFSET_MAX}`)
    if (!(Number.isSafeInteger(limit) && limit >= 1 && limit <= BROWSE_LIMIT_MAX))
      throw new BrokerError('BROKER_LIMIT', `browse limit ${limit}: expected 1..${BROWSE_LIMIT_MAX}`)
    const q = this.queue(name)
    const messages: BrowsedMessage[] = []
    let i = 0
    let more = false
    const now = this.broker.clock.now()
    for await (const it of this.walk(q)) {
      const m = it.msg.message
      if (m.expiration > 0 && m.expiration <= now) continue
      if (i++ < offset) continue
      if (messages.length === limit) {
        more = true
        break
      }
      const p = preview(m.body)
      messages.push({
        id: m.messageId,
        message: deliveredMessage(m, 0, it.redelivered),
        bodyBytes: m.body.length,
        bodyPreview: p.text,
        bodyBinary: p.binary,
        bodyTruncated: p.truncated,
        persistent: m.persistent,
        priority: m.priority,
        redelivered: it.redelivered,
        where: it.kind,
      })
    }
    return { destination: q.destination, offset, limit, depth: q.depth(), inflight: q.inflightCount, messages, more }
  }

  /** Take a walked item out of its queue if it still waits there; true when taken. */
  private take(q: MessageQueue, it: Item): boolean {
    return it.kind === 'memory' ? q.takeEntry(it.entry) : q.takePaged(it.seq)
  }

  /** Release what a taken item held: its memory reference and its store record. */
  private settle(q: MessageQueue, it: Item): Promise<void> | null {
    if (it.kind === 'memory') {
      this.broker.unref(it.msg)
      if (it.entry.seq > 0 && q.key) return this.broker.removeStored(q.key, it.entry.seq)
      return null
    }
    return q.key ? this.broker.removeStored(q.key, it.seq) : null
  }

  /** The send request that puts a copy of `msg` on `to`, with its message id, fields, properties and body. */
  private copyRequest(msg: BrokerMessage, from: string, to: DestinationName): { message: CoreMessage } {
    const c = copyMessage(msg.message, { destination: { kind: to.kind, name: to.name } })
    if (!c.properties.has('original-destination')) c.properties.set('original-destination', prop.string(from))
    return { message: c }
  }

  /**
   * Walk the queue and apply `act` to each item `pick` selects; passes repeat (bounded) while `all` and items
   * remain, since a message paged in during a walk is seen by the next pass. Returns how many were acted on.
   */
  private async each(
    q: MessageQueue,
    pick: (it: Item) => boolean,
    act: (it: Item) => Promise<boolean>,
    opts: { all: boolean; stopAfter?: number },
  ): Promise<number> {
    let n = 0
    for (let pass = 0; pass < 5; pass++) {
      let found = 0
      for await (const it of this.walk(q)) {
        if (!pick(it)) continue
        if (await act(it)) {
          n++
          found++
          if (opts.stopAfter !== undefined && n >= opts.stopAfter) return n
        }
      }
      if (!opts.all || found === 0) break
    }
    return n
  }

  /** Delete one waiting message by id; false when no waiting message has that id (consumed, in flight or unknown). */
  async deleteMessage(name: string, id: string): Promise<boolean> {
    const q = this.queue(name)
    const n = await this.each(
      q,
      (it) => it.msg.message.messageId === id,
      async (it) => {
        if (!this.take(q, it)) return false
        await this.settle(q, it)
        return true
      },
      { all: false, stopAfter: 1 },
    )
    return n > 0
  }

  /** Delete every waiting message; returns how many. In-flight messages stay with their consumers. */
  async purge(name: string): Promise<number> {
    const q = this.queue(name)
    const writes: Promise<void>[] = []
    const n = await this.each(
      q,
      () => true,
      async (it) => {
        if (!this.take(q, it)) return false
        const w = this.settle(q, it)
        if (w) writes.push(w)
        // Bound the removes waiting at once (the broker batches them per event-loop turn).
        if (writes.length >= 10_000) await Promise.all(writes.splice(0))
        return true
      },
      { all: true },
    )
    await Promise.all(writes)
    return n
  }

  /**
   * Move (or with `copy`, copy) waiting messages of queue `from` to queue `to`: those whose ids are listed, or all
   * of them when `ids` is null. Each copy keeps the message id, headers and body, and gets `original-destination`.
   */
  async move(from: string, to: string, ids: string[] | null, copy: boolean): Promise<number> {
    const q = this.queue(from)
    const target = parseDestination(to, 'move target')
    if (target.kind !== 'queue')
      throw new BrokerError(
        'BROKER_DESTINATION_INVALID',
        `move target: ${JSON.stringify(to)} is not a /queue/ destination`,
      )
    if (target.label === q.destination)
      throw new BrokerError('BROKER_DESTINATION_INVALID', `move target: ${JSON.stringify(to)} is the source queue`)
    if (ids !== null && ids.length > SELECT_IDS_MAX)
      throw new BrokerError(
        'BROKER_LIMIT',
        `move: ${ids.length} ids named; at most ${SELECT_IDS_MAX} per call (or none for all)`,
      )
    const wanted = ids === null ? null : new Set(ids)
    const done = new Set<string>()
    return this.each(
      q,
      (it) => (wanted === null || wanted.has(it.msg.message.messageId)) && !done.has(it.msg.message.messageId),
      async (it) => {
        if (copy) {
          done.add(it.msg.message.messageId)
          await this.broker.route(this.copyRequest(it.msg, q.destination, target))
          return true
        }
        if (!this.take(q, it)) return false
        // The copy first (durable once route resolves), then the original goes: never lost, at worst in both.
        await this.broker.route(this.copyRequest(it.msg, q.destination, target))
        await this.settle(q, it)
        return true
      },
      { all: wanted === null && !copy, stopAfter: wanted === null ? undefined : wanted.size },
    )
  }

  /** Remove an idle destination (no message, no consumer); a coded error otherwise. */
  removeDestination(name: string): void {
    const d = parseDestination(name, 'destination')
    if (!this.broker.removeIdleDestination(d.label)) {
      throw new BrokerError(
        'BROKER_DESTINATION_INVALID',
        `destination ${JSON.stringify(name)} does not exist, or still has messages, consumers or subscriptions; only an empty, idle destination can be deleted`,
      )
    }
  }

  /**
   * Send a message as a producer would (dedupe, scheduler, flow control), from a short-lived session named after
   * the console. The console builds the message (its JSON headers through the STOMP mapping); messageId '' gets
   * a broker id. `timestampDefaulted`: the sender gave no timestamp (scheduled copies then get their firing time).
   */
  async send(message: CoreMessage, timestampDefaulted = false): Promise<void> {
    const s = this.broker.connect({ remoteAddress: 'admin console', protocol: 'admin' })
    try {
      await s.send({ message, timestampDefaulted })
    } finally {
      await s.close()
    }
  }

  /** Sessions with their subscriptions. */
  sessions(): SessionInfo[] {
    return this.broker.openSessions().map((s) => ({
      sessionId: s.sessionId,
      clientId: s.clientId,
      login: s.connectInfo.login ?? null,
      remoteAddress: s.remoteAddress,
      protocol: s.connectInfo.protocol,
      connectedAt: s.connectedAt,
      subscriptions: s.subscriptionsInfo(),
    }))
  }

  /** Scheduled jobs in due order (at most JOBS_LIST_MAX), or null without a scheduler: ./management-jobs.ts. */
  jobs(): Promise<{ jobs: JobInfo[]; total: number; nextDueAt: number | null } | null> {
    return this.scheduledJobs.list()
  }

  /** Remove one scheduled job (id) or all (null): ./management-jobs.ts. */
  removeJobs(id: string | null): Promise<void> {
    return this.scheduledJobs.remove(id)
  }
}
