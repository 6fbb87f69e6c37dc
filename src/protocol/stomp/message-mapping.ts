/**
 * STOMP ↔ CoreMessage, as ActiveMQ's STOMP (LegacyFrameTranslator) maps frames onto JMS messages, and exactly as
 * sfbroker 0.1.0 delivered them: for any SEND, toStompHeaders(fromStompSend(...)) equals the MESSAGE headers 0.1.0
 * wrote (the table test in message-mapping.test.ts). Also reads messages stored by 0.1.0 (fromLegacyStored).
 *
 * - Reserved headers become fields: priority, expires, timestamp (integers, today's BROKER_HEADER_INVALID wording),
 *   persistent (true|false, any case; default false), correlation-id, type, reply-to, JMSXGroupID, JMSXGroupSeq.
 *   A reply-to that is not a STOMP destination, an empty JMSXGroupID and a JMSXGroupSeq that is not a canonical
 *   JMS int stay string properties under their header name, so they come back unchanged.
 * - Frame-level headers are dropped: receipt, transaction, content-length, redelivered, subscription, ack,
 *   JMSXUserID (a client may not claim a user), message-id and destination (they become fields).
 * - Every other header is a string property. Body: `amq-msg-type: text|bytes` decides when present (and stays a
 *   property, as today), else a SEND with content-length is a bytes message, one without a text message.
 * - Dedupe: the client's message-id, else _AMQ_DUPL_ID, is the producer identity and the message id; an id ending in
 *   `:<n>` (ActiveMQ's `<producer id>:<seq>` form) is split into id and seq, so dedupeKey() gives the id back.
 */
import { BrokerError } from '../../lib/errors.ts'
import {
  type CoreMessage,
  dedupeKey,
  type Destination,
  fromStompDestination,
  type ProducerRef,
  type Properties,
  propertyAsString,
  toStompDestination,
  type BodyKind,
} from '../../model/index.ts'

export { dedupeKey }

export interface StompSendContext {
  /** Broker time: the timestamp of a SEND without one. */
  nowMs: number
  /** A fresh broker message id, for a SEND that carries neither message-id nor _AMQ_DUPL_ID. */
  newMessageId: () => string
  /** False for messages the broker routes itself (scheduler copies, BROWSE replies): no producer identity. */
  dedupe?: boolean
  /** JMSXUserID to stamp (only when the broker is configured to populate it; 0.1.0 never did). */
  userId?: string | null
}

/** SEND headers that are frame-level or become fields; none of them is kept as a property. */
const NOT_PROPERTIES = new Set([
  'receipt',
  'transaction',
  'content-length',
  'redelivered',
  'subscription',
  'ack',
  'JMSXUserID',
  'message-id',
  'destination',
  'persistent',
  'priority',
  'expires',
  'timestamp',
])

function intHeader(
  headers: Record<string, string>,
  name: string,
  where: string,
  min: number,
  max: number,
  dflt: number,
): number {
  const raw = headers[name]
  if (raw === undefined || raw === '') return dflt
  const v = Number(raw.trim())
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new BrokerError(
      'BROKER_HEADER_INVALID',
      `${where} header ${name}: ${JSON.stringify(raw)} is not an integer in ${min}..${max}`,
      { details: { header: name, value: raw } },
    )
  }
  return v
}

/** A JMSXGroupSeq value the field can hold and give back as the same text. */
function groupSeqOf(raw: string): number | null {
  if (!/^(0|-?[1-9]\d{0,9})$/.test(raw)) return null
  const v = Number(raw)
  return v >= -(2 ** 31) && v < 2 ** 31 ? v : null
}

function tryStompDestination(raw: string): Destination | null {
  try {
    return fromStompDestination(raw, 'reply-to')
  } catch {
    return null
  }
}

interface Classified {
  properties: Properties
  replyTo: Destination | null
  correlationId: string | null
  type: string | null
  groupId: string | null
  groupSeq: number | null
}

/** Splits headers into the fields STOMP names and string properties (the rules in the file header). */
function classify(headers: Record<string, string>): Classified {
  const out: Classified = {
    properties: new Map(),
    replyTo: null,
    correlationId: null,
    type: null,
    groupId: null,
    groupSeq: null,
  }
  for (const k in headers) {
    if (NOT_PROPERTIES.has(k)) continue
    const v = headers[k]!
    switch (k) {
      case 'correlation-id':
        out.correlationId = v
        continue
      case 'type':
        out.type = v
        continue
      case 'reply-to':
        out.replyTo = tryStompDestination(v)
        if (out.replyTo !== null) continue
        break
      case 'JMSXGroupID':
        if (v !== '') {
          out.groupId = v
          continue
        }
        break
      case 'JMSXGroupSeq':
        out.groupSeq = groupSeqOf(v)
        if (out.groupSeq !== null) continue
        break
    }
    out.properties.set(k, { type: 'string', value: v })
  }
  return out
}

