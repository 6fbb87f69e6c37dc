/**
 * SUBSCRIBE (STOMP 1.2 "SUBSCRIBE", with ActiveMQ's activemq.* headers): validate, register the subscription and
 * ask the session for deliveries. With a receipt, deliveries are held until the RECEIPT is written (ActiveMQ
 * does the same with a zero prefetch until the receipt).
 */
import type { AckMode, SubscribeRequest } from '../../../broker/types.ts'
import { BrokerError } from '../../../lib/errors.ts'
import { fromStompFilter } from '../../../model/index.ts'
import type { StompFrame } from '../frame.ts'
import { boolHeader, durableNameOf, intHeader, required, type HandlerContext, type Subscription } from './context.ts'

const ACK_MODES: readonly AckMode[] = ['auto', 'client', 'client-individual']

export function handleSubscribe(ctx: HandlerContext, frame: StompFrame): void {
  const h = frame.headers
  const subs = ctx.state.subs
  const destination = required(frame, 'destination')
  let id = h.id
  let implicitId = false
  if (id === undefined || id === '') {
    if (ctx.version !== '1.0')
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `SUBSCRIBE to ${destination}: header "id" is missing, expected it (required since STOMP 1.1)`,
      )
    id = `${destination}#implicit-${++ctx.state.implicitSeq}`
    implicitId = true
  }
  if (subs.has(id))
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
  const req: SubscribeRequest = { id, destination: fromStompFilter(destination, 'SUBSCRIBE destination'), ack }
  if (h.selector !== undefined && h.selector.trim() !== '') req.selector = h.selector
  const prefetch = h['activemq.prefetchSize']
  if (prefetch !== undefined) req.prefetch = intHeader(frame, 'activemq.prefetchSize', 1, 2 ** 31 - 1)
  const exclusive = boolHeader(frame, 'activemq.exclusive')
  if (exclusive !== undefined) req.exclusive = exclusive
  if (h['activemq.priority'] !== undefined) req.priority = intHeader(frame, 'activemq.priority', -128, 127)
  const durableName = durableNameOf(frame)
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
  subs.set(id, sub)
  try {
    ctx.session().subscribe(req, (d) => ctx.deliver(sub, d))
  } catch (err) {
    subs.delete(id)
    throw err
  }
  if (sub.held) {
    ctx.enqueueOutcome(frame, null, () => {
      const list = sub.held ?? []
      sub.held = null
      for (const d of list) ctx.deliver(sub, d)
    })
  }
}
