/**
 * UNSUBSCRIBE (STOMP 1.2 "UNSUBSCRIBE"; 1.0 may name the destination instead of the id): end one subscription of
 * this connection, or remove a durable subscription by name (ActiveMQ RemoveSubscriptionInfo).
 */
import { BrokerError } from '../../../lib/errors.ts'
import type { StompFrame } from '../frame.ts'
import { durableNameOf, type HandlerContext, type Subscription } from './context.ts'

export function handleUnsubscribe(ctx: HandlerContext, frame: StompFrame): void {
  const h = frame.headers
  const subs = ctx.state.subs
  const durableName = durableNameOf(frame)
  let sub: Subscription | undefined
  if (h.id !== undefined && h.id !== '') sub = subs.get(h.id)
  else if (ctx.version !== '1.0')
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `UNSUBSCRIBE: header "id" is missing, expected it (required since STOMP 1.1)`,
    )
  else if (h.destination !== undefined) sub = [...subs.values()].find((s) => s.destination === h.destination)
  else
    throw new BrokerError('STOMP_PROTOCOL', 'UNSUBSCRIBE: neither "id" nor "destination" given, expected one of them')
  const removeDurable = durableName !== undefined && durableName !== ''
  if (!sub && !removeDurable) {
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `UNSUBSCRIBE ${JSON.stringify(h.id ?? h.destination)}: no subscription of this connection matches`,
    )
  }
  // Durable removal works without an active subscription too (ActiveMQ RemoveSubscriptionInfo): the broker
  // resolves it by the connection's client-id and the name.
  const id = sub ? sub.id : (h.id ?? durableName!)
  if (sub) subs.delete(sub.id)
  ctx.enqueueOutcome(
    frame,
    ctx.session().unsubscribe(id, removeDurable ? { removeDurable: true, durableName } : undefined),
  )
}