/** `amq-msg-type: text|bytes` (ActiveMQ's Stomp.Headers.AMQ_MESSAGE_TYPE), any case; else null. */
function declaredKind(headers: Record<string, string>): BodyKind | null {
  const t = headers['amq-msg-type']?.toLowerCase()
  return t === 'text' || t === 'bytes' ? t : null
}

/** The producer identity of a client-supplied id: `<id>:<n>` splits, anything else is the id alone. */
function producerOf(key: string): ProducerRef {
  // `<id>:<n>` with a non-empty id and n canonical (0, or 1-16 digits without a leading 0) and a safe integer.
  // Scanned by hand, not with a regex: this runs for every SEND that carries a message id.
  const colon = key.lastIndexOf(':')
  const digits = key.length - colon - 1
  if (colon < 1 || digits < 1 || digits > 16 || (digits > 1 && key.charCodeAt(colon + 1) === 48))
    return { id: key, seq: null }
  for (let i = colon + 1; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c < 48 || c > 57) return { id: key, seq: null }
  }
  const seq = Number(key.slice(colon + 1))
  return Number.isSafeInteger(seq) ? { id: key.slice(0, colon), seq } : { id: key, seq: null }
}

/**
 * A STOMP SEND as a CoreMessage. `headers` are the frame's (after STOMP unescaping); `destination` is its
 * destination header. Throws BROKER_DESTINATION_INVALID / BROKER_HEADER_INVALID with sfbroker 0.1.0's wording.
 */
export function fromStompSend(
  destination: string,
  headers: Record<string, string>,
  body: Uint8Array,
  ctx: StompSendContext,
): CoreMessage {
  const dest = fromStompDestination(destination, 'SEND destination')
  const where = `SEND to ${destination}`
  const priority = intHeader(headers, 'priority', where, 0, 9, 4)
  const expiration = intHeader(headers, 'expires', where, 0, Number.MAX_SAFE_INTEGER, 0)
  const timestamp = intHeader(headers, 'timestamp', where, 0, Number.MAX_SAFE_INTEGER, ctx.nowMs)
  const pRaw = headers.persistent
  if (pRaw !== undefined && !/^(true|false)$/i.test(pRaw)) {
    throw new BrokerError(
      'BROKER_HEADER_INVALID',
      `${where} header persistent: ${JSON.stringify(pRaw)} is not true or false`,
      { details: { header: 'persistent', value: pRaw } },
    )
  }
  const key = ctx.dedupe === false ? null : headers['message-id'] || headers._AMQ_DUPL_ID || null
  const c = classify(headers)
  return {
    messageId: key ?? (headers['message-id'] || ctx.newMessageId()),
    destination: dest,
    replyTo: c.replyTo,
    correlationId: c.correlationId,
    type: c.type,
    timestamp,
    expiration,
    priority,
    persistent: pRaw !== undefined && pRaw.toLowerCase() === 'true',
    redeliveryCount: 0,
    groupId: c.groupId,
    groupSeq: c.groupSeq,
    properties: c.properties,
    bodyKind: declaredKind(headers) ?? (headers['content-length'] !== undefined ? 'bytes' : 'text'),
    body,
    producer: key === null ? null : producerOf(key),
    origin: { protocol: 'stomp' },
    userId: ctx.userId ?? null,
  }
}

/**
 * The headers of a MESSAGE frame for `msg` (ActiveMQ's copyStandardHeadersFromMessageToFrame): destination,
 * message-id, correlation-id, expires, redelivered (when redelivered), priority, reply-to, timestamp, type,
 * JMSXUserID, persistent (when true), JMSXGroupID, JMSXGroupSeq, then properties in their JMS string form. The
 * connector adds subscription, ack and content-length. A property named like a header set above is not written
 * (it cannot override a field), nor is a byte-array property (JMS has no string form for it).
 */
export function toStompHeaders(msg: CoreMessage): Record<string, string> {
  const h: Record<string, string> = Object.create(null)
  h.destination = toStompDestination(msg.destination)
  h['message-id'] = msg.messageId
  if (msg.correlationId !== null) h['correlation-id'] = msg.correlationId
  h.expires = String(msg.expiration)
  if (msg.redeliveryCount > 0) h.redelivered = 'true'
  h.priority = String(msg.priority)
  if (msg.replyTo !== null) h['reply-to'] = toStompDestination(msg.replyTo)
  h.timestamp = String(msg.timestamp)
  if (msg.type !== null) h.type = msg.type
  if (msg.userId !== null) h.JMSXUserID = msg.userId
  if (msg.persistent) h.persistent = 'true'
  if (msg.groupId !== null) h.JMSXGroupID = msg.groupId
  if (msg.groupSeq !== null) h.JMSXGroupSeq = String(msg.groupSeq)
  for (const [k, p] of msg.properties) {
    if (k in h) continue
    const s = propertyAsString(p)
    if (s !== null) h[k] = s
  }
  return h
}

