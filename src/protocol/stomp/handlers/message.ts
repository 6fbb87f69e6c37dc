/**
 * MESSAGE (STOMP 1.2 "MESSAGE"): the frame of one delivery to one subscription. In client modes 1.2 carries the
 * broker's ack id in `ack`; 1.0 and 1.1 remember message-id -> ack id for the ACK (ack.ts). A queue browser's
 * end is ActiveMQ's empty MESSAGE with `browser:end`. The message's headers are ../message-mapping.ts's
 * (forEachStompHeader, toStompHeaders' order), written straight into the frame head: no header map or list per
 * delivery, which the drain of a deep queue pays once per message. Holding deliveries and flow control are the
 * connection's.
 */
import type { Delivery } from '../../../broker/types.ts'
import { encodeFrame, escapeHeader, frameBytes, frameParts } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import { forEachStompHeader } from '../message-mapping.ts'
import type { Subscription } from './context.ts'

/** Headers the connector itself sets on a MESSAGE frame (the message's own of these names are not written). */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

// The head being built by messageHead (synchronous, so one module-level accumulator serves every call).
let head = ''
let headVersion: StompVersion = '1.2'
let headDestination = ''

function addHeader(name: string, value: string): void {
  if (name === 'destination') headDestination = value
  if (MESSAGE_OWN_HEADERS.has(name)) return
  head += `${escapeHeader(name, headVersion)}:${escapeHeader(value, headVersion)}\n`
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
  headVersion = version
  head = ''
  forEachStompHeader(m, addHeader)
  const own = head
  let out = 'MESSAGE\n'
  if (!sub.implicitId) out += `subscription:${escapeHeader(sub.id, version)}\n`
  out += `message-id:${escapeHeader(m.messageId, version)}\ndestination:${escapeHeader(headDestination, version)}\n`
  if (sub.ack !== 'auto') {
    if (version === '1.2') out += `ack:${escapeHeader(d.ackId, version)}\n`
    else sub.unacked.set(m.messageId, d.ackId)
  }
  out += own
  if (d.groupFirst) out += 'JMSXGroupFirstForConsumer:true\n'
  out += `content-length:${m.body.length}\n\n`
  head = ''
  return m.body.length > sliceBytes ? frameParts(out, m.body) : frameBytes(out, m.body)
}
