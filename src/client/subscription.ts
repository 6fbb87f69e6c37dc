/**
 * A subscription as the caller sees it: either a handler called for each message, or an async iterator
 * (`for await (const m of sub)`) / `receive(timeoutMs)` reading from a bounded buffer. Owns the buffer, the
 * iterator's waiters, and the end of a queue browser. The client owns the wire side (SUBSCRIBE headers, resubscribe
 * after failover, backpressure): when a buffer holds more than `bufferMax` messages the client stops reading the
 * socket until it drains below half, so a slow iterator never makes memory grow without bound.
 */
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { AckMode, ClientMessage } from './message.ts'

const log = logger('client')

export interface SubscribeOptions {
  ack?: AckMode
  selector?: string
  /** activemq.prefetchSize */
  prefetch?: number
  /** activemq.subscriptionName: a durable topic subscription (needs a clientId on connect). */
  durableName?: string
  /** browser:true: browse a queue without consuming; the iterator ends at the broker's end marker. */
  browser?: boolean
  /** Extra SUBSCRIBE headers (e.g. activemq.exclusive). */
  headers?: Record<string, string>
}

export interface UnsubscribeOptions {
  /** Also delete the durable subscription (UNSUBSCRIBE with activemq.subscriptionName). */
  removeDurable?: boolean
}

export type MessageHandler = (m: ClientMessage) => void | Promise<void>

/** What a subscription needs from its client; implemented by StompClient. */
export interface SubscriptionOwner {
  unsubscribeSub(sub: Subscription, opts: UnsubscribeOptions): Promise<void>
  bufferPressure(sub: Subscription, over: boolean): void
}

export class Subscription implements AsyncIterable<ClientMessage> {
  /** Resolves when the broker receipted the (first) SUBSCRIBE; rejects if it refused it. */
  readonly ready: Promise<void>
  /** Resolves when a queue browser reached the end of the queue (browser subscriptions only). */
  readonly browseEnded: Promise<void>
  private resolveReady!: () => void
  private rejectReady!: (e: Error) => void
  private resolveBrowseEnd!: () => void
  private readySettled = false
  private buffer: ClientMessage[] = []
  private waiters: {
    resolve: (m: ClientMessage | undefined) => void
    reject: (e: Error) => void
    timer?: ReturnType<typeof setTimeout>
  }[] = []
  private over = false
  private endedWith: Error | null | undefined = undefined // undefined: open; null: ended cleanly; Error: failed
  delivered = 0

  constructor(
    readonly id: string,
    readonly destination: string,
    readonly ack: AckMode,
    /** The SUBSCRIBE headers, re-sent unchanged (same id, ack, selector, durable name, prefetch) after failover. */
    readonly wireHeaders: Record<string, string>,
    readonly options: SubscribeOptions,
    private readonly handler: MessageHandler | undefined,
    private readonly owner: SubscriptionOwner,
    private readonly bufferMax: number,
  ) {
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res
      this.rejectReady = rej
    })
    this.ready.catch(() => undefined)
    this.browseEnded = new Promise((res) => (this.resolveBrowseEnd = res))
  }

  get active(): boolean {
    return this.endedWith === undefined
  }

  /** Stop receiving. Messages buffered and not acked are redelivered by the broker to other consumers. */
  unsubscribe(opts: UnsubscribeOptions = {}): Promise<void> {
    return this.owner.unsubscribeSub(this, opts)
  }

  /** Next message, or undefined if none arrives within `timeoutMs` or the subscription ended (browser end, unsubscribe, close). */
  receive(timeoutMs?: number): Promise<ClientMessage | undefined> {
    if (this.handler)
      return Promise.reject(
        new BrokerError(
          'CLIENT_USAGE',
          `subscription ${this.id} to ${this.destination} has a handler; receive() and iteration need a subscription without one`,
        ),
      )
    const m = this.buffer.shift()
    if (m) {
      this.checkPressure()
      return Promise.resolve(m)
    }
    if (this.endedWith === null) return Promise.resolve(undefined)
    if (this.endedWith) return Promise.reject(this.endedWith)
    return new Promise((resolve, reject) => {
      const w: (typeof this.waiters)[number] = { resolve, reject }
      if (timeoutMs !== undefined) {
        w.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve(undefined)
        }, timeoutMs)
      }
      this.waiters.push(w)
    })
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ClientMessage> {
    for (;;) {
      const m = await this.receive()
      if (m === undefined) return
      yield m
    }
  }

  // ---- called by the client ----

  /** @internal */
  settleReady(err?: Error): void {
    if (this.readySettled) return
    this.readySettled = true
    if (err) this.rejectReady(err)
    else this.resolveReady()
  }

  /** @internal A MESSAGE for this subscription. */
  deliver(m: ClientMessage): void {
    if (!this.active) return
    this.delivered++
    if (this.handler) {
      try {
        const r = this.handler(m)
        if (r && typeof (r as Promise<void>).catch === 'function')
          (r as Promise<void>).catch((e) =>
            log.error(`handler of subscription ${this.id} (${this.destination}) failed`, e),
          )
      } catch (e) {
        log.error(`handler of subscription ${this.id} (${this.destination}) failed`, e)
      }
      return
    }
    const w = this.waiters.shift()
    if (w) {
      if (w.timer) clearTimeout(w.timer)
      w.resolve(m)
      return
    }
    this.buffer.push(m)
    this.checkPressure()
  }

  /** @internal The broker's browser end marker. */
  browseEnd(): void {
    this.resolveBrowseEnd()
    this.end(null)
  }

  /** @internal End iteration: null = cleanly (waiters get undefined after the buffer drains), Error = failure. */
  end(err: Error | null): void {
    if (this.endedWith !== undefined) return
    this.endedWith = err
    this.settleReady(err ?? undefined)
    this.resolveBrowseEnd()
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer)
      if (err) w.reject(err)
      else w.resolve(undefined)
    }
    if (this.over) {
      this.over = false
      this.owner.bufferPressure(this, false)
    }
  }

  /** @internal Drop buffered messages from an older connection: the broker redelivers them after failover. */
  dropBufferedBefore(generation: number): number {
    const before = this.buffer.length
    this.buffer = this.buffer.filter((m) => m.generation >= generation)
    this.checkPressure()
    return before - this.buffer.length
  }

  private checkPressure(): void {
    if (!this.over && this.buffer.length > this.bufferMax) {
      this.over = true
      this.owner.bufferPressure(this, true)
    } else if (this.over && this.buffer.length <= this.bufferMax / 2) {
      this.over = false
      this.owner.bufferPressure(this, false)
    }
  }
}