/** Whether toStompHeaders sets header `name` from a field of `msg` (a property of that name is then not written). */
function fieldHeaderSet(msg: CoreMessage, name: string): boolean {
  switch (name) {
    case 'destination':
    case 'message-id':
    case 'expires':
    case 'priority':
    case 'timestamp':
      return true
    case 'correlation-id':
      return msg.correlationId !== null
    case 'redelivered':
      return msg.redeliveryCount > 0
    case 'reply-to':
      return msg.replyTo !== null
    case 'type':
      return msg.type !== null
    case 'JMSXUserID':
      return msg.userId !== null
    case 'persistent':
      return msg.persistent
    case 'JMSXGroupID':
      return msg.groupId !== null
    case 'JMSXGroupSeq':
      return msg.groupSeq !== null
  }
  return false
}

/**
 * toStompHeaders without the object: each header handed to `emit` in the order `for...in` gives toStompHeaders'
 * keys, so the MESSAGE encoder writes one frame head per delivery with no map in between. A property whose name
 * starts with a digit may be an array index, which an object lists first: then the headers come from
 * toStompHeaders itself.
 */
export function forEachStompHeader(msg: CoreMessage, emit: (name: string, value: string) => void): void {
  for (const k of msg.properties.keys()) {
    const c = k.charCodeAt(0)
    if (c >= 48 && c <= 57) {
      const h = toStompHeaders(msg)
      for (const name in h) emit(name, h[name]!)
      return
    }
  }
  emit('destination', toStompDestination(msg.destination))
  emit('message-id', msg.messageId)
  if (msg.correlationId !== null) emit('correlation-id', msg.correlationId)
  emit('expires', String(msg.expiration))
  if (msg.redeliveryCount > 0) emit('redelivered', 'true')
  emit('priority', String(msg.priority))
  if (msg.replyTo !== null) emit('reply-to', toStompDestination(msg.replyTo))
  emit('timestamp', String(msg.timestamp))
  if (msg.type !== null) emit('type', msg.type)
  if (msg.userId !== null) emit('JMSXUserID', msg.userId)
  if (msg.persistent) emit('persistent', 'true')
  if (msg.groupId !== null) emit('JMSXGroupID', msg.groupId)
  if (msg.groupSeq !== null) emit('JMSXGroupSeq', String(msg.groupSeq))
  for (const [k, p] of msg.properties) {
    if (fieldHeaderSet(msg, k)) continue
    const s = propertyAsString(p)
    if (s !== null) emit(k, s)
  }
}

/**
 * A header lookup for selectors with sfbroker 0.1.0's STOMP semantics (broker/selector.ts reads `priority`,
 * `reply-to`, user headers... by their STOMP names). Builds the header map once per call.
 */
export function stompHeaderLookup(msg: CoreMessage): (name: string) => string | undefined {
  const h = toStompHeaders(msg)
  return (name) => (name in h ? h[name] : undefined)
}

function legacyInt(raw: string | undefined): number {
  const v = Number(raw ?? 0)
  return Number.isSafeInteger(v) && v >= 0 ? v : 0
}

/** Whether bytes are well-formed UTF-8 (fatal decoder). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })
function isUtf8(b: Uint8Array): boolean {
  try {
    strictUtf8.decode(b)
    return true
  } catch {
    return false
  }
}

/**
 * A message stored by sfbroker 0.1.0, whose records kept only the normalised STOMP header map and the body.
 * Values are read as leniently as 0.1.0's messageFromStored (priority clamped to 0..9, a bad number is 0).
 * The body kind was not stored: `amq-msg-type: text|bytes` when present; else bytes when the body has a NUL
 * (an unsized STOMP body ends at its first NUL, so it had content-length) or is not UTF-8; else text.
 * No producer identity: the store's own dedupe record already holds these messages' ids.
 * A destination header that is missing or not a STOMP destination is STORAGE_CORRUPT_RECORD.
 */
export function fromLegacyStored(messageId: string, headers: Record<string, string>, body: Uint8Array): CoreMessage {
  let dest: Destination
  try {
    dest = fromStompDestination(headers.destination ?? '', 'stored destination')
  } catch (e) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `stored message ${messageId}: destination header ${JSON.stringify(headers.destination ?? null)} is not a STOMP destination`,
      { cause: e, details: { messageId } },
    )
  }
  const c = classify(headers)
  const kind = declaredKind(headers) ?? (body.includes(0) || !isUtf8(body) ? 'bytes' : 'text')
  return {
    messageId,
    destination: dest,
    replyTo: c.replyTo,
    correlationId: c.correlationId,
    type: c.type,
    timestamp: legacyInt(headers.timestamp),
    expiration: legacyInt(headers.expires),
    priority: Math.min(9, Math.max(0, Number(headers.priority ?? 4) | 0)),
    persistent: headers.persistent === 'true',
    redeliveryCount: 0,
    groupId: c.groupId,
    groupSeq: c.groupSeq,
    properties: c.properties,
    bodyKind: kind,
    body,
    producer: null,
    origin: { protocol: 'stomp' },
    userId: null,
  }
}
