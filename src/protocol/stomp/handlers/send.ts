/**
 * SEND (STOMP 1.2 "SEND"): validate the destination, strip the frame's own headers, hand the message to the
 * session. The RECEIPT goes out once the broker accepted it (durable when persistent).
 */
import { parseDestination } from '../../../broker/index.ts'
import type { SendRequest } from '../../../broker/types.ts'
import type { StompFrame } from '../frame.ts'
import { required, type HandlerContext } from './context.ts'

/** Headers of a SEND that are about this frame, not the message (ActiveMQ strips the same plus the first three). */
const SEND_FRAME_HEADERS = new Set([
  'receipt',
  'transaction',
  'content-length',
  'redelivered',
  'subscription',
  'ack',
  'JMSXUserID',
])

export function handleSend(ctx: HandlerContext, frame: StompFrame): void {
  const destination = required(frame, 'destination')
  // Validate the name now, not in the broker's async send: a bad SEND must stop this connection before the
  // frames pipelined behind it (a COMMIT, say) are applied.
  parseDestination(destination, 'SEND destination')
  const headers: Record<string, string> = {}
  const fh = frame.headers
  for (const k in fh) if (!SEND_FRAME_HEADERS.has(k)) headers[k] = fh[k]!
  const req: SendRequest = { destination, headers, body: frame.body }
  const tx = frame.headers.transaction
  // The outcome holds the receive budget until the broker has the message (in memory under its limits, or stored).
  ctx.enqueueOutcome(frame, ctx.session().send(req, tx), undefined, frame.body.length, ctx.takeFrameCharge())
}
