/**
 * The broker-core contract: what a protocol connector (STOMP, MQTT, OpenWire) calls, and what the scheduler and
 * protocol plug-ins (TopicTap, the store seams) plug into. The broker knows no socket, no lock and no protocol:
 * messages are the model's CoreMessage, destinations the model's Destination (src/model).
 */
import type { BrokerConfig } from '../config/types.ts'
import type { CoreMessage, Destination } from '../model/index.ts'
import type { PersistenceAdapter, RecoveredState, StoreOp, StoredMessage } from '../storage/types.ts'
import type { Clock } from '../lib/clock.ts'
import type { Authorizer, Subject } from '../security/index.ts'

export type AckMode = 'auto' | 'client' | 'client-individual'

export interface SendRequest {
  /** Built by the connector (STOMP: fromStompSend). messageId '' → the broker assigns an ActiveMQ-style id. */
  message: CoreMessage
  /** Extra store ops written in the same atomic batch as this message (MQTT QoS 2 receive state). Persistent only. */
  extraOps?: StoreOp[]
  /**
   * True when the producer set no timestamp and the connector filled message.timestamp with the send time (STOMP:
   * a SEND without a `timestamp` header). A scheduled copy of such a message is stamped with its firing time, as
   * sfbroker 0.1.0 did; otherwise copies keep the producer's timestamp.
   */
  timestampDefaulted?: boolean
}

export interface SubscribeRequest {
  /** The subscription id (unique per session). */
  id: string
  /** Destination or, for topics, a wildcard filter (`*`, `>` in the dotted form). */
  destination: Destination
  ack: AckMode
  selector?: string
  /**
   * activemq.prefetchSize; default per ActiveMQ: 1000 queue, 32766 topic (1 for browsers is irrelevant). 0 (not for
   * browsers) is pull mode: nothing is dispatched but what BrokerSession.pull grants.
   */
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
  /** redeliveryCount as of this delivery. The connector spells it (STOMP: toStompHeaders + subscription/ack). */
  message: CoreMessage
  redelivered: boolean
  /** A queue browser reached the end: send ActiveMQ's end marker (STOMP: MESSAGE with `browser:end`, empty body). */
  browserEnd?: boolean
  /** Message groups: first message of a group for this consumer (STOMP JMSXGroupFirstForConsumer). */
  groupFirst?: boolean
}

/** A protocol plug-in that keeps per-client state for topic messages (the MQTT session store). */
export interface TopicTap {
  /**
   * Called synchronously inside the broker's commit of every message routed to a topic (after authorization,
   * before the store write), including messages from any protocol and scheduler firings. Returns store ops to
   * write in the SAME atomic batch (only for persistent messages; for non-persistent ones ops must be empty)
   * and a callback the broker runs once that batch is durable and fenced (at once for non-persistent), in commit
   * order. Must not throw; return null to ignore the message. `info.subscribers`: how many of the broker's own
   * subscriptions (any protocol's topic subscribers and durable subscriptions) the message goes to.
   */
  onTopicMessage(message: CoreMessage, info: TopicTapInfo): { ops: StoreOp[]; committed?: () => void } | null
}

/** What the broker tells a topic tap about a message besides the message itself. */
export interface TopicTapInfo {
  subscribers: number
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
  /**
   * A poison ack: the message goes to the DLQ now (no redelivery attempt left, as ActiveMQ's POISON_ACK), at
   * COMMIT inside a transaction. `cause` (e.g. OpenWire's poisonCause as Java's Throwable.toString) becomes the DLQ
   * copy's `dlqDeliveryFailureCause`; without one that names the subscription.
   */
  nack(ackId: string, txId?: string, cause?: string): Promise<void>
  /**
   * Prefetch 0 consumers: `count` more deliveries may be made to `subscriptionId` (one-shot credit, used up by
   * dispatch). Throws BROKER_SUBSCRIPTION_INVALID for an unknown or non-pull consumer, or credit past PULL_CREDIT_MAX.
   */
  pull(subscriptionId: string, count?: number): void
  /** Takes back the unused credit of `subscriptionId` now (its pull timed out): nothing more is dispatched to it. */
  cancelPull(subscriptionId: string): number
  /** A consumer's prefetch changes (ActiveMQ's ConsumerControl); leaving 0 drops its pull credit. */
  setPrefetch(subscriptionId: string, prefetch: number): void
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
   *  (delay/period/cron properties, or a management command). Throws SCHEDULER_HEADER_INVALID for bad values. */
  accept(req: SendRequest, session: BrokerSession | null): Promise<boolean>
  /**
   * Whether accept() could take this send (a management destination, or a schedule property). False lets the
   * broker skip accept() and its await for an ordinary send.
   */
  claims(req: SendRequest): boolean
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
  /** Plug a TopicTap in (see TopicTap); returns the remover. */
  addTopicTap(tap: TopicTap): () => void
  /** One atomic store batch, durable and fenced; the seqs of its add ops. BROKER_STORE_NONE without a store. */
  storeWrite(ops: StoreOp[]): Promise<number[]>
  /** A page of the messages stored under `key` (a plug-in's own key, e.g. `mqtt://...`). */
  storeLoad(key: string, afterSeq: number, limit: number): Promise<StoredMessage[]>
  /** Store keys under `prefix` that hold messages: those recovered plus those written since. */
  storeKeys(prefix: string): string[]
  /** The authorization hook: throws SECURITY_NOT_AUTHORIZED when `session` may not `op` on `dest` (or create it). */
  authorize(session: BrokerSession, op: 'read' | 'write', dest: Destination): void
  /** A fresh ActiveMQ-style message id. */
  newMessageId(): string
  metrics(): BrokerMetrics
  stop(): Promise<void>
}
