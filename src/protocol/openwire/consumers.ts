/**
 * One OpenWire connection's consumers: ConsumerInfo → a broker subscription, deliveries → MessageDispatch, and
 * MessageAck of every type back onto the broker's per-delivery acks. Each consumer subscribes in the broker's
 * individual-ack mode and keeps its dispatched, not yet settled deliveries in dispatch order, keyed by message id,
 * so ActiveMQ's range acks resolve here:
 *
 * - STANDARD, UNMATCHED: every delivery up to and including lastMessageId (ActiveMQ's cumulative ack).
 * - INDIVIDUAL: lastMessageId alone. POISON, EXPIRED: firstMessageId..lastMessageId to the broker's NACK, which
 *   dead-letters at once; the poisonCause travels as Java's Throwable.toString() ("class: message"), which ActiveMQ
 *   puts on the DLQ copy as dlqDeliveryFailureCause.
 * - DELIVERED inside a transaction: the range is acked in that transaction at once, which frees the prefetch
 *   window as ActiveMQ's delivered ack does; the STANDARD ack at commit then finds those settled. Outside a
 *   transaction it widens the window through the consumer's DeliveredWindow (delivered-window.ts). REDELIVERED
 *   only informs the broker and changes nothing here.
 * - A transaction's acks come back as unsettled on rollback (the client redelivers them itself, counting
 *   redeliveries, and acks them again), as the broker's abort returns them.
 *
 * Prefetch 0 (MessagePull): the subscription has prefetch 0 at the broker, so nothing is dispatched to it but what
 * a pull asks for: a MessagePull is the core's pull() (one message), and a pull that times out (or a receiveNoWait
 * pull, after PULL_NO_WAIT_MS) takes its credit back with cancelPull() and is answered with an empty
 * MessageDispatch. Nothing is held here: a message no consumer pulled stays in the queue for any consumer. A
 * browser's end is an empty MessageDispatch too. ConsumerControl changes a consumer's prefetch at the broker, pull
 * to push and back.
 */
import type { Clock } from '../../lib/clock.ts'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type * as W from './commands.ts'
import { AckType } from './command-types.ts'
import type { CoreDelivery, CoreSession, CoreSubscribeRequest } from './core-port.ts'
import { DeliveredWindow, type Pending, type WindowBudget } from './delivered-window.ts'
import { fromWireDestination, messageIdString, toWireMessage } from './message-mapping.ts'

const log = logger('openwire')

/** How long a receiveNoWait pull (timeout -1) waits for the broker's dispatch before answering empty. */
export const PULL_NO_WAIT_MS = 25
/** Consumers one connection may have open. */
export const CONSUMERS_MAX = 10_000

export interface ConsumerState {
  readonly key: string
  readonly info: W.ConsumerInfo
  readonly sessionKey: string
  /** Prefetch 0: the broker dispatches only what a waiting pull asked for. */
  pull: boolean
  /** The prefetch at the broker: ConsumerInfo's, then the last ConsumerControl's. */
  prefetch: number
  /** Dispatched, not settled; insertion order is dispatch order. */
  readonly pending: Map<string, Pending>
  readonly window: DeliveredWindow
  pullWaiting: boolean
  pullTimer: unknown
}

/** Java's Throwable.toString() of a wire throwable ("class: message", or the class alone), as ActiveMQ records it. */
export function throwableText(t: W.WireThrowable | null): string | undefined {
  if (t === null) return undefined
  const name = t.className ?? 'java.lang.Throwable'
  return t.message === null ? name : `${name}: ${t.message}`
}

export function consumerKey(id: W.ConsumerId | null): string {
  return id === null ? 'null' : `${id.connectionId}:${id.sessionId}:${id.value}`
}

export function txKey(t: W.TransactionId | null): string | undefined {
  if (t === null) return undefined
  if (t.type === 'LocalTransactionId') return `${t.connectionId?.value}:${t.value}`
  throw new BrokerError('OPENWIRE_UNSUPPORTED', 'openwire: XA transactions are not supported; use local transactions')
}

