/**
 * MESSAGE (STOMP 1.2 "MESSAGE"): the frame of one delivery to one subscription. In client modes 1.2 carries the
 * broker's ack id in `ack`; 1.0 and 1.1 remember message-id -> ack id for the ACK (ack.ts). A queue browser's
 * end is ActiveMQ's empty MESSAGE with `browser:end`. The message's headers are ../message-mapping.ts's
 * (forEachStompHeader, toStompHeaders' order), written straight into the frame head: no header map or list per
 * delivery, which the drain of a deep queue pays once per message. Holding deliveries and flow control are the
 * connection's.
 */
import type { Delivery } from '../../../broker/types.ts'
import { encodeFrame, escapeHeader } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import { forEachStompHeader } from '../message-mapping.ts'
import type { Subscription } from './context.ts'

/** Headers the connector itself sets on a MESSAGE frame (the message's own of these names are not written). */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

// The message headers being written by writeMessage (synchronous, so one module-level accumulator serves every
// call) and the destination header seen among them.
let head = ''
let headVersion: StompVersion = '1.2'
let headDestination = ''

function addHeader(name: string, value: string): void {
  if (name === 'destination') headDestination = value
  if (MESSAGE_OWN_HEADERS.has(name)) return
  head += `${escapeHeader(name, headVersion)}:${escapeHeader(value, headVersion)}\n`
}

/** Where MESSAGE frames go: a frame as bytes, or as head and body to be joined with the others of its turn. */
export interface FrameSink {
  write(bytes: Buffer): void
  writeFrame(head: string, body: Uint8Array): void
}

/** Write the MESSAGE frame of `d` to `out`. */
export function writeMessage(out: FrameSink, sub: Subscription, d: Delivery, version: StompVersion): void {
  const headers: Array<[string, string]> = []
  if (!sub.implicitId) headers.push(['subscription', sub.id])
  if (d.browserEnd) {
    // ActiveMQ StompQueueBrowserSubscription: MESSAGE with browser:end, message-id:0 and no body.
    headers.push(['destination', sub.destination], ['message-id', '0'], ['browser', 'end'])
    out.write(encodeFrame('MESSAGE', headers, null, version))
    return
  }
  const m = d.message
  headVersion = version
  head = ''
  forEachStompHeader(m, addHeader)
  const own = head
  let frame = 'MESSAGE\n'
  if (!sub.implicitId) frame += `subscription:${escapeHeader(sub.id, version)}\n`
  frame += `message-id:${escapeHeader(m.messageId, version)}\ndestination:${escapeHeader(headDestination, version)}\n`
  if (sub.ack !== 'auto') {
    if (version === '1.2') frame += `ack:${escapeHeader(d.ackId, version)}\n`
    else sub.unacked.set(m.messageId, d.ackId)
  }
  frame += own
  if (d.groupFirst) frame += 'JMSXGroupFirstForConsumer:true\n'
  frame += `content-length:${m.body.length}\n\n`
  head = ''
  out.writeFrame(frame, m.body)
}
