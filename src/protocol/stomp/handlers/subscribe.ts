/** SUBSCRIBE and UNSUBSCRIBE: ActiveMQ's subscription headers onto the session's SubscribeRequest. */
import { BrokerError } from '../../../lib/errors.ts'
import type { AckMode, SubscribeRequest } from '../../../broker/types.ts'
import type { StompFrame } from '../frame.ts'
import { boolHeader, intHeader, required, type HandlerContext, type Subscription } from './context.ts'

const ACK_MODES: readonly AckMode[] = ['auto', 'client', 'client-individual']

export function handleSubscribe(ctx: HandlerContext, frame: StompFrame): void {
  const h = frame.headers
  const state = ctx.state
  const destination = required(frame, 'destination')
  let id = h.id
  let implicitId = false
  if (id === undefined || id === '') {
    if (ctx.version !== '1.0')
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `SUBSCRIBE to ${destination}: header "id" is missing, expected it (required since STOMP 1.1)`,
      )
    id = `${destination}#implicit-${++state.implicitSeq}`
    implicitId = true
  }
  if (state.subs.has(id))
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `SUBSCRIBE id ${JSON.stringify(id)}: already used by a subscription of this connection, expected a new id`,
    )
  const ack = (h.ack ?? 'auto') as AckMode
  if (!ACK_MODES.includes(ack))
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `SUBSCRIBE ${id} ack: ${JSON.stringify(h.ack)}, expected auto, client or client-individual`,
    )
  const req: SubscribeRequest = { id, destination, ack }
  if (h.selector !== undefined && h.selector.trim() !== '') req.selector = h.selector
  const prefetch = h['activemq.prefetchSize']
  if (prefetch !== undefined) req.prefetch = intHeader(frame, 'activemq.prefetchSize', 1, 2 ** 31 - 1)
  const exclusive = boolHeader(frame, 'activemq.exclusive')
  if (exclusive !== undefined) req.exclusive = exclusive
  if (h['activemq.priority'] !== undefined) req.priority = intHeader(frame, 'activemq.priority', -128, 127)
  const durableName = h['activemq.subscriptionName'] ?? h['durable-subscription-name']
  if (durableName !== undefined && durableName !== '') req.durableName = durableName
  const browser = boolHeader(frame, 'browser')
  if (browser) req.browser = true
  const noLocal = boolHeader(frame, 'activemq.noLocal')
  if (noLocal !== undefined) req.noLocal = noLocal

  const sub: Subscription = {
    id,
    implicitId,
    destination,
    ack,
    unacked: new Map(),
    held: h.receipt !== undefined ? [] : null,
  }
  state.subs.set(id, sub)
  try {
    ctx.session().subscribe(req, (d) => ctx.deliver(sub, d))
  } catch (err) {
    state.subs.delete(id)
    throw err
  }
  if (sub.held) {
    const held = sub
    ctx.enqueueOutcome(frame, null, () => {
      const list = held.held ?? []
      held.held = null
      for (const d of list) ctx.deliver(held, d)
    })
  }
}

export function handleUnsubscribe(ctx: HandlerContext, frame: StompFrame): void {
  const h = frame.headers
  const subs = ctx.state.subs
  const durableName = h['activemq.subscriptionName'] ?? h['durable-subscription-name']
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
  const id = sub ? sub.id : (h.id ?? durableName)
  if (sub) subs.delete(sub.id)
  ctx.enqueueOutcome(
    frame,
    ctx.session().unsubscribe(id, removeDurable ? { removeDurable: true, durableName } : undefined),
  )
}
