/**
 * The MQTT core's records in the broker's shared store: key names and record encodings. Every key starts with
 * `mqtt://` so none collides with the broker's (`queue://`, `topic://`, `durable://`, ...):
 *
 * - `mqtt://s/<client id>/session`   one record: expiry, disconnect time, subject, subscriptions, will
 * - `mqtt://s/<client id>/queue`     QoS 1/2 messages queued for a persistent session, in arrival order
 * - `mqtt://s/<client id>/inflight`  deliveries sent and not settled: packet id, state, and (until PUBREC) the message
 * - `mqtt://s/<client id>/qos2-in/<packet id>`  an inbound QoS 2 packet id received and not yet released
 * - `mqtt://retained/<dotted topic>` the topic's retained message
 *
 * The client id is URI-encoded in keys (it may hold `/`). The store keeps only CoreMessages, so state records are
 * messages whose body is JSON (STATE_DESTINATION); queued and in-flight copies carry their per-session delivery
 * (granted QoS, retain flag, subscription ids, packet id) in the DELIVERY_PROPERTY, stripped when read back.
 * Owns encodings only: when to write is broker-core's.
 */
import { BrokerError } from '../../lib/errors.ts'
import { type CoreMessage, copyMessage, createMessage, type Destination, prop } from '../../model/index.ts'
import type { Subject } from '../../security/index.ts'
import type { MqttMessage, QoS, SubscribeOptions } from './core-port.ts'

export const KEY_PREFIX = 'mqtt://'
export const SESSION_PREFIX = 'mqtt://s/'
export const RETAINED_PREFIX = 'mqtt://retained/'
export const DELIVERY_PROPERTY = 'MQTT_DELIVERY'
const STATE_DESTINATION: Destination = { kind: 'queue', name: 'mqtt.state' }
export const SESSION_RECORD_VERSION = 1

const base = (clientId: string) => `${SESSION_PREFIX}${encodeURIComponent(clientId)}/`
export const keys = {
  session: (clientId: string) => `${base(clientId)}session`,
  queue: (clientId: string) => `${base(clientId)}queue`,
  inflight: (clientId: string) => `${base(clientId)}inflight`,
  qos2In: (clientId: string, id: number) => `${base(clientId)}qos2-in/${id}`,
  qos2InPrefix: (clientId: string) => `${base(clientId)}qos2-in/`,
  sessionPrefix: base,
  retained: (topic: string) => `${RETAINED_PREFIX}${topic}`,
}

/** `mqtt://s/<id>/<rest>` → client id and rest; null for keys of other shapes. */
export function parseSessionKey(key: string): { clientId: string; rest: string } | null {
  if (!key.startsWith(SESSION_PREFIX)) return null
  const tail = key.slice(SESSION_PREFIX.length)
  const slash = tail.indexOf('/')
  if (slash < 0) return null
  try {
    return { clientId: decodeURIComponent(tail.slice(0, slash)), rest: tail.slice(slash + 1) }
  } catch {
    return null
  }
}

function corrupt(where: string, why: string): never {
  throw new BrokerError('STORAGE_CORRUPT_RECORD', `mqtt store ${where}: ${why}`)
}

// ---------------------------------------------------------------- JSON state records

function stateRecord(json: unknown, nowMs: number): CoreMessage {
  return createMessage({
    messageId: 'mqtt-state',
    destination: STATE_DESTINATION,
    timestamp: nowMs,
    persistent: true,
    bodyKind: 'bytes',
    body: new TextEncoder().encode(JSON.stringify(json)),
  })
}

function readState(m: CoreMessage, where: string): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder().decode(m.body))
    if (typeof v === 'object' && v !== null) return v as Record<string, unknown>
  } catch {}
  return corrupt(where, 'body is not a JSON object')
}

interface MessageJson {
  topic: string
  payload: string
  qos: QoS
  retain: boolean
  expiresAt?: number
  pfi?: boolean
  ct?: string
  rt?: string
  cd?: string
  up?: [string, string][]
}

export function messageToJson(m: MqttMessage): MessageJson {
  const p = m.properties
  return {
    topic: m.topic,
    payload: m.payload.toString('base64'),
    qos: m.qos,
    retain: m.retain,
    ...(m.expiresAt !== undefined ? { expiresAt: m.expiresAt } : {}),
    ...(p.payloadFormatIndicator !== undefined ? { pfi: p.payloadFormatIndicator } : {}),
    ...(p.contentType !== undefined ? { ct: p.contentType } : {}),
    ...(p.responseTopic !== undefined ? { rt: p.responseTopic } : {}),
    ...(p.correlationData !== undefined ? { cd: p.correlationData.toString('base64') } : {}),
    ...(p.userProperties ? { up: p.userProperties } : {}),
  }
}

export function messageFromJson(j: MessageJson): MqttMessage {
  return {
    topic: j.topic,
    payload: Buffer.from(j.payload, 'base64'),
    qos: j.qos,
    retain: j.retain,
    ...(j.expiresAt !== undefined ? { expiresAt: j.expiresAt } : {}),
    properties: {
      ...(j.pfi !== undefined ? { payloadFormatIndicator: j.pfi } : {}),
      ...(j.ct !== undefined ? { contentType: j.ct } : {}),
      ...(j.rt !== undefined ? { responseTopic: j.rt } : {}),
      ...(j.cd !== undefined ? { correlationData: Buffer.from(j.cd, 'base64') } : {}),
      ...(j.up ? { userProperties: j.up } : {}),
    },
  }
}