export interface ConsumerBookDeps {
  session: CoreSession
  clock: Clock
  write: (c: W.Command) => void
}

export class ConsumerBook {
  private readonly consumers = new Map<string, ConsumerState>()
  private brokerSeq = 0n
  private readonly budget: WindowBudget = { open: 0 }

  constructor(private readonly deps: ConsumerBookDeps) {}

  get size(): number {
    return this.consumers.size
  }

  /** ConsumerInfo: subscribes (pull consumers with prefetch 0). Throws BrokerError for a refused consumer. */
  add(info: W.ConsumerInfo, sessionKey: string): void {
    const key = consumerKey(info.consumerId)
    if (this.consumers.has(key))
      throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `openwire ConsumerInfo: consumer ${key} already exists`)
    if (this.consumers.size >= CONSUMERS_MAX)
      throw new BrokerError(
        'BROKER_LIMIT',
        `openwire ConsumerInfo: ${CONSUMERS_MAX} consumers are open on this connection`,
      )
    if (info.retroactive)
      throw new BrokerError(
        'OPENWIRE_UNSUPPORTED',
        `openwire ConsumerInfo ${key}: retroactive consumers are not supported (drop consumer.retroactive=true)`,
      )
    if (info.prefetchSize < 0)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `openwire ConsumerInfo ${key}: prefetchSize ${info.prefetchSize} is negative`,
      )
    const c: ConsumerState = {
      key,
      info,
      sessionKey,
      pull: info.prefetchSize === 0 && !info.browser,
      prefetch: info.prefetchSize,
      pending: new Map(),
      window: new DeliveredWindow(this.deps.session, key, this.budget),
      pullWaiting: false,
      pullTimer: undefined,
    }
    // Validate the destination before anything is registered.
    const request = this.request(c)
    this.consumers.set(key, c)
    try {
      this.deps.session.subscribe(request, (d) => this.onDelivery(c, d))
    } catch (e) {
      this.consumers.delete(c.key)
      throw e
    }
  }

  private request(c: ConsumerState): CoreSubscribeRequest {
    const i = c.info
    const dest = fromWireDestination(i.destination, `ConsumerInfo ${c.key} destination`, true)
    const durable = i.subscriptionName !== null && i.subscriptionName !== '' && dest.kind === 'topic'
    return {
      id: c.key,
      destination: dest,
      ack: 'client-individual',
      selector: i.selector ?? undefined,
      // A browser reads ahead (its prefetch 0 means the client's default); a consumer's 0 is pull mode.
      prefetch: i.browser ? Math.max(1, i.prefetchSize) : i.prefetchSize,
      exclusive: i.exclusive || undefined,
      priority: i.priority !== 0 ? i.priority : undefined,
      durableName: durable ? i.subscriptionName! : undefined,
      browser: i.browser || undefined,
      noLocal: i.noLocal || undefined,
    }
  }

  private onDelivery(c: ConsumerState, d: CoreDelivery): void {
    if (this.consumers.get(c.key) !== c) return
    if (d.browserEnd) return this.dispatchEmpty(c)
    this.dispatch(c, d)
  }

  private dispatch(c: ConsumerState, d: CoreDelivery): void {
    if (c.pull) {
      c.pullWaiting = false
      if (c.pullTimer !== undefined) this.deps.clock.clearTimeout(c.pullTimer)
      c.pullTimer = undefined
    }
    const message = toWireMessage(d.message, d.message.redeliveryCount, ++this.brokerSeq)
    message.jmsxGroupFirstForConsumer = d.groupFirst === true
    const k = messageIdString(message.messageId!)
    if (!c.info.browser) c.pending.set(k, { ackId: d.ackId, state: 'open', txId: null })
    this.deps.write({
      type: 'MessageDispatch',
      commandId: 0,
      responseRequired: false,
      consumerId: c.info.consumerId,
      destination: c.info.destination,
      message,
      redeliveryCounter: d.message.redeliveryCount,
    })
  }

  private dispatchEmpty(c: ConsumerState): void {
    if (c.pull) {
      c.pullWaiting = false
      c.pullTimer = undefined
    }
    this.deps.write({
      type: 'MessageDispatch',
      commandId: 0,
      responseRequired: false,
      consumerId: c.info.consumerId,
      destination: c.info.destination,
      message: null,
      redeliveryCounter: 0,
    })
  }

  /**
   * MessagePull (prefetch 0): one message when the broker has one for this consumer, or an empty dispatch at the
   * timeout (0: none), whose cancelPull makes sure no message follows it.
   */
  pull(p: W.MessagePull): void {
    const c = this.consumers.get(consumerKey(p.consumerId))
    if (c === undefined || !c.pull || c.pullWaiting) return
    this.deps.session.pull(c.key)
    c.pullWaiting = true
    const timeout = Number(p.timeout)
    if (timeout !== 0) {
      const ms = timeout < 0 ? PULL_NO_WAIT_MS : timeout
      c.pullTimer = this.deps.clock.setTimeout(() => {
        if (!c.pullWaiting || this.consumers.get(c.key) !== c) return
        this.deps.session.cancelPull(c.key)
        this.dispatchEmpty(c)
      }, ms)
    }
  }

  /**
   * ConsumerControl with a prefetch: ActiveMQ's failover transport restores consumers with prefetch 0 after a
   * reconnect and sends their real prefetch this way once it has processed the interruption; ActiveMQ applies any
   * such change to the subscription (PrefetchSubscription.setPrefetchSize). A pull consumer given a window becomes a
   * push consumer (a waiting pull is dropped with its credit: the client stopped pulling), and one given 0 pulls.
   */
  control(cc: W.ConsumerControl): void {
    const c = this.consumers.get(consumerKey(cc.consumerId))
    if (c === undefined || c.info.browser) return
    if (cc.prefetch < 0)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `openwire ConsumerControl ${c.key}: prefetch ${cc.prefetch} is negative; expected 0 (pull) or more`,
      )
    if (cc.prefetch === c.prefetch) return
    log.debug(`openwire ConsumerControl ${c.key}: prefetch -> ${cc.prefetch}`)
    if (c.pullTimer !== undefined) this.deps.clock.clearTimeout(c.pullTimer)
    c.pullTimer = undefined
    c.pullWaiting = false
    this.deps.session.setPrefetch(c.key, cc.prefetch)
    c.pull = cc.prefetch === 0
    c.prefetch = cc.prefetch
  }

  /** MessageAck: settles the range (see the file header). Resolves when the broker has the acks. */
  async ack(a: W.MessageAck): Promise<void> {
    const c = this.consumers.get(consumerKey(a.consumerId))
    if (c === undefined || c.info.browser) return
    const tx = txKey(a.transactionId)
    const last = a.lastMessageId === null ? null : messageIdString(a.lastMessageId)
    if (last === null || !c.pending.has(last)) {
      log.debug(`openwire ack type ${a.ackType} for ${last} on ${c.key}: not an unsettled delivery, ignored`)
      return
    }
    const first = a.firstMessageId === null ? null : messageIdString(a.firstMessageId)
    switch (a.ackType) {
      case AckType.REDELIVERED:
        return
      case AckType.DELIVERED: {
        const keys = this.range(c, null, last)
        if (tx !== undefined) return this.settle(c, keys, tx, false)
        const work: Promise<void>[] = []
        c.window.widen(
          keys.map((k) => [k, c.pending.get(k)!]),
          work,
        )
        await Promise.all(work)
        return
      }
      case AckType.INDIVIDUAL:
        return this.settle(c, [last], tx, false)
      case AckType.STANDARD:
      case AckType.UNMATCHED:
        return this.settle(c, this.range(c, null, last), tx, false)
      case AckType.POISON:
      case AckType.EXPIRED:
        return this.settle(
          c,
          this.range(c, first !== null && c.pending.has(first) ? first : null, last),
          tx,
          true,
          throwableText(a.poisonCause),
        )
      default:
        throw new BrokerError('BROKER_ACK_INVALID', `openwire MessageAck: ackType ${a.ackType} is not one of 0..6`)
    }
  }

  /** Keys from `first` (or the oldest) to `last` that no client transaction and no client ack has settled yet. */
  private range(c: ConsumerState, first: string | null, last: string): string[] {
    const out: string[] = []
    let on = first === null
    for (const [k, p] of c.pending) {
      if (k === first) on = true
      if (on && (p.state === 'open' || p.state === 'window')) out.push(k)
      if (k === last) break
    }
    return out
  }

  /**
   * `poison`: the keys go to the DLQ; `cause` is the client's poisonCause as text (undefined: the broker's own).
   */
  private async settle(
    c: ConsumerState,
    keys: string[],
    tx: string | undefined,
    poison: boolean,
    cause?: string,
  ): Promise<void> {
    const work: Promise<void>[] = []
    const settled = (k: string) => c.pending.delete(k)
    if (tx === undefined && !poison) {
      const inWindow: string[] = []
      for (const k of keys) {
        const p = c.pending.get(k)
        if (p === undefined) continue
        if (p.state === 'window') inWindow.push(k)
        else if (p.state === 'open') {
          c.pending.delete(k)
          work.push(this.deps.session.ack(p.ackId))
        }
      }
      c.window.acknowledge(inWindow, work, settled)
    } else {
      // A transaction's or a poison ack's members leave the window first, unacked, then settle as open ones.
      c.window.release(keys, work, settled)
      for (const k of keys) {
        const p = c.pending.get(k)
        if (p === undefined || p.state !== 'open') continue
        if (tx === undefined) c.pending.delete(k)
        else {
          p.state = 'tx'
          p.txId = tx
        }
        work.push(poison ? this.deps.session.nack(p.ackId, tx, cause) : this.deps.session.ack(p.ackId, tx))
      }
    }
    await Promise.all(work)
  }

  /** After a commit: the transaction's acks are final. After a rollback: they are unsettled again. */
  endTransaction(tx: string, committed: boolean): void {
    for (const c of this.consumers.values())
      for (const [k, p] of c.pending) {
        if (p.state !== 'tx' || p.txId !== tx) continue
        if (committed) c.pending.delete(k)
        else {
          p.state = 'open'
          p.txId = null
        }
      }
  }

  /** RemoveInfo of a consumer: the broker returns its unsettled deliveries to the queue. */
  async remove(id: W.ConsumerId | null): Promise<void> {
    const c = this.consumers.get(consumerKey(id))
    if (c === undefined) return
    this.consumers.delete(c.key)
    if (c.pullTimer !== undefined) this.deps.clock.clearTimeout(c.pullTimer)
    // The window's calls take effect before the unsubscribe returns what is left to the queue.
    const work: Promise<void>[] = []
    c.window.close(work, (k) => c.pending.delete(k))
    work.push(this.deps.session.unsubscribe(c.key))
    await Promise.all(work)
  }

  /** Every consumer of a session (RemoveInfo of a SessionId). */
  async removeSession(sessionKey: string): Promise<void> {
    const ids = [...this.consumers.values()].filter((c) => c.sessionKey === sessionKey).map((c) => c.info.consumerId)
    await Promise.all(ids.map((id) => this.remove(id)))
  }

  /**
   * Connection gone: timers off, each window's client-acked members acked (their calls take effect now, before the
   * broker session's close returns what was unsettled). Resolves when those acks are durable.
   */
  release(): Promise<void> {
    const work: Promise<void>[] = []
    for (const c of this.consumers.values()) {
      if (c.pullTimer !== undefined) this.deps.clock.clearTimeout(c.pullTimer)
      c.window.close(work, (k) => c.pending.delete(k))
    }
    this.consumers.clear()
    return Promise.all(work).then(() => undefined)
  }
}
