/**
 * Session: one connection's view of the broker: its consumers and browsers, its unacknowledged deliveries (ACK,
 * NACK, cumulative acks in `client` mode), its transactions, and the temporary destinations it created. It
 * reaches the broker only through SessionHost, the way a MessageQueue reaches it through QueueHost.
 *
 * ActiveMQ behaviours followed:
 * - NACK is a poison ack of the one message, in every ack mode: it goes to the DLQ (./dead-letter.ts) at once, no
 *   redelivery attempt left, with the client's cause (OpenWire's poisonCause) as `dlqDeliveryFailureCause`.
 * - Prefetch 0 is pull (ActiveMQ's MessagePull): such a consumer has no standing credit; pull() grants one-shot
 *   credit that dispatch uses up, cancelPull() takes back what is unused (the pull timed out), so a message goes
 *   only to a consumer that asked for it and waits in the queue for any consumer otherwise.
 * - Unacked messages of a closed consumer/session go back to the head of their queue with `redelivered:true`, no
 *   count limit. ABORT (and a failed COMMIT) returns the messages acked or NACKed in the transaction to the
 *   unacked state, as ActiveMQ STOMP does: their ack ids are valid again, and they are redelivered when the
 *   consumer or session closes (at once, if their consumer is already gone).
 * - Temporary destinations the session created are deleted (messages dropped) when it closes.
 */
import { BrokerError } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import type { Subject } from '../security/index.ts'
import type { PolicyEntryConfig } from '../config/types.ts'
import type { BrokerSession, ConnectInfo, Delivery, SendRequest, SubscribeRequest } from './types.ts'
import type { BatchSession, Nack } from './commit-batch.ts'
import { messageSize, validateDestinationName } from '../model/index.ts'
import { named, type DestinationName } from './destination.ts'
import type { DurableSubscriptions } from './durable-subscriptions.ts'
import type { Consumer, ConsumerSession, InFlight, MessageQueue, QueueHost } from './queue.ts'
import type { BrowseHost, QueueBrowser } from './queue-browser.ts'
import { subscribe } from './subscribe.ts'
import type { Topic } from './topic.ts'
import { SessionTransactions, type Transaction, type TxMemory } from './transactions.ts'

/** What a session needs of the broker. */
export interface SessionHost extends BrowseHost, TxMemory {
  readonly clock: Clock
  /** The host of the queues a session creates (non-durable topic subscriptions). */
  readonly queueHost: QueueHost
  readonly durables: DurableSubscriptions
  /** Throws BROKER_STOPPED once the broker stopped. */
  checkRunning(): void
  /** The authorization hook: throws when `session` may not `op` on `dest` (or create it). */
  authorize(session: Session, op: 'read' | 'write', dest: DestinationName): void
  /** Throws BROKER_LIMIT when `dest` does not exist and may not be created now. */
  ensureRoom(dest: DestinationName): void
  policyFor(destination: string): PolicyEntryConfig | null
  queueFor(dest: DestinationName, creator: Session): MessageQueue
  topicFor(dest: DestinationName, creator?: Session | null): Topic
  /** Register / unregister a topic subscription in the fan-out index (./destinations.ts). */
  addSubscription(q: MessageQueue, creator: Session): void
  removeSubscription(q: MessageQueue): void
  commitBatch(session: Session, sends: SendRequest[], acks: InFlight[], nacks: Nack[]): Promise<void>
  /** The session closed: its sends waiting for memory fail. */
  rejectWaiters(session: Session): void
  deleteTemp(name: string): void
  /** The session closed: forget it and free its client id. */
  releaseClientId(session: Session): void
}

/** One connection's view of the broker: subscriptions, unacked deliveries, transactions, temp destinations. */
export class Session implements BrokerSession, ConsumerSession, BatchSession {
  readonly sessionId: string
  readonly clientId: string | null
  readonly remoteAddress: string
  /** Who authenticated this session (null without an authentication plugin). */
  readonly subject: Subject | null
  paused = false
  sent = 0
  routeChain: Promise<void> = Promise.resolve()
  routePending = 0
  readonly tempDests = new Set<string>()
  private readonly consumers = new Map<string, Consumer>()
  private readonly browsers = new Map<string, QueueBrowser>()
  private readonly inflight = new Map<string, InFlight>()
  private readonly txs: SessionTransactions
  private ackCounter = 0
  private closed = false
  /** What CONNECT said (client id, login, remote address, protocol), for the console (#18). */
  readonly connectInfo: ConnectInfo
  readonly connectedAt: number

  get isClosed(): boolean {
    return this.closed
  }

