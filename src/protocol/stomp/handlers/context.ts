/**
 * What a STOMP command handler may use of its connection: the narrow port every file in handlers/ takes.
 * The connection (connection.ts) owns the socket, codec, outcome order, flow control and lifecycle; a handler
 * maps one frame onto the BrokerSession and hands its outcome back through this port. Owns no state itself.
 */
import { BrokerError } from '../../../lib/errors.ts'
import type { AckMode, BrokerSession, Delivery } from '../../../broker/types.ts'
import type { StompFrame, StompVersion } from '../frame.ts'

export interface Subscription {
  id: string
  /** 1.0 SUBSCRIBE without id: MESSAGE frames then carry no `subscription` header (as ActiveMQ). */
  implicitId: boolean
  destination: string
  ack: AckMode
  /** STOMP 1.0/1.1 ack by message-id: message-id -> broker ackId of unacked deliveries, in delivery order. */
  unacked: Map<string, string>
  /** Deliveries held until this SUBSCRIBE's RECEIPT is written; null once released. */
  held: Delivery[] | null
}

export interface ReleasedAck {
  sub: Subscription
  messageId: string
  ackId: string
}

/** Per-connection state the handlers share (subscriptions, 1.0/1.1 ack mappings kept for ABORT). */
export interface HandlerState {
  readonly subs: Map<string, Subscription>
  /** Per transaction, the 1.0/1.1 ack mappings its ACK/NACKs consumed: restored on ABORT. */
  readonly txReleased: Map<string, ReleasedAck[]>
  implicitSeq: number
}

export interface HandlerContext {
  /** The STOMP version negotiated at CONNECT (1.0 before). */
  readonly version: StompVersion
  readonly state: HandlerState
  /** The broker session; throws STOMP_PROTOCOL before CONNECT. */
  session(): BrokerSession
  /**
   * Queue the outcome of one frame: after every earlier outcome, write RECEIPT (if asked) when `op` resolves
   * (null: the operation already completed synchronously), or ERROR then close when it rejects.
   * `afterReceipt` runs once the receipt is written; `bytes` count against inFlightBytesMax until settled.
   */
  enqueueOutcome(frame: StompFrame, op: Promise<void> | null, afterReceipt?: () => void, bytes?: number): void
  /** Move the receive budget of the frame being applied to the outcome queued last (released when it settles). */
  chargeLastOutcome(): void
  /** Deliver to a subscription (writes MESSAGE, or holds it until the SUBSCRIBE's RECEIPT). */
  deliver(sub: Subscription, d: Delivery): void
  /** Apply nothing more; write the earlier outcomes, this frame's RECEIPT, then close. */
  disconnect(frame: StompFrame): void
}

export type Handler = (ctx: HandlerContext, frame: StompFrame) => void

export function required(frame: StompFrame, name: string): string {
  const v = frame.headers[name]
  if (v === undefined || v === '')
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `${frame.command} frame: header ${JSON.stringify(name)} is missing, expected it`,
    )
  return v
}

export function intHeader(frame: StompFrame, name: string, min: number, max: number): number {
  const raw = frame.headers[name]
  const n = /^-?\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `${frame.command} ${name}: ${JSON.stringify(raw)}, expected an integer from ${min} to ${max}`,
    )
  }
  return n
}

export function boolHeader(frame: StompFrame, name: string): boolean | undefined {
  const raw = frame.headers[name]
  if (raw === undefined) return undefined
  const v = raw.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw new BrokerError('STOMP_PROTOCOL', `${frame.command} ${name}: ${JSON.stringify(raw)}, expected true or false`)
}
