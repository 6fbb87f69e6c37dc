/**
 * FrameRouter: what each frame from the broker means to the client. A MESSAGE goes to its subscription (marked
 * redelivered by the duplicate audit if seen before); a RECEIPT settles a SUBSCRIBE or an op; an ERROR with a
 * receipt-id fails that SUBSCRIBE or op, and an ERROR saying the broker stops serving (sfbroker-reason) closes the
 * transport so the client fails over at once.
 * It holds no state of its own and promises nothing about frames from a transport that is no longer current: the
 * client drops those before routing.
 */
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { REASON_HEADER } from '../protocol/stomp/index.ts'
import type { ClientFrame } from './broker-link.ts'
import type { ClientTransport } from './client-transport.ts'
import type { ClientStats } from './client-types.ts'
import type { DuplicateAudit } from './duplicate-audit.ts'
import { ClientMessage, type MessageAcker } from './message.ts'
import type { OpLedger } from './op-ledger.ts'
import type { SubscriptionTable } from './subscription-table.ts'

const log = logger('client')

/** What routing needs from the client. */
export interface FrameRouterHost {
  readonly subs: SubscriptionTable
  readonly ledger: OpLedger
  readonly audit: DuplicateAudit
  readonly stats: ClientStats
  /** Acks of delivered messages go back through it. */
  readonly acker: MessageAcker
  /** The URI is a failover list (for the log line only). */
  readonly failover: boolean
  /** Generation of the current connection, stamped on each message. */
  generation(): number
  /** The broker said it stops serving: the next reconnect pass starts at once. */
  failoverNow(): void
}

export class FrameRouter {
  constructor(private readonly host: FrameRouterHost) {}

  route(f: ClientFrame, conn: ClientTransport): void {
    switch (f.command) {
      case 'MESSAGE':
        return this.message(f)
      case 'RECEIPT':
        return this.receipt(f)
      case 'ERROR':
        return this.error(f, conn)
      default:
        log.debug(`ignored ${f.command} frame from ${conn.endpoint.uri}`)
    }
  }

  private message(f: ClientFrame): void {
    const h = this.host
    const sub = h.subs.forMessage(f)
    if (!sub) return // unsubscribed meanwhile: unacked messages go back to the broker's other consumers
    if (f.headers['browser'] === 'end') {
      sub.browseEnd()
      return
    }
    h.stats.receivedMessages++
    sub.deliver(
      new ClientMessage(
        f,
        sub.id,
        sub.ack,
        h.generation(),
        h.acker,
        !sub.options.browser && h.audit.seen(`${sub.id}|${f.headers['message-id']}`),
      ),
    )
  }

  private receipt(f: ClientFrame): void {
    const rid = f.headers['receipt-id'] ?? ''
    const sub = this.host.subs.takeReceipt(rid)
    if (sub) {
      sub.settleReady()
      return
    }
    const op = this.host.ledger.byReceiptId(rid)
    if (op) this.host.ledger.finish(op)
  }

  private error(f: ClientFrame, conn: ClientTransport): void {
    const h = this.host
    const message = f.headers['message'] ?? new TextDecoder().decode(f.body).slice(0, 200)
    const rid = f.headers['receipt-id']
    const err = new BrokerError(
      'CLIENT_BROKER_ERROR',
      `broker ${conn.endpoint.uri} refused ${rid ? 'the operation' : 'a frame'}: ${message}`,
      { details: { message, body: new TextDecoder().decode(f.body), endpoint: conn.endpoint.uri } },
    )
    const sub = rid !== undefined ? h.subs.takeReceipt(rid) : undefined
    if (sub) {
      h.subs.delete(sub.id)
      sub.end(
        new BrokerError('CLIENT_BROKER_ERROR', `SUBSCRIBE ${sub.destination}: ${message}`, {
          details: err.details,
        }),
      )
      return
    }
    const op = rid !== undefined ? h.ledger.byReceiptId(rid) : undefined
    if (op) {
      h.ledger.finish(op, new BrokerError('CLIENT_BROKER_ERROR', `${op.what}: ${message}`, { details: err.details }))
      return
    }
    const reason = f.headers[REASON_HEADER]
    if (reason !== undefined) {
      // The broker stops serving (step-down: not-primary; requested stop: shutdown) and closes next. Fail over
      // now, other brokers first, instead of waiting for the close and a reconnect delay.
      log.warn(
        `broker ${conn.endpoint.uri} stopped serving (${REASON_HEADER}: ${reason}): ${message}${h.failover ? '; failing over at once' : ''}`,
      )
      h.failoverNow()
      conn.destroy(
        new BrokerError('CLIENT_DISCONNECTED', `${conn.endpoint.uri}: ${message}`, {
          details: { reason, message, endpoint: conn.endpoint.uri },
        }),
      )
      return
    }
    log.warn(err.message)
  }
}
