/** DISCONNECT: no more input; the earlier outcomes, then this frame's RECEIPT, then the socket closes. */
import type { StompFrame } from '../frame.ts'
import type { HandlerContext } from './context.ts'

export function handleDisconnect(ctx: HandlerContext, frame: StompFrame): void {
  ctx.disconnect(frame)
}
