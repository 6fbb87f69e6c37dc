/**
 * HandlerContext: what a command handler may use of its connection, the one port every file in handlers/ takes.
 * The connection (connection.ts) owns the port, codec, outcome order, flow control and lifecycle; a handler maps
 * one frame onto the BrokerSession and hands its outcome back here. Also the per-connection state the handlers
 * share (subscriptions, the 1.0/1.1 ack mappings of open transactions) and the header readers they have in common.
 */
import type { AckMode, BrokerSession, ConnectInfo, Delivery } from '../../../broker/types.ts'
import { BrokerError } from '../../../lib/errors.ts'
import type { Authenticator } from '../../../security/index.ts'
import type { StompFrame, StompVersion } from '../frame.ts'
import type { HeartBeatOptions, HeartBeatPlan } from '../heart-beat.ts'

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

/** Per-connection state of the handlers. */
export interface HandlerState {
  readonly subs: Map<string, Subscription>
  /** Per transaction, the 1.0/1.1 ack mappings its ACK/NACKs consumed: restored on ABORT. */
  readonly txReleased: Map<string, ReleasedAck[]>
  /** Numbers the ids of 1.0 SUBSCRIBEs without one. */
  implicitSeq: number
}

export interface HandlerContext {
  readonly id: string
  /** `host:port` of the peer, for messages and the session. */
  readonly remoteAddress: string
  /** The port's own remote address, if known (handed to the authenticator). */
  readonly peerAddress: string | undefined
  readonly serverName: string
  readonly heartBeat: HeartBeatOptions
  readonly authenticator: Authenticator | null
  /** The STOMP version negotiated at CONNECT (1.0 before). */
  readonly version: StompVersion
  readonly state: HandlerState
  /** The connection's clock, ms (a SEND's default timestamp). */
  nowMs(): number
  /** The broker session; throws STOMP_PROTOCOL before CONNECT. */
  session(): BrokerSession

  /** Still waiting for CONNECT (neither connected, failed nor closed meanwhile). */
  awaitingConnect(): boolean
  /** Stop parsing input until resumeReading() (what arrives meanwhile waits, in order). */
  pauseReading(): void
  resumeReading(): void
  /** Open the broker session; it becomes the connection's session. */
  openSession(info: ConnectInfo): BrokerSession
  /** CONNECT succeeded with this version: the parser, state and connect timer follow. */
  connected(version: StompVersion): void
  startHeartBeat(plan: HeartBeatPlan): void

  write(bytes: Buffer): void
  /**
   * Queue the outcome of one frame: after every earlier outcome, RECEIPT (if asked) when `op` resolves (null: done
   * already), or ERROR then close when it rejects. `afterReceipt` runs once the receipt is written; `bytes` count
   * against inFlightBytesMax and `receiveBytes` of the receive budget are held until `op` settles.
   */
  enqueueOutcome(
    frame: StompFrame,
    op: Promise<void> | null,
    afterReceipt?: () => void,
    bytes?: number,
    receiveBytes?: number,
  ): void
  /** The receive budget held by the frame being applied, handed over to the caller (0 when none). */
  takeFrameCharge(): number
  /** ERROR (with receipt-id when asked), then close. */
  fail(err: unknown, frame: StompFrame | null): void
  /** Apply nothing more; write the earlier outcomes, this frame's RECEIPT, then close. */
  disconnect(frame: StompFrame): void
  /** Deliver to a subscription: a MESSAGE frame, or held until the SUBSCRIBE's RECEIPT. */
  deliver(sub: Subscription, d: Delivery): void
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
  const raw = frame.headers[name]!
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

/** The durable subscription name of a SUBSCRIBE or UNSUBSCRIBE (ActiveMQ's header, or the STOMP-ish one). */
export function durableNameOf(frame: StompFrame): string | undefined {
  return frame.headers['activemq.subscriptionName'] ?? frame.headers['durable-subscription-name']
}
