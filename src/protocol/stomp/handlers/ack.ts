/**
 * ACK and NACK (STOMP 1.2 "ACK"/"NACK"): 1.2 acknowledges by the MESSAGE's `ack` id; 1.0 and 1.1 by message-id
 * (and subscription), mapped back to the broker's ack id here, cumulatively in client mode. The mappings an ACK
 * consumes inside a transaction are kept so ABORT can make them valid again.
 */
import { BrokerError } from '../../../lib/errors.ts'
import type { StompFrame } from '../frame.ts'
import { required, type HandlerContext, type ReleasedAck, type Subscription } from './context.ts'

export function handleAck(ctx: HandlerContext, frame: StompFrame): void {
  acknowledge(ctx, frame, false)
}

export function handleNack(ctx: HandlerContext, frame: StompFrame): void {
  acknowledge(ctx, frame, true)
}

function acknowledge(ctx: HandlerContext, frame: StompFrame, nack: boolean): void {
  const version = ctx.version
  if (nack && version === '1.0')
    throw new BrokerError('STOMP_PROTOCOL', 'NACK frame on a STOMP 1.0 connection: NACK exists since 1.1')
  const tx = frame.headers.transaction
  let ackId: string
  if (version === '1.2') {
    ackId = required(frame, 'id')
  } else {
    const subs = ctx.state.subs
    const messageId = required(frame, 'message-id')
    const subId = frame.headers.subscription
    if (version === '1.1' && (subId === undefined || subId === '')) required(frame, 'subscription')
    const sub = subId !== undefined ? subs.get(subId) : [...subs.values()].find((s) => s.unacked.has(messageId))
    const found = sub?.unacked.get(messageId)
    if (!sub || found === undefined) {
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `${frame.command} message-id ${JSON.stringify(messageId)}${subId !== undefined ? ` subscription ${JSON.stringify(subId)}` : ''}: no unacknowledged message of this connection has it`,
      )
    }
    ackId = found
    releaseAcks(ctx, sub, messageId, tx)
  }
  const session = ctx.session()
  ctx.enqueueOutcome(frame, nack ? session.nack(ackId, tx) : session.ack(ackId, tx))
}

/** Forget the 1.0/1.1 message-id mappings an ACK consumed (cumulative in client mode); kept for ABORT. */
function releaseAcks(ctx: HandlerContext, sub: Subscription, messageId: string, tx: string | undefined): void {
  const released: ReleasedAck[] = []
  if (sub.ack === 'client') {
    for (const [mid, aid] of sub.unacked) {
      sub.unacked.delete(mid)
      released.push({ sub, messageId: mid, ackId: aid })
      if (mid === messageId) break
    }
  } else {
    released.push({ sub, messageId, ackId: sub.unacked.get(messageId)! })
    sub.unacked.delete(messageId)
  }
  if (tx !== undefined) {
    const list = ctx.state.txReleased.get(tx)
    if (list) list.push(...released)
  }
}
