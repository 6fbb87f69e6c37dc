/** BEGIN, COMMIT, ABORT: transactions of the session; ABORT restores the 1.0/1.1 ack mappings it undid. */
import type { StompFrame } from '../frame.ts'
import { required, type HandlerContext } from './context.ts'

export function handleBegin(ctx: HandlerContext, frame: StompFrame): void {
  const tx = required(frame, 'transaction')
  ctx.session().begin(tx)
  ctx.state.txReleased.set(tx, [])
  ctx.enqueueOutcome(frame, null)
}

export function handleCommit(ctx: HandlerContext, frame: StompFrame): void {
  endTransaction(ctx, frame, 'commit')
}

export function handleAbort(ctx: HandlerContext, frame: StompFrame): void {
  endTransaction(ctx, frame, 'abort')
}

function endTransaction(ctx: HandlerContext, frame: StompFrame, kind: 'commit' | 'abort'): void {
  const tx = required(frame, 'transaction')
  const session = ctx.session()
  const { subs, txReleased } = ctx.state
  const released = txReleased.get(tx)
  txReleased.delete(tx)
  if (kind === 'abort' && released) {
    // ABORT makes the ack ids valid again (ActiveMQ: the messages stay delivered and unacked).
    for (const r of released) if (subs.get(r.sub.id) === r.sub) r.sub.unacked.set(r.messageId, r.ackId)
  }
  ctx.enqueueOutcome(frame, kind === 'commit' ? session.commit(tx) : session.abort(tx))
}
