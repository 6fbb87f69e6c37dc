/**
 * CoreMessage: the protocol-neutral message every connector maps onto and every store keeps (issue #13 §1): the
 * JMS header fields, typed properties, a body kind and its bytes, the producer identity used for dedupe and the
 * extras a protocol needs to round-trip (MQTT QoS/retain, the protocol it came from). Plus validation, memory
 * accounting, expiry, the dedupe key and the values selectors see. Owns no protocol spelling and no routing;
 * map/stream/object bodies are opaque bytes the broker never decodes.
 */
import { BrokerError } from '../lib/errors.ts'
import type { Destination } from './destination.ts'
import { toStompDestination } from './destination-mapping.ts'
import {
  type Properties,
  type PropertyValue,
  propertyAsSelectorValue,
  propertySize,
  type SelectorScalar,
  validateProperty,
} from './property.ts'

export type BodyKind = 'none' | 'text' | 'bytes' | 'map' | 'stream' | 'object'
export const BODY_KINDS: readonly BodyKind[] = ['none', 'text', 'bytes', 'map', 'stream', 'object']

export type OriginProtocol = 'stomp' | 'mqtt' | 'openwire' | 'internal'
export const ORIGIN_PROTOCOLS: readonly OriginProtocol[] = ['stomp', 'mqtt', 'openwire', 'internal']

export interface Origin {
  protocol: OriginProtocol
  /** MQTT PUBLISH QoS and retain flag, kept so an MQTT subscriber gets them back. */
  mqtt?: { qos: 0 | 1 | 2; retain: boolean }
}

/**
 * Who produced the message, for dedupe: a producer identity plus a sequence number (OpenWire's ProducerId and
 * producerSequenceId). `seq` null: the id alone is the key (a STOMP client message-id without a `:<n>` tail).
 */
export interface ProducerRef {
  id: string
  seq: number | null
}

export interface CoreMessage {
  /** JMSMessageID. */
  messageId: string
  destination: Destination
  replyTo: Destination | null
  correlationId: string | null
  /** JMSType. */
  type: string | null
  /** JMSTimestamp, ms since the epoch. */
  timestamp: number
  /** JMSExpiration, absolute ms since the epoch; 0 = never. */
  expiration: number
  /** 0..9, JMS default 4. */
  priority: number
  persistent: boolean
  /** Deliveries before this one that were not acknowledged (JMSRedelivered = redeliveryCount > 0). */
  redeliveryCount: number
  /** JMSXGroupID; null = no group (an empty group id is no group, as ActiveMQ's message groups treat it). */
  groupId: string | null
  /** JMSXGroupSeq (a JMS int); null when the producer set none. */
  groupSeq: number | null
  properties: Properties
  bodyKind: BodyKind
  body: Uint8Array
  producer: ProducerRef | null
  origin: Origin
  /** JMSXUserID: the authenticated user, when the broker populates it (populateJMSXUserID). */
  userId: string | null
}

export const PRIORITY_DEFAULT = 4
/** Most properties one message may carry: bounds the codec's loops and the per-message memory charge. */
export const MESSAGE_PROPERTIES_MAX = 65_536
/** Fixed bytes charged per message besides its strings, properties and body (object, maps, bookkeeping). */
export const MESSAGE_OVERHEAD_BYTES = 96

/** A message with defaults for every optional field (priority 4, non-persistent, no expiry, no properties). */
export function createMessage(
  init: Pick<CoreMessage, 'messageId' | 'destination' | 'timestamp'> & Partial<CoreMessage>,
): CoreMessage {
  return {
    messageId: init.messageId,
    destination: init.destination,
    replyTo: init.replyTo ?? null,
    correlationId: init.correlationId ?? null,
    type: init.type ?? null,
    timestamp: init.timestamp,
    expiration: init.expiration ?? 0,
    priority: init.priority ?? PRIORITY_DEFAULT,
    persistent: init.persistent ?? false,
    redeliveryCount: init.redeliveryCount ?? 0,
    groupId: init.groupId ?? null,
    groupSeq: init.groupSeq ?? null,
    properties: init.properties ?? new Map(),
    bodyKind: init.bodyKind ?? (init.body && init.body.length > 0 ? 'bytes' : 'none'),
    body: init.body ?? new Uint8Array(0),
    producer: init.producer ?? null,
    origin: init.origin ?? { protocol: 'internal' },
    userId: init.userId ?? null,
  }
}

/** A copy sharing body and property values but with its own properties map, so either may be changed. */
export function copyMessage(m: CoreMessage, changes: Partial<CoreMessage> = {}): CoreMessage {
  return { ...m, properties: new Map(m.properties), ...changes }
}

function invalid(where: string, field: string, value: unknown, expected: string): never {
  throw new BrokerError('BROKER_HEADER_INVALID', `${where} ${field}: ${JSON.stringify(value)} ${expected}`, {
    details: { field, value },
  })
}

function nonNegInt(where: string, field: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) invalid(where, field, v, 'is not an integer in 0..2^53-1')
}

/**
 * Checks every field's range and type (BROKER_HEADER_INVALID naming `where` and the field). Connectors call it on
 * messages they build from non-STOMP input; the codec's decoder produces only valid messages.
 */