export interface StoredSub {
  filter: string
  opts: SubscribeOptions
}

/** Everything a persistent session needs after a takeover besides its queue, in-flight and QoS 2 records. */
export interface SessionRecord {
  clientId: string
  expirySec: number
  /** Broker clock ms of the last disconnect; null while connected. */
  disconnectedAt: number | null
  subject: { user: string; groups: string[]; anonymous?: boolean } | null
  subs: StoredSub[]
  will: { message: MqttMessage; delaySec: number } | null
  nextPacketId: number
}

export function encodeSession(r: SessionRecord, nowMs: number): CoreMessage {
  return stateRecord(
    {
      v: SESSION_RECORD_VERSION,
      ...r,
      will: r.will ? { message: messageToJson(r.will.message), delaySec: r.will.delaySec } : null,
    },
    nowMs,
  )
}

export function decodeSession(m: CoreMessage, key: string): SessionRecord {
  const j = readState(m, key)
  if (j.v !== SESSION_RECORD_VERSION)
    corrupt(key, `session record version ${JSON.stringify(j.v)}, expected ${SESSION_RECORD_VERSION}`)
  if (typeof j.clientId !== 'string' || typeof j.expirySec !== 'number' || !Array.isArray(j.subs))
    corrupt(key, 'session record lacks clientId, expirySec or subs')
  const will = j.will as { message: MessageJson; delaySec: number } | null
  return {
    clientId: j.clientId,
    expirySec: j.expirySec,
    disconnectedAt: typeof j.disconnectedAt === 'number' ? j.disconnectedAt : null,
    subject: (j.subject as SessionRecord['subject']) ?? null,
    subs: j.subs as StoredSub[],
    will: will ? { message: messageFromJson(will.message), delaySec: will.delaySec } : null,
    nextPacketId: typeof j.nextPacketId === 'number' ? j.nextPacketId : 1,
  }
}

export function subjectToRecord(s: Subject | null): SessionRecord['subject'] {
  return s ? { user: s.user, groups: [...s.groups], ...(s.anonymous ? { anonymous: true } : {}) } : null
}

export function subjectFromRecord(r: SessionRecord['subject']): Subject | null {
  return r ? { user: r.user, groups: new Set(r.groups), ...(r.anonymous ? { anonymous: true } : {}) } : null
}

/** The exactly-once marker of an inbound QoS 2 packet id. */
export function qos2InRecord(packetId: number, nowMs: number): CoreMessage {
  return stateRecord({ id: packetId }, nowMs)
}

// ---------------------------------------------------------------- queued and in-flight copies

/** One session's delivery of a message: what the session sends besides the message. */
export interface DeliveryInfo {
  qos: QoS
  retain: boolean
  subscriptionIds: number[]
  /** In-flight only: the packet id and whether PUBREC was seen. */
  packetId?: number
  received?: boolean
  /** The shared group (`$share/<group>/<filter>`) that chose this session: another member takes it if it ends. */
  group?: string
}

/** A copy of `m` for a session's queue or in-flight key: no producer identity (never a dedupe key), delivery info. */
export function deliveryCopy(m: CoreMessage, d: DeliveryInfo): CoreMessage {
  const c = copyMessage(m, { producer: null })
  c.properties.set(
    DELIVERY_PROPERTY,
    prop.string(
      JSON.stringify({
        q: d.qos,
        r: d.retain,
        s: d.subscriptionIds,
        ...(d.packetId !== undefined ? { p: d.packetId, x: d.received === true } : {}),
        ...(d.group !== undefined ? { g: d.group } : {}),
      }),
    ),
  )
  return c
}

/** A PUBREC'd in-flight entry: the message is dropped, only the packet id stays. */
export function receivedRecord(packetId: number, nowMs: number): CoreMessage {
  const m = stateRecord({}, nowMs)
  return deliveryCopy(m, { qos: 2, retain: false, subscriptionIds: [], packetId, received: true })
}

/** The delivery info of a stored copy and the message without it. */
export function readDeliveryCopy(m: CoreMessage, where: string): { info: DeliveryInfo; message: CoreMessage } {
  const raw = m.properties.get(DELIVERY_PROPERTY)
  if (raw?.type !== 'string') corrupt(where, `message ${m.messageId} lacks ${DELIVERY_PROPERTY}`)
  let j: { q: QoS; r: boolean; s: number[]; p?: number; x?: boolean; g?: string }
  try {
    j = JSON.parse(raw.value)
  } catch {
    return corrupt(where, `message ${m.messageId}: ${DELIVERY_PROPERTY} is not JSON`)
  }
  const message = copyMessage(m)
  message.properties.delete(DELIVERY_PROPERTY)
  return {
    info: {
      qos: j.q,
      retain: j.r,
      subscriptionIds: j.s,
      ...(j.p !== undefined ? { packetId: j.p, received: j.x === true } : {}),
      ...(typeof j.g === 'string' ? { group: j.g } : {}),
    },
    message,
  }
}
