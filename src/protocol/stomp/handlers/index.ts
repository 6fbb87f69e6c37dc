/**
 * The command table of a STOMP connection, one handler per command (aedes style): CONNECT/STOMP before the
 * connection is connected, the others after. A frame that fits neither state throws STOMP_PROTOCOL.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { commandLabel } from '../frame-parser.ts'
import type { StompFrame } from '../frame.ts'
import { handleAck, handleNack } from './ack.ts'
import { handleConnect } from './connect.ts'
import type { Handler, HandlerContext } from './context.ts'
import { handleDisconnect } from './disconnect.ts'
import { handleSend } from './send.ts'
import { handleSubscribe } from './subscribe.ts'
import { handleAbort, handleBegin, handleCommit } from './transaction.ts'
import { handleUnsubscribe } from './unsubscribe.ts'

export { type FrameSink, writeMessage } from './message.ts'
export type { HandlerContext, HandlerState, Subscription } from './context.ts'

const CONNECTED_HANDLERS: ReadonlyMap<string, Handler> = new Map([
  ['SEND', handleSend],
  ['SUBSCRIBE', handleSubscribe],
  ['UNSUBSCRIBE', handleUnsubscribe],
  ['ACK', handleAck],
  ['NACK', handleNack],
  ['BEGIN', handleBegin],
  ['COMMIT', handleCommit],
  ['ABORT', handleAbort],
  ['DISCONNECT', handleDisconnect],
])

/** Apply the first frame of a connection: CONNECT or STOMP, nothing else. */
export function dispatchFirstFrame(ctx: HandlerContext, frame: StompFrame): void {
  if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') {
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `${commandLabel(frame.command)} frame before CONNECT: expected CONNECT or STOMP first`,
    )
  }
  handleConnect(ctx, frame)
}

/** Apply one frame of a connected connection. */
export function dispatchFrame(ctx: HandlerContext, frame: StompFrame): void {
  const handler = CONNECTED_HANDLERS.get(frame.command)
  if (handler) return handler(ctx, frame)
  if (frame.command === 'CONNECT' || frame.command === 'STOMP')
    throw new BrokerError('STOMP_PROTOCOL', `${frame.command} frame on connection ${ctx.id}: already connected`)
  throw new BrokerError(
    'STOMP_PROTOCOL',
    `unknown STOMP command ${commandLabel(frame.command)}: expected SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT or DISCONNECT`,
  )
}