export function validateMessage(m: CoreMessage, where = 'message'): void {
  if (typeof m.messageId !== 'string' || m.messageId.length === 0) invalid(where, 'messageId', m.messageId, 'is empty')
  if (!Number.isInteger(m.priority) || m.priority < 0 || m.priority > 9)
    invalid(where, 'priority', m.priority, 'is not an integer in 0..9')
  nonNegInt(where, 'timestamp', m.timestamp)
  nonNegInt(where, 'expiration', m.expiration)
  nonNegInt(where, 'redeliveryCount', m.redeliveryCount)
  if (m.groupSeq !== null && (!Number.isInteger(m.groupSeq) || m.groupSeq < -(2 ** 31) || m.groupSeq >= 2 ** 31))
    invalid(where, 'groupSeq', m.groupSeq, 'is not a JMS int')
  if (m.groupId === '') invalid(where, 'groupId', m.groupId, 'is empty; use null for no group')
  if (!BODY_KINDS.includes(m.bodyKind)) invalid(where, 'bodyKind', m.bodyKind, `is not one of ${BODY_KINDS.join(', ')}`)
  if (!(m.body instanceof Uint8Array)) invalid(where, 'body', typeof m.body, 'is not a Uint8Array')
  if (m.bodyKind === 'none' && m.body.length > 0) invalid(where, 'body', m.body.length, 'bytes with bodyKind none')
  if (m.producer !== null) {
    if (typeof m.producer.id !== 'string' || m.producer.id.length === 0)
      invalid(where, 'producer.id', m.producer.id, 'is empty')
    if (m.producer.seq !== null) nonNegInt(where, 'producer.seq', m.producer.seq)
  }
  if (!ORIGIN_PROTOCOLS.includes(m.origin.protocol))
    invalid(where, 'origin.protocol', m.origin.protocol, `is not one of ${ORIGIN_PROTOCOLS.join(', ')}`)
  const q = m.origin.mqtt
  if (q && ((q.qos !== 0 && q.qos !== 1 && q.qos !== 2) || typeof q.retain !== 'boolean'))
    invalid(where, 'origin.mqtt', q, 'is not {qos: 0|1|2, retain: boolean}')
  if (m.properties.size > MESSAGE_PROPERTIES_MAX)
    invalid(where, 'properties', m.properties.size, `properties; at most ${MESSAGE_PROPERTIES_MAX} are allowed`)
  for (const [k, v] of m.properties) validateProperty(k, v)
}

/** Bytes a message is charged against memory limits while held: body, strings, properties, fixed overhead. */
export function messageSize(m: CoreMessage): number {
  let n = MESSAGE_OVERHEAD_BYTES + m.body.length + m.messageId.length + m.destination.name.length
  if (m.replyTo !== null) n += m.replyTo.name.length
  if (m.correlationId !== null) n += m.correlationId.length
  if (m.type !== null) n += m.type.length
  if (m.groupId !== null) n += m.groupId.length
  if (m.userId !== null) n += m.userId.length
  if (m.producer !== null) n += m.producer.id.length
  for (const [k, v] of m.properties) n += propertySize(k, v)
  return n
}

/** ActiveMQ Message.isExpired(): an expiration is set and now is past it. */
export function isExpired(m: CoreMessage, nowMs: number): boolean {
  return m.expiration > 0 && nowMs > m.expiration
}

/**
 * The key of the stores' dedupe record: `<producer id>:<seq>`, or the id alone when seq is null; null when the
 * message has no producer identity (never deduplicated). For OpenWire this is the message id's usual string form.
 */
export function dedupeKey(m: CoreMessage): string | null {
  if (m.producer === null) return null
  return m.producer.seq === null ? m.producer.id : `${m.producer.id}:${m.producer.seq}`
}

export function getProperty(m: CoreMessage, name: string): PropertyValue | undefined {
  return m.properties.get(name)
}

/** Sets a property after checking its value (BROKER_HEADER_INVALID). */
export function setProperty(m: CoreMessage, name: string, value: PropertyValue): void {
  validateProperty(name, value)
  m.properties.set(name, value)
}

/**
 * The value of a selector identifier (JMS 1.1 §3.8.1.1): JMS header names read the fields (JMSDeliveryMode is
 * 'PERSISTENT'|'NON_PERSISTENT', JMSDestination/JMSReplyTo are spelled by `spell`, STOMP's form by default as
 * sfbroker 0.1.0's selectors saw them), JMSX names the group, user and delivery count; other names are properties.
 */
export function selectorValue(
  m: CoreMessage,
  name: string,
  spell: (d: Destination) => string = toStompDestination,
): SelectorScalar {
  switch (name) {
    case 'JMSMessageID':
      return m.messageId
    case 'JMSPriority':
      return m.priority
    case 'JMSTimestamp':
      return m.timestamp
    case 'JMSExpiration':
      return m.expiration
    case 'JMSCorrelationID':
      return m.correlationId
    case 'JMSType':
      return m.type
    case 'JMSReplyTo':
      return m.replyTo === null ? propertyAsSelectorValue(m.properties.get('reply-to')) : spell(m.replyTo)
    case 'JMSDestination':
      return spell(m.destination)
    case 'JMSDeliveryMode':
      return m.persistent ? 'PERSISTENT' : 'NON_PERSISTENT'
    case 'JMSRedelivered':
      return m.redeliveryCount > 0
    case 'JMSXDeliveryCount':
      return m.redeliveryCount + 1
    case 'JMSXGroupID':
      return m.groupId ?? propertyAsSelectorValue(m.properties.get(name))
    case 'JMSXGroupSeq':
      return m.groupSeq ?? propertyAsSelectorValue(m.properties.get(name))
    case 'JMSXUserID':
      return m.userId
    default:
      return propertyAsSelectorValue(m.properties.get(name))
  }
}
