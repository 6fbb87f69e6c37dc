/**
 * MqttMessage ↔ CoreMessage: the one place an MQTT PUBLISH (or will) becomes the broker's protocol-neutral message
 * and any topic message (from MQTT, STOMP, OpenWire, the scheduler) becomes an MQTT message again.
 *
 * - Destination: the topic of the dotted name; the payload is the body as bytes (kind `text` when the MQTT 5 payload
 *   format indicator promises UTF-8, else `bytes`); persistent = QoS > 0; origin {mqtt, qos, retain}.
 * - MQTT 5: content type ↔ the `content-type` property (STOMP's header); response topic ↔ replyTo (a topic);
 *   correlation data ↔ correlationId when it is UTF-8, else the bytes property MQTT_CORRELATION_DATA; message
 *   expiry ↔ expiration (absolute, broker clock); user properties ↔ string properties. A user property named
 *   more than once keeps its last value (JMS properties are a map, so other protocols see that one), and then the
 *   whole ordered list also travels as JSON in USER_PROPERTIES_PROPERTY, so MQTT subscribers get every repeat back.
 * - Back to MQTT: every property that has a string form (bytes have none) is a user property, in order; QoS is the
 *   publisher's MQTT QoS, else 1 for a persistent message and 0 for a non-persistent one (ActiveMQ's default of
 *   AT_LEAST_ONCE for persistent JMS messages); retain is origin.mqtt.retain or the RETAIN_PROPERTY flag.
 * Owns no routing and no wire encoding (message-properties.ts maps to PUBLISH properties).
 */
import { type CoreMessage, createMessage, type Properties, propertyAsString, prop } from '../../model/index.ts'
import type { MessageProperties, MqttMessage, QoS } from './core-port.ts'

/** ActiveMQ's RetainedMessageSubscriptionRecoveryPolicy marker: a boolean property asking other protocols' messages
 * to be kept as the topic's retained message. */
export const RETAIN_PROPERTY = 'ActiveMQ.Retain'
/** Set (true) on a retained message delivered on subscribe, as ActiveMQ marks them. */
export const RETAINED_PROPERTY = 'ActiveMQ.Retained'
/** Correlation data that is not UTF-8 travels as this bytes property. */
export const CORRELATION_DATA_PROPERTY = 'MQTT_CORRELATION_DATA'
export const CONTENT_TYPE_PROPERTY = 'content-type'
/** The ordered user properties of an MQTT message that repeats a name (JSON `[[name, value], ...]`). */
export const USER_PROPERTIES_PROPERTY = 'MQTT_USER_PROPERTIES'

/** Properties that are MQTT fields, never user properties. */
const NOT_USER = new Set([
  RETAIN_PROPERTY,
  RETAINED_PROPERTY,
  CORRELATION_DATA_PROPERTY,
  CONTENT_TYPE_PROPERTY,
  USER_PROPERTIES_PROPERTY,
])

const utf8 = new TextDecoder('utf-8', { fatal: true })

function utf8OrNull(b: Uint8Array): string | null {
  try {
    return utf8.decode(b)
  } catch {
    return null
  }
}

export interface ToCoreContext {
  messageId: string
  nowMs: number
  userId?: string | null
}

/** An MQTT message as the broker's message (the caller sends it; messageId '' lets the broker assign one). */
export function mqttToCore(m: MqttMessage, ctx: ToCoreContext): CoreMessage {
  const p = m.properties
  const properties: Properties = new Map()
  if (p.contentType !== undefined) properties.set(CONTENT_TYPE_PROPERTY, prop.string(p.contentType))
  const pairs = p.userProperties ?? []
  for (const [k, v] of pairs) properties.set(k, prop.string(v))
  if (new Set(pairs.map(([k]) => k)).size < pairs.length)
    properties.set(USER_PROPERTIES_PROPERTY, prop.string(JSON.stringify(pairs)))
  let correlationId: string | null = null
  if (p.correlationData !== undefined) {
    correlationId = utf8OrNull(p.correlationData)
    if (correlationId === null) properties.set(CORRELATION_DATA_PROPERTY, prop.bytes(new Uint8Array(p.correlationData)))
  }
  return createMessage({
    messageId: ctx.messageId,
    destination: { kind: 'topic', name: m.topic },
    timestamp: ctx.nowMs,
    expiration: m.expiresAt ?? 0,
    persistent: m.qos > 0,
    replyTo: p.responseTopic === undefined ? null : { kind: 'topic', name: p.responseTopic },
    correlationId,
    properties,
    bodyKind: p.payloadFormatIndicator ? 'text' : 'bytes',
    body: new Uint8Array(m.payload),
    origin: { protocol: 'mqtt', mqtt: { qos: m.qos, retain: m.retain } },
    userId: ctx.userId ?? null,
  })
}

/** The QoS a message was published with, as MQTT sees it. */
export function publishedQos(m: CoreMessage): QoS {
  if (m.origin.mqtt) return m.origin.mqtt.qos
  return m.persistent ? 1 : 0
}

/** Whether the message asks to be the topic's retained message (MQTT RETAIN, or ActiveMQ.Retain from others). */
export function wantsRetain(m: CoreMessage): boolean {
  if (m.origin.mqtt) return m.origin.mqtt.retain
  const r = m.properties.get(RETAIN_PROPERTY)
  return r !== undefined && propertyAsString(r) === 'true'
}

/** Any topic message as an MQTT message. `origin` (for no-local) is filled in by the caller. */
export function coreToMqtt(m: CoreMessage): MqttMessage {
  const properties: MessageProperties = {}
  if (m.bodyKind === 'text') properties.payloadFormatIndicator = true
  const ct = m.properties.get(CONTENT_TYPE_PROPERTY)
  if (ct?.type === 'string') properties.contentType = ct.value
  if (m.replyTo !== null) properties.responseTopic = m.replyTo.name
  const cd = m.properties.get(CORRELATION_DATA_PROPERTY)
  if (cd?.type === 'bytes') properties.correlationData = Buffer.from(cd.value)
  else if (m.correlationId !== null) properties.correlationData = Buffer.from(m.correlationId, 'utf8')
  const user = repeatedUserProperties(m)
  const listed = new Set(user.map(([k]) => k))
  for (const [k, v] of m.properties) {
    if (NOT_USER.has(k) || listed.has(k)) continue
    const s = propertyAsString(v)
    if (s !== null) user.push([k, s])
  }
  if (user.length > 0) properties.userProperties = user
  return {
    topic: m.destination.name,
    payload: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength),
    qos: publishedQos(m),
    retain: wantsRetain(m),
    properties,
    ...(m.expiration > 0 ? { expiresAt: m.expiration } : {}),
  }
}

/** The ordered list of a message whose MQTT user properties repeated a name; [] when none is kept or it is unreadable. */
function repeatedUserProperties(m: CoreMessage): [string, string][] {
  const raw = m.properties.get(USER_PROPERTIES_PROPERTY)
  if (raw?.type !== 'string') return []
  try {
    const v: unknown = JSON.parse(raw.value)
    if (Array.isArray(v) && v.every((e) => Array.isArray(e) && e.length === 2 && e.every((x) => typeof x === 'string')))
      return v as [string, string][]
  } catch {}
  return []
}
