/**
 * The command table of a connected STOMP connection: one handler per command (aedes style). CONNECT/STOMP
 * before it is connected go to handleConnect (connect.ts); the connection decides which applies.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { commandLabel } from '../frame-parser.ts'
import type { StompFrame } from '../frame.ts'
import { handleAck, handleNack } from './ack.ts'
import type { Handler, HandlerContext } from './context.ts'
import { handleDisconnect } from './disconnect.ts'
import { handleSend } from './send.ts'
import { handleSubscribe, handleUnsubscribe } from './subscribe.ts'
import { handleAbort, handleBegin, handleCommit } from './transaction.ts'

export { handleConnect, type ConnectContext } from './connect.ts'
export { messageFrames } from './message.ts'
export type { HandlerContext, HandlerState, Subscription } from './context.ts'

const HANDLERS: Readonly<Record<string, Handler>> = {
  SEND: handleSend,
  SUBSCRIBE: handleSubscribe,
  UNSUBSCRIBE: handleUnsubscribe,
  ACK: handleAck,
  NACK: handleNack,
  BEGIN: handleBegin,
  COMMIT: handleCommit,
  ABORT: handleAbort,
  DISCONNECT: handleDisconnect,
}

/** Apply one frame of a connected connection; a bad frame throws a BrokerError. */
export function dispatchFrame(ctx: HandlerContext, frame: StompFrame, connectionId: string): void {
  const handler = Object.hasOwn(HANDLERS, frame.command) ? HANDLERS[frame.command] : undefined
  if (handler) return handler(ctx, frame)
  if (frame.command === 'CONNECT' || frame.command === 'STOMP')
    throw new BrokerError('STOMP_PROTOCOL', `${frame.command} frame on connection ${connectionId}: already connected`)
  throw new BrokerError(
    'STOMP_PROTOCOL',
    `unknown STOMP command ${commandLabel(frame.command)}: expected SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT or DISCONNECT`,
  )
}
