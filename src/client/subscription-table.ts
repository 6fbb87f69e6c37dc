/**
 * SubscriptionTable: a client's live subscriptions across connections: their ids and SUBSCRIBE headers (built and
 * checked once, replayed unchanged after a failover), the SUBSCRIBE receipts still awaited on the current
 * connection, which MESSAGE goes to which subscription, and which iterator buffers are over their limit.
 * It writes no frames: client.ts does, and decides what a lost connection means for each subscription.
 */
import { BrokerError } from '../lib/errors.ts'
import type { ClientFrame } from './broker-link.ts'
import { normalizeDestination } from './destination.ts'
import type { AckMode } from './message.ts'
import { Subscription, type MessageHandler, type SubscribeOptions, type SubscriptionOwner } from './subscription.ts'

export class SubscriptionTable {
  private readonly subs = new Map<string, Subscription>()
  private readonly receipts = new Map<string, Subscription>()
  private readonly pressured = new Set<Subscription>()
  private seq = 0

  constructor(
    private readonly clientId: string | undefined,
    private readonly bufferMax: number,
  ) {}

  get size(): number {
    return this.subs.size
  }

  values(): IterableIterator<Subscription> {
    return this.subs.values()
  }

  has(id: string): boolean {
    return this.subs.has(id)
  }

  delete(id: string): void {
    this.subs.delete(id)
  }

  /** A new subscription with its SUBSCRIBE headers; CLIENT_USAGE for a bad ack mode, prefetch or durableName. */
  create(
    destination: string,
    handler: MessageHandler | undefined,
    options: SubscribeOptions,
    owner: SubscriptionOwner,
  ): Subscription {
    const dest = normalizeDestination(destination)
    const ack: AckMode = options.ack ?? 'auto'
    if (ack !== 'auto' && ack !== 'client' && ack !== 'client-individual') {
      throw new BrokerError(
        'CLIENT_USAGE',
        `subscribe ${dest}: ack ${JSON.stringify(ack)}; expected auto, client or client-individual`,
      )
    }
    const id = `sub-${++this.seq}`
    const h: Record<string, string> = { id, destination: dest, ack }
    if (options.selector !== undefined) h.selector = options.selector
    if (options.prefetch !== undefined) {
      if (!Number.isInteger(options.prefetch) || options.prefetch < 1)
        throw new BrokerError(
          'CLIENT_USAGE',
          `subscribe ${dest}: prefetch ${options.prefetch}; expected an integer >= 1`,
        )
      h['activemq.prefetchSize'] = String(options.prefetch)
    }
    if (options.durableName !== undefined) {
      if (this.clientId === undefined)
        throw new BrokerError(
          'CLIENT_USAGE',
          `subscribe ${dest}: durableName ${JSON.stringify(options.durableName)} needs a clientId on connect`,
        )
      h['activemq.subscriptionName'] = options.durableName
    }
    if (options.browser) h.browser = 'true'
    for (const [k, v] of Object.entries(options.headers ?? {})) if (!(k in h)) h[k] = v
    const sub = new Subscription(id, dest, ack, h, options, handler, owner, this.bufferMax)
    this.subs.set(id, sub)
    return sub
  }

  /** The subscription a MESSAGE belongs to, if still subscribed. */
  forMessage(f: ClientFrame): Subscription | undefined {
    const sid = f.headers['subscription']
    let sub = sid !== undefined ? this.subs.get(sid) : undefined
    // STOMP 1.0 brokers may omit `subscription`: match the destination.
    if (!sub && sid === undefined)
      for (const s of this.subs.values()) if (s.destination === f.headers['destination']) sub = s
    return sub
  }

  /** A SUBSCRIBE of `sub` went out asking for `receipt`. */
  awaitReceipt(receipt: string, sub: Subscription): void {
    this.receipts.set(receipt, sub)
  }

  /** The subscription waiting for `receipt`, which stops waiting. */
  takeReceipt(receipt: string): Subscription | undefined {
    const sub = this.receipts.get(receipt)
    if (sub) this.receipts.delete(receipt)
    return sub
  }

  /** The connection is gone: its SUBSCRIBE receipts will never come (the SUBSCRIBEs are written again). */
  clearReceipts(): void {
    this.receipts.clear()
  }

  /** Note whether `sub`'s iterator buffer is over its limit; true while any is (the socket should pause). */
  pressure(sub: Subscription, over: boolean): boolean {
    if (over) this.pressured.add(sub)
    else this.pressured.delete(sub)
    return this.paused
  }

  get paused(): boolean {
    return this.pressured.size > 0
  }

  /** End every subscription (with `err`, or cleanly) and forget them all. */
  endAll(err: Error | null): void {
    for (const sub of this.subs.values()) sub.end(err)
    this.subs.clear()
    this.receipts.clear()
  }
}
