/**
 * SEND (STOMP 1.2 "SEND"): map the frame onto a CoreMessage (../message-mapping.ts fromStompSend: it validates
 * the destination and the reserved headers and drops the frame's own ones) and hand it to the session. The RECEIPT
 * goes out once the broker accepted it (durable when persistent).
 */
import type { SendRequest } from '../../../broker/types.ts'
import type { StompFrame } from '../frame.ts'
import { fromStompSend } from '../message-mapping.ts'
import { required, type HandlerContext } from './context.ts'

/** A SEND without message-id or _AMQ_DUPL_ID: the broker assigns the id (SendRequest contract). */
const BROKER_ASSIGNS_ID = (): string => ''

export function handleSend(ctx: HandlerContext, frame: StompFrame): void {
  const destination = required(frame, 'destination')
  // Map (and so validate) now, not in the broker's async send: a bad SEND must stop this connection before the
  // frames pipelined behind it (a COMMIT, say) are applied.
  const message = fromStompSend(destination, frame.headers, frame.body, {
    nowMs: ctx.nowMs(),
    newMessageId: BROKER_ASSIGNS_ID,
  })
  // `timestamp:` empty counts as absent, as fromStompSend reads it.
  const req: SendRequest = { message, timestampDefaulted: !frame.headers.timestamp }
  const tx = frame.headers.transaction
  // The outcome holds the receive budget until the broker has the message (in memory under its limits, or stored).
  ctx.enqueueOutcome(frame, ctx.session().send(req, tx), undefined, frame.body.length, ctx.takeFrameCharge())
}
