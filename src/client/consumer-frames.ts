/**
 * ConsumerFrames: what the consuming side of a client writes: SUBSCRIBE (with a receipt, on connect and on a new
 * subscription), UNSUBSCRIBE (a durable removal is resent after a failover, a plain one dies with its connection),
 * ACK/NACK in the negotiated STOMP version's form, and pausing the socket while an iterator buffer is over its limit.
 * It is the subscriptions' owner and the messages' acker. It does not own the connection, the ledger or the
 * subscription table: the host (client.ts) does; acks of messages delivered on an earlier connection are skipped.
 */
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { ClientTransport } from './client-transport.ts'
import type { ClientStats } from './client-types.ts'
import type { AckOptions, ClientMessage, MessageAcker } from './message.ts'
import type { Op, OpLedger } from './op-ledger.ts'
import type { SubscriptionTable } from './subscription-table.ts'
import type { Subscription, SubscriptionOwner, UnsubscribeOptions } from './subscription.ts'

const log = logger('client')

/** What the consumer side needs from the client. */
export interface ConsumerHost {
  /** The current transport, whatever the client's state (null when none). */
  transport(): ClientTransport | null
  /** Whether the client is connected now. */
  isConnected(): boolean
  /** Generation of the current connection (bumped on each connect). */
  generation(): number
  /** Submit an op to the ledger with the client's timeout. */
  submit(op: Op): Promise<void>
  readonly stats: ClientStats
}

export class ConsumerFrames implements MessageAcker, SubscriptionOwner {
  constructor(
    private readonly subs: SubscriptionTable,
    private readonly ledger: OpLedger,
    private readonly host: ConsumerHost,
  ) {}

  /** SUBSCRIBE `sub` on the current transport, its receipt awaited by the subscription table. */
  writeSubscribe(sub: Subscription): void {
    const receipt = this.ledger.nextReceipt()
    this.subs.awaitReceipt(receipt, sub)
    this.host.transport()?.write('SUBSCRIBE', { ...sub.wireHeaders, receipt })
    this.host.stats.sentFrames++
  }

  /** @internal SubscriptionOwner */
  unsubscribeSub(sub: Subscription, opts: UnsubscribeOptions): Promise<void> {
    if (!this.subs.has(sub.id)) return Promise.resolve()
    this.subs.delete(sub.id)
    sub.end(null)
    const h: Record<string, string> = { id: sub.id, destination: sub.destination }
    if (opts.removeDurable) {
      const name = sub.options.durableName
      if (name === undefined)
        return Promise.reject(
          new BrokerError('CLIENT_USAGE', `unsubscribe ${sub.id}: removeDurable on a subscription without durableName`),
        )
      h['activemq.subscriptionName'] = name
      // Removing a durable subscription must reach a broker: resend it after a failover.
      return this.host.submit(
        this.ledger.newOp('UNSUBSCRIBE', h, 'resend', `UNSUBSCRIBE ${sub.id} (remove durable ${name})`, true),
      )
    }
    // A plain subscription dies with its connection: nothing to do while disconnected.
    if (!this.host.transport() || !this.host.isConnected()) return Promise.resolve()
    return this.host.submit(this.ledger.newOp('UNSUBSCRIBE', h, 'resolve-on-loss', `UNSUBSCRIBE ${sub.id}`, true))
  }

  /** @internal SubscriptionOwner: stop reading the socket while any iterator buffer is over its limit. */
  bufferPressure(sub: Subscription, over: boolean): void {
    const paused = this.subs.pressure(sub, over)
    this.host.transport()?.setPaused(paused)
  }

  /** @internal MessageAcker */
  acknowledge(msg: ClientMessage, command: 'ACK' | 'NACK', opts: AckOptions, txId?: string): Promise<void> {
    if (msg.ackMode === 'auto') return Promise.resolve()
    if (msg.generation !== this.host.generation() || !this.host.transport() || !this.host.isConnected()) {
      // Stale: delivered on a lost connection; the broker redelivers it (redelivered:true).
      log.debug(
        `${command} of ${msg.messageId} skipped: delivered on an earlier connection, the broker will redeliver it`,
      )
      return Promise.resolve()
    }
    const h = this.ackHeaders(msg, command)
    if (txId) h.transaction = txId
    return this.host.submit(
      this.ledger.newOp(command, h, 'resolve-on-loss', `${command} ${msg.messageId}`, opts.receipt === true),
    )
  }

  /** The headers naming `msg` in an ACK/NACK: STOMP 1.2 its `ack` id, 1.1 message-id and subscription, 1.0 message-id. */
  ackHeaders(msg: ClientMessage, command: string): Record<string, string> {
    const v = this.host.transport()?.version ?? '1.0'
    if (v === '1.0' && command === 'NACK')
      throw new BrokerError(
        'CLIENT_USAGE',
        `NACK of ${msg.messageId}: the broker negotiated STOMP 1.0, which has no NACK`,
      )
    if (v === '1.2') return { id: msg.headers['ack'] ?? msg.messageId }
    if (v === '1.1') return { 'message-id': msg.messageId, subscription: msg.subscriptionId }
    return { 'message-id': msg.messageId }
  }
}
