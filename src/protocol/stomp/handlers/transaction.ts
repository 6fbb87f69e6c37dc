/**
 * BEGIN, COMMIT and ABORT (STOMP 1.2 "BEGIN"/"COMMIT"/"ABORT"): the session keeps the transaction; here only the
 * 1.0/1.1 ack mappings its ACKs consumed, restored on ABORT (ActiveMQ: the messages stay delivered and unacked).
 */
import type { StompFrame } from '../frame.ts'
import { required, type HandlerContext } from './context.ts'

export function handleBegin(ctx: HandlerContext, frame: StompFrame): void {
  const tx = required(frame, 'transaction')
  ctx.session().begin(tx)
  ctx.state.txReleased.set(tx, [])
  ctx.enqueueOutcome(frame, null)
}

export function handleCommit(ctx: HandlerContext, frame: StompFrame): void {
  const tx = required(frame, 'transaction')
  const session = ctx.session()
  ctx.state.txReleased.delete(tx)
  ctx.enqueueOutcome(frame, session.commit(tx))
}

export function handleAbort(ctx: HandlerContext, frame: StompFrame): void {
  const tx = required(frame, 'transaction')
  const session = ctx.session()
  const { subs, txReleased } = ctx.state
  const released = txReleased.get(tx)
  txReleased.delete(tx)
  // ABORT makes the ack ids valid again (ActiveMQ: the messages stay delivered and unacked).
  if (released) for (const r of released) if (subs.get(r.sub.id) === r.sub) r.sub.unacked.set(r.messageId, r.ackId)
  ctx.enqueueOutcome(frame, session.abort(tx))
}