  constructor(
    private readonly host: SessionHost,
    readonly sessionNo: number,
    info: ConnectInfo,
  ) {
    this.clientId = info.clientId ? info.clientId : null
    this.remoteAddress = info.remoteAddress
    this.subject = info.subject ?? null
    this.sessionId = `${info.clientId ? info.clientId : 'session'}-${sessionNo}`
    this.connectInfo = { ...info }
    this.connectedAt = host.clock.now()
    this.txs = new SessionTransactions(host)
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
    const out: ReturnType<Session['subscriptionsInfo']> = []
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

  // For ./subscribe.ts: the session's subscriptions by id.

  hasSubscription(id: string): boolean {
    return this.consumers.has(id) || this.browsers.has(id)
  }

  addConsumer(c: Consumer): void {
    this.consumers.set(c.id, c)
  }

  addBrowser(b: QueueBrowser): void {
    this.browsers.set(b.id, b)
  }

  removeBrowser(id: string): void {
    this.browsers.delete(id)
  }

  private checkOpen(): void {
    this.host.checkRunning()
    if (this.closed) throw new BrokerError('BROKER_SESSION_CLOSED', `session ${this.sessionId} is closed`)
  }

  async send(req: SendRequest, txId?: string): Promise<void> {
    this.checkOpen()
    const dest = req.message.destination
    validateDestinationName(dest.name, 'SEND destination')
    this.host.authorize(this, 'write', named(dest))
    if (txId !== undefined) {
      const t = this.txs.get(txId, 'SEND')
      this.txs.addSend(t, req, messageSize(req.message))
      return
    }
    await this.host.commitBatch(this, [req], [], [])
  }

  subscribe(req: SubscribeRequest, onDelivery: (d: Delivery) => void): void {
    this.checkOpen()
    subscribe(this.host, this, req, onDelivery)
  }

  async unsubscribe(id: string, opts: { removeDurable?: boolean; durableName?: string } = {}): Promise<void> {
    this.checkOpen()
    const b = this.browsers.get(id)
    if (b) {
      b.stop()
      this.browsers.delete(id)
      return
    }
    const c = this.consumers.get(id)
    const durables = this.host.durables
    if (!c) {
      if (opts.removeDurable && opts.durableName && this.clientId) {
        const d = durables.get(this.clientId, opts.durableName)
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
        await durables.remove(d)
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
      const d = durables.byQueue(c.queue)
      if (d) await durables.remove(d)
    }
  }

  /** Detach a consumer; its unacked deliveries go back to the queue (or are dropped with a non-durable subscription). */
  private closeConsumer(c: Consumer): void {
    c.closed = true
    this.consumers.delete(c.id)
    const q = c.queue
    q.removeConsumer(c)
    if (q.kind === 'durable') {
      const d = this.host.durables.byQueue(q)
      if (d && d.active === c) d.active = null
    }
    const back = [...c.inflight.values()]
    c.inflight.clear()
    for (const f of back) this.inflight.delete(f.ackId)
    if (q.kind === 'subscription') {
      this.host.removeSubscription(q)
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
    const t = txId !== undefined ? this.txs.get(txId, 'ACK') : null
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

  async nack(ackId: string, txId?: string, cause?: string): Promise<void> {
    this.checkOpen()
    if (ackId.startsWith('browse:')) return
    const t = txId !== undefined ? this.txs.get(txId, 'NACK') : null
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
    const n: Nack = cause === undefined ? { f, sub: f.consumer.id } : { f, sub: f.consumer.id, cause }
    if (t) {
      t.nacks.push(n)
      return
    }
    await this.host.commitBatch(this, [], [], [n])
  }

  /** The consumer `subscriptionId` of this session, which must have been subscribed with prefetch 0. */
  private pullConsumer(subscriptionId: string, where: string): Consumer {
    const c = this.consumers.get(subscriptionId)
    if (c === undefined)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: no consumer with id ${JSON.stringify(subscriptionId)} on this session`,
        { details: { id: subscriptionId } },
      )
    if (c.prefetch !== 0)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: consumer ${JSON.stringify(subscriptionId)} has prefetch ${c.prefetch}; only prefetch 0 consumers pull`,
        { details: { id: subscriptionId, prefetch: c.prefetch } },
      )
    return c
  }

  pull(subscriptionId: string, count = 1): void {
    this.checkOpen()
    this.pullConsumer(subscriptionId, 'PULL').grantPull(count)
  }

  cancelPull(subscriptionId: string): number {
    this.checkOpen()
    const c = this.pullConsumer(subscriptionId, 'PULL cancel')
    const unused = c.pullCredit
    c.pullCredit = 0
    return unused
  }

  setPrefetch(subscriptionId: string, prefetch: number): void {
    this.checkOpen()
    const c = this.consumers.get(subscriptionId)
    if (c === undefined)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `PREFETCH: no consumer with id ${JSON.stringify(subscriptionId)} on this session`,
        { details: { id: subscriptionId } },
      )
    if (!Number.isSafeInteger(prefetch) || prefetch < 0)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `PREFETCH ${JSON.stringify(subscriptionId)}: ${prefetch} is not a whole number of 0 or more`,
        { details: { id: subscriptionId, prefetch } },
      )
    c.prefetch = prefetch
    // Pull credit belongs to prefetch 0; a consumer that leaves it drops what it was granted.
    if (prefetch > 0) c.pullCredit = 0
    c.queue.scheduleDispatch()
  }

  begin(txId: string): void {
    this.checkOpen()
    this.txs.begin(txId)
  }

  async commit(txId: string): Promise<void> {
    this.checkOpen()
    // Its bytes are released before the batch: commitBatch charges what it keeps in memory itself (it may wait).
    const t = this.txs.end(txId, 'COMMIT')
    try {
      await this.host.commitBatch(this, t.sends, t.acks, t.nacks)
    } catch (e) {
      // The batch did not happen: acked messages come back for redelivery, as on ABORT.
      this.returnTx(t)
      throw e
    }
  }

  async abort(txId: string): Promise<void> {
    this.checkOpen()
    this.returnTx(this.txs.end(txId, 'ABORT'))
  }

  /** Undo a transaction's acks and NACKs: back to unacked with the same ack ids (ActiveMQ STOMP ABORT). */
  private returnTx(t: Transaction): void {
    const back = [...t.acks, ...t.nacks.map((n) => n.f)]
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
      for (const b of this.browsers.values()) b.resume()
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.host.rejectWaiters(this)
    this.txs.endAll((t) => this.returnTx(t))
    for (const b of this.browsers.values()) b.stop()
    this.browsers.clear()
    for (const c of [...this.consumers.values()]) this.closeConsumer(c)
    for (const name of this.tempDests) this.host.deleteTemp(name)
    this.tempDests.clear()
    this.host.releaseClientId(this)
  }
}
