/**
 * DISCONNECT (STOMP 1.2 "DISCONNECT"): nothing after it is applied; the RECEIPT goes out after the outcomes of
 * every earlier frame, then the connection closes.
 */
import type { StompFrame } from '../frame.ts'
import type { HandlerContext } from './context.ts'

export function handleDisconnect(ctx: HandlerContext, frame: StompFrame): void {
  ctx.disconnect(frame)
}
