/**
 * MESSAGE (STOMP 1.2 "MESSAGE"): the frame of one delivery to one subscription. In client modes 1.2 carries the
 * broker's ack id in `ack`; 1.0 and 1.1 remember message-id -> ack id for the ACK (ack.ts). A queue browser's
 * end is ActiveMQ's empty MESSAGE with `browser:end`. Holding deliveries and flow control are the connection's.
 */
import type { Delivery } from '../../../broker/types.ts'
import { encodeFrame, encodeFrameParts } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import type { Subscription } from './context.ts'

/** Headers the connector itself sets on a MESSAGE frame. */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

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
    headers.push(['destination', d.headers.destination ?? sub.destination], ['message-id', '0'], ['browser', 'end'])
    return encodeFrame('MESSAGE', headers, null, version)
  }
  headers.push(['message-id', d.messageId], ['destination', d.headers.destination ?? sub.destination])
  if (sub.ack !== 'auto') {
    if (version === '1.2') headers.push(['ack', d.ackId])
    else sub.unacked.set(d.messageId, d.ackId)
  }
  for (const k in d.headers) if (!MESSAGE_OWN_HEADERS.has(k)) headers.push([k, d.headers[k]!])
  if (d.body.length > sliceBytes) return encodeFrameParts('MESSAGE', headers, d.body, version)
  return encodeFrame('MESSAGE', headers, d.body, version)
}
