/** MESSAGE: a broker delivery onto the frame(s) written to the subscriber (large bodies as encoded parts). */
import type { Delivery } from '../../../broker/types.ts'
import { encodeFrame, encodeFrameParts } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import type { Subscription } from './context.ts'

/** Headers the connector itself sets on a MESSAGE frame. */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

/**
 * The bytes to write for one delivery, or null when it is held (the SUBSCRIBE's RECEIPT is not written yet).
 * Records the 1.0/1.1 message-id → ack id mapping of a client-acked subscription. A body over `sliceBytes` is
 * encoded as parts, so it goes out uncopied.
 */
export function messageFrames(
  sub: Subscription,
  d: Delivery,
  version: StompVersion,
  sliceBytes: number,
): Buffer[] | null {
  if (sub.held) {
    sub.held.push(d)
    return null
  }
  const headers: Array<[string, string]> = []
  if (!sub.implicitId) headers.push(['subscription', sub.id])
  if (d.browserEnd) {
    // ActiveMQ StompQueueBrowserSubscription: MESSAGE with browser:end, message-id:0 and no body.
    headers.push(['destination', d.headers.destination ?? sub.destination], ['message-id', '0'], ['browser', 'end'])
    return [encodeFrame('MESSAGE', headers, null, version)]
  }
  headers.push(['message-id', d.messageId], ['destination', d.headers.destination ?? sub.destination])
  if (sub.ack !== 'auto') {
    if (version === '1.2') headers.push(['ack', d.ackId])
    else sub.unacked.set(d.messageId, d.ackId)
  }
  for (const k in d.headers) if (!MESSAGE_OWN_HEADERS.has(k)) headers.push([k, d.headers[k]])
  if (d.body.length > sliceBytes) return encodeFrameParts('MESSAGE', headers, d.body, version)
  return [encodeFrame('MESSAGE', headers, d.body, version)]
}
