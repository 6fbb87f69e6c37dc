/**
 * MESSAGE (STOMP 1.2 "MESSAGE"): the frame of one delivery to one subscription. In client modes 1.2 carries the
 * broker's ack id in `ack`; 1.0 and 1.1 remember message-id -> ack id for the ACK (ack.ts). A queue browser's
 * end is ActiveMQ's empty MESSAGE with `browser:end`. The message's headers are ../message-mapping.ts's
 * toStompHeaders, built once per CoreMessage (a topic message delivered to many subscriptions is one object) and
 * kept in a WeakMap while the message lives. Holding deliveries and flow control are the connection's.
 */
import type { Delivery } from '../../../broker/types.ts'
import type { CoreMessage } from '../../../model/index.ts'
import { encodeFrame, encodeFrameParts } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import { toStompHeaders } from '../message-mapping.ts'
import type { Subscription } from './context.ts'

/** Headers the connector itself sets on a MESSAGE frame. */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

/** The message's own headers (toStompHeaders minus the connector's), once per message object. */
const headerCache = new WeakMap<CoreMessage, { destination: string; rest: Array<[string, string]> }>()

function messageHeaders(m: CoreMessage): { destination: string; rest: Array<[string, string]> } {
  let c = headerCache.get(m)
  if (c === undefined) {
    const h = toStompHeaders(m)
    const rest: Array<[string, string]> = []
    for (const k in h) if (!MESSAGE_OWN_HEADERS.has(k)) rest.push([k, h[k]!])
    c = { destination: h.destination!, rest }
    headerCache.set(m, c)
  }
  return c
}

/**
 * The MESSAGE frame of `d`: one buffer, or for a body over `sliceBytes` the parts to write in order (the body
 * uncopied).
 */
export function encodeMessage(
  sub: Subscription,
  d: Delivery,
  version: StompVersion,
  sliceBytes: number,
): Buffer | Buffer[] {
  const headers: Array<[string, string]> = []
  if (!sub.implicitId) headers.push(['subscription', sub.id])
  if (d.browserEnd) {
    // ActiveMQ StompQueueBrowserSubscription: MESSAGE with browser:end, message-id:0 and no body.
    headers.push(['destination', sub.destination], ['message-id', '0'], ['browser', 'end'])
    return encodeFrame('MESSAGE', headers, null, version)
  }
  const m = d.message
  const own = messageHeaders(m)
  headers.push(['message-id', m.messageId], ['destination', own.destination])
  if (sub.ack !== 'auto') {
    if (version === '1.2') headers.push(['ack', d.ackId])
    else sub.unacked.set(m.messageId, d.ackId)
  }
  for (const h of own.rest) headers.push(h)
  if (d.groupFirst) headers.push(['JMSXGroupFirstForConsumer', 'true'])
  if (m.body.length > sliceBytes) return encodeFrameParts('MESSAGE', headers, m.body, version)
  return encodeFrame('MESSAGE', headers, m.body, version)
}
