/**
 * The MQTT core port: everything an MQTT connection knows of the broker. A connection validates packets, maps topic
 * names to dotted destination names (topic-mapping.ts) and calls this port; the broker-backed implementation maps it
 * onto topics, durable topic subscriptions keyed by client id + subscription name, shared-group queues, retained
 * messages and atomic store batches. memory-core.ts is the complete in-memory implementation that documents the
 * contract for the unit tests. Names here are always dotted (`a.b.*`, `a.>`), never MQTT text.
 *
 * Failures are BrokerError (SECURITY_AUTHENTICATION_FAILED, SECURITY_NOT_AUTHORIZED, BROKER_LIMIT,
 * BROKER_STOPPED, ...); reason-codes.ts maps them onto MQTT reason codes.
 */
import type { Credentials } from '../../security/index.ts'

export type QoS = 0 | 1 | 2

/** Message properties that travel with a message between protocols (MQTT 5 §3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean
  contentType?: string
  /** Dotted destination name of the response topic. */
  responseTopic?: string
  correlationData?: Buffer
  /** MQTT 5 user properties in order, repeats kept; other protocols see them as string message properties. */
  userProperties?: [string, string][]
}

export interface MqttMessage {
  /** Dotted destination name. */
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties: MessageProperties
  /** Absolute expiry (core clock ms) from the message expiry interval; undefined: never expires. */
  expiresAt?: number
  /** Client id of the publishing session, for no-local. */
  origin?: string
}

/** One PUBLISH to send to this session's client. */
export interface Delivery {
  /** 1..65535 for QoS 1 and 2 (assigned by the core, kept across reconnects); 0 for QoS 0. */
  packetId: number
  /** The granted QoS: min(message QoS, subscription QoS). */
  qos: QoS
  /** A resend of a delivery the client may have seen (after a reconnect). */
  dup: boolean
  /** RETAIN flag as sent: true for retained messages sent on subscribe, else per retain-as-published. */
  retain: boolean
  message: MqttMessage
  /** Subscription identifiers of every matching subscription that has one (MQTT 5 §3.3.4). */
  subscriptionIds: number[]
}

export interface Will {
  message: MqttMessage
  /** MQTT 5 will delay interval, seconds (0 in 3.1.1). */
  delaySec: number
}

/** Where a session sends deliveries: the connection currently attached to it. */
export interface DeliverySink {
  deliver(d: Delivery): void
  /** QoS 2 deliveries the client acknowledged with PUBREC before the last disconnect: resend PUBREL for each. */
  release(packetId: number): void
  /** Another connection opened this client id: close this one (MQTT 5: DISCONNECT 0x8E). */
  takenOver(): void
}

export interface OpenRequest {
  clientId: string
  /** Discard any existing session state first (3.1.1 clean session; MQTT 5 clean start). */
  cleanStart: boolean
  /** Seconds the session outlives the connection: 0 ends it at close, 0xFFFFFFFF never expires. */
  sessionExpirySec: number
  credentials: Credentials
  protocolVersion: 3 | 4 | 5
  will?: Will
  /** Most unacknowledged QoS 1/2 deliveries at once (the client's receive maximum, capped by the server). */
  inFlightMax: number
  sink: DeliverySink
}

export interface OpenResult {
  /** True when an existing session was resumed (never after cleanStart). */
  sessionPresent: boolean
  session: MqttSession
}

export interface SubscribeOptions {
  qos: QoS
  noLocal: boolean
  retainAsPublished: boolean
  /** 0: send retained messages; 1: only if the subscription is new; 2: never. */
  retainHandling: 0 | 1 | 2
  subscriptionId?: number
  /** `$share/{group}/...`: one member of the group gets each message (queue semantics); no retained messages. */
  shareGroup?: string
}

export interface PublishOptions {
  /** QoS 2 packet id: published at most once per id until release(id), recorded atomically with the message. */
  exactlyOnceId?: number
}

export interface MqttSession {
  readonly clientId: string
  /**
   * Routes a message (retain: stored or, with an empty payload, cleared). Resolves once it is durable (QoS 1/2) or
   * routed (QoS 0); `duplicate` when exactlyOnceId was already received and not yet released (nothing routed);
   * `matched` false when no subscription took it.
   */
  publish(message: MqttMessage, opts?: PublishOptions): Promise<{ duplicate: boolean; matched: boolean }>
  /** PUBREL: forget a QoS 2 packet id received by publish(); false if it was unknown. */
  release(packetId: number): Promise<boolean>
  /**
   * Adds or replaces the subscription for (filter, shareGroup). Resolves with whether it existed. Retained messages
   * matching the filter (per retainHandling) are queued to this session's sink with retain set.
   */
  subscribe(filter: string, opts: SubscribeOptions): Promise<{ existed: boolean }>
  /** Removes it; false if there was none. */
  unsubscribe(filter: string, shareGroup?: string): Promise<boolean>
  /** Starts delivering to the sink: first in-flight resends (dup), then queued messages. Call after CONNACK. */
  start(): void
  /** PUBACK (QoS 1) or PUBCOMP (QoS 2): the delivery is done, its packet id free. False if unknown. */
  settle(packetId: number): boolean
  /**
   * PUBREC: a QoS 2 delivery was received; its message is dropped, the id stays in flight until settle(). Resolves
   * (false: unknown id) once that is durable: the connection sends PUBREL only then, because a client that got
   * PUBREL hands the message to its application and forgets the id, so a broker that lost the PUBREC (a takeover
   * right after) would resend the PUBLISH and the client would deliver it twice.
   */
  received(packetId: number): Promise<boolean>
  /**
   * Detaches the connection. publishWill false (DISCONNECT 0x00): the will is discarded. Otherwise it is published
   * after its delay, or when the session ends, whichever is first; a reconnect before then cancels it.
   * sessionExpirySec overrides the one from open() (MQTT 5 DISCONNECT property).
   */
  close(opts: { publishWill: boolean; sessionExpirySec?: number }): Promise<void>
}

export interface MqttCore {
  /** Authenticates, takes over any live connection of clientId (its sink's takenOver()), opens or resumes. */
  open(req: OpenRequest): Promise<OpenResult>
}
