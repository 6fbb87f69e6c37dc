/**
 * The broker-core contract: what a protocol connector (STOMP today, others later) calls, and what the
 * scheduler plugs into. The broker knows no socket and no lock. Destinations use STOMP/ActiveMQ names:
 * `/queue/X`, `/topic/X`, `/temp-queue/X`, `/temp-topic/X`. Message headers are plain strings.
 */
import type { BrokerConfig } from '../config/types.ts'
import type { PersistenceAdapter, RecoveredState } from '../storage/types.ts'
import type { Clock } from '../lib/clock.ts'
import type { Authorizer, Subject } from '../security/index.ts'

export type AckMode = 'auto' | 'client' | 'client-individual'

export interface SendRequest {
  destination: string
  /**
   * Every SEND header except the frame-level ones the connector consumes (receipt, transaction, content-length,
   * content-type is kept). Includes persistent, priority, expires, correlation-id, reply-to, type, JMSXGroupID,
   * AMQ_SCHEDULED_*, and user properties. A client-supplied `message-id` (or `_AMQ_DUPL_ID`) is the dedupe key.
   */
  headers: Record<string, string>
  body: Uint8Array
}

export interface SubscribeRequest {
  /** The STOMP subscription id (unique per session). */
  id: string
  destination: string
  ack: AckMode
  selector?: string
  /** activemq.prefetchSize; default per ActiveMQ: 1000 queue, 32766 topic (1 for browsers is irrelevant). */
  prefetch?: number
  /** activemq.exclusive */
  exclusive?: boolean
  /** activemq.priority (consumer priority) */
  priority?: number
  /** activemq.subscriptionName (durable topic subscription; needs a client id on the session). */
  durableName?: string
  /** browser:true — a queue browser: sees the queue without consuming; ends with a browser-end delivery. */
  browser?: boolean
  /** activemq.noLocal */
  noLocal?: boolean
}

export interface Delivery {
  subscriptionId: string
  /** Opaque id the client echoes in ACK/NACK (STOMP 1.2 `ack` header; 1.0/1.1 use message-id). */
  ackId: string
  messageId: string
  /** Headers for the MESSAGE frame: destination, message-id, timestamp, expires, priority, persistent,
   *  redelivered, correlation-id, reply-to, type, user properties... The connector adds `subscription` and `ack`. */
  headers: Record<string, string>
  body: Uint8Array
  redelivered: boolean
  /** A queue browser reached the end: send ActiveMQ's end marker (MESSAGE with `browser:end`, empty body). */
  browserEnd?: boolean
}

export interface ConnectInfo {
  clientId?: string
  login?: string
  remoteAddress: string
  protocol: string
  /** Who authenticated (src/security); null or absent without an authentication plugin. */
  subject?: Subject | null
}

export interface BrokerSession {
  readonly sessionId: string
  /** Resolves when the message is accepted (for persistent messages: durable). Rejects with BrokerError. */
  send(req: SendRequest, txId?: string): Promise<void>
  subscribe(req: SubscribeRequest, onDelivery: (d: Delivery) => void): void
  /** removeDurable: also delete the durable subscription (UNSUBSCRIBE with activemq.subscriptionName).
   *  durableName: the activemq.subscriptionName, so a durable subscription that is not active on this session
   *  (a client reconnecting only to remove it) can be deleted by client-id + name. */
  unsubscribe(id: string, opts?: { removeDurable?: boolean; durableName?: string }): Promise<void>
  ack(ackId: string, txId?: string): Promise<void>
  nack(ackId: string, txId?: string): Promise<void>
  begin(txId: string): void
  commit(txId: string): Promise<void>
  abort(txId: string): Promise<void>
  /** Socket backpressure: while paused the broker dispatches nothing to this session. */
  setDispatchPaused(paused: boolean): void
  /** Unacked deliveries go back to their destinations with redelivered=true; temp destinations are removed. */
  close(): Promise<void>
}

/** What the scheduler exposes to the broker core (see broker/scheduler). */
export interface SchedulerPort {
  /** Called for every SEND (at COMMIT for transacted ones). Returns true when the scheduler took the message
   *  (delay/period/cron headers, or a management command). Throws SCHEDULER_HEADER_INVALID for bad headers. */
  accept(req: SendRequest, session: BrokerSession | null): Promise<boolean>
}

export interface BrokerOptions {
  config: BrokerConfig
  /** null when persistent=false */
  store: PersistenceAdapter | null
  recovered: RecoveredState | null
  clock?: Clock
  /** Called when a store write fails fatally: the node gives up the primary role. */
  onStoreFailure?: (err: Error) => void
  /** `<authorizationPlugin>` (src/security): asked on subscribe, browse, send and a client's first use of a destination. */
  authorizer?: Authorizer | null
}

export interface DestinationMetrics {
  destination: string
  enqueued: number
  dequeued: number
  depth: number
  consumers: number
  expired: number
}

export interface BrokerMetrics {
  connections: number
  destinations: DestinationMetrics[]
  memoryBytes: number
  memoryLimitBytes: number
}

export interface BrokerCore {
  connect(info: ConnectInfo): BrokerSession
  /** Inject a message as if sent by a producer (used by the scheduler when a job fires). */
  route(req: SendRequest): Promise<void>
  setScheduler(s: SchedulerPort | null): void
  metrics(): BrokerMetrics
  stop(): Promise<void>
}
