/**
 * BrokerMessage: one accepted message in memory, shared by every queue entry that holds it (a topic message held
 * by several subscriptions is one BrokerMessage), plus the header normalisation a SEND goes through and
 * ActiveMQ-like message ids, and the headers of a delivery. Owns header semantics (priority, expires, persistent,
 * timestamp); not routing.
 */
import { hostname } from 'node:os'
import { BrokerError } from '../lib/errors.ts'
import type { MemoryUsage } from './memory-usage.ts'

export interface BrokerMessage {
  id: string
  /** Headers for delivery (destination, message-id, timestamp, expires, priority, persistent when true, user properties). */
  headers: Record<string, string>
  body: Uint8Array
  persistent: boolean
  priority: number
  /** Absolute ms; 0 = never. */
  expires: number
  groupId: string | null
  /** Bytes charged to memory while held: body plus header text. */
  size: number
  /** Session that sent it (noLocal); null for recovered or routed messages. */
  originSessionId: string | null
  /** Queue entries holding this message in memory; the memory charge is released when it reaches 0. */
  refs: number
  /** The usages charged while held (broker-wide and per-destination), or null when not charged. */
  charged: MemoryUsage[] | null
}

/** Headers a SEND may not set (ActiveMQ strips them from incoming SENDs) or that are frame-level. */
const STRIPPED = new Set([
  'message-id',
  'redelivered',
  'subscription',
  'JMSXUserID',
  'ack',
  'receipt',
  'transaction',
  'content-length',
  'destination',
])

/** Sizes of the headers and body, as charged against memory limits. */
export function messageSize(headers: Record<string, string>, body: Uint8Array): number {
  let n = body.length
  for (const k in headers) n += k.length + (headers[k]?.length ?? 0) + 2
  return n
}

/**
 * Generates ActiveMQ-like ids `ID:<host>-<pid>-<startMs>-<session>:<n>`. Unique per process run: the start time
 * differs between runs of one host/pid pair.
 */
export class MessageIdGenerator {
  private readonly prefix: string
  constructor(startMs: number) {
    this.prefix = `ID:${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${startMs}`
  }
  next(sessionNo: number, n: number): string {
    return `${this.prefix}-${sessionNo}:${n}`
  }
}

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

/** The dedupe key a producer supplied (`message-id`, else `_AMQ_DUPL_ID`), or null. */
export function dedupeKey(headers: Record<string, string>): string | null {
  const id = headers['message-id'] || headers['_AMQ_DUPL_ID']
  return id ? id : null
}

/**
 * Build a BrokerMessage from SEND headers. `persistent` defaults to false (ActiveMQ's STOMP default), priority
 * to 4, expires to 0 (never), timestamp to now. A producer-supplied message id becomes the message id, since it
 * is the dedupe key the store records.
 */
export function buildMessage(
  destination: string,
  inHeaders: Record<string, string>,
  body: Uint8Array,
  id: string,
  nowMs: number,
  originSessionId: string | null,
): BrokerMessage {
  const where = `SEND to ${destination}`
  const priority = intHeader(inHeaders, 'priority', where, 0, 9, 4)
  const expires = intHeader(inHeaders, 'expires', where, 0, Number.MAX_SAFE_INTEGER, 0)
  const timestamp = intHeader(inHeaders, 'timestamp', where, 0, Number.MAX_SAFE_INTEGER, nowMs)
  const pRaw = inHeaders.persistent
  if (pRaw !== undefined && !/^(true|false)$/i.test(pRaw)) {
    throw new BrokerError(
      'BROKER_HEADER_INVALID',
      `${where} header persistent: ${JSON.stringify(pRaw)} is not true or false`,
      { details: { header: 'persistent', value: pRaw } },
    )
  }
  const persistent = pRaw !== undefined && pRaw.toLowerCase() === 'true'
  const headers: Record<string, string> = {}
  for (const k in inHeaders) if (!STRIPPED.has(k) && k !== 'persistent') headers[k] = inHeaders[k]!
  headers.destination = destination
  headers['message-id'] = id
  headers.timestamp = String(timestamp)
  headers.expires = String(expires)
  headers.priority = String(priority)
  if (persistent) headers.persistent = 'true'
  return {
    id,
    headers,
    body,
    persistent,
    priority,
    expires,
    groupId: headers.JMSXGroupID || null,
    size: messageSize(headers, body),
    originSessionId,
    refs: 0,
    charged: null,
  }
}

/** Rebuild a BrokerMessage from stored headers (recovery / page-in): the headers were normalised at send. */
export function messageFromStored(id: string, headers: Record<string, string>, body: Uint8Array): BrokerMessage {
  const priority = Math.min(9, Math.max(0, Number(headers.priority ?? 4) | 0))
  const expires = Number(headers.expires ?? 0) || 0
  return {
    id,
    headers,
    body,
    persistent: headers.persistent === 'true',
    priority,
    expires,
    groupId: headers.JMSXGroupID || null,
    size: messageSize(headers, body),
    originSessionId: null,
    refs: 0,
    charged: null,
  }
}

/** ActiveMQ Message.isExpired(): expiration > 0 and now past it. */
export function isExpired(m: BrokerMessage, nowMs: number): boolean {
  return m.expires > 0 && nowMs > m.expires
}

/**
 * The headers one delivery of `m` carries (a MESSAGE frame's, before the connector adds `subscription` and
 * `ack`): a copy of the message's, plus `redelivered:true` and, for the first message of a group to a consumer,
 * `JMSXGroupFirstForConsumer:true`. Every delivery (consumers, browsers) builds its headers here.
 */
export function deliveryHeaders(m: BrokerMessage, redelivered: boolean, groupFirst: boolean): Record<string, string> {
  const headers = { ...m.headers }
  if (redelivered) headers.redelivered = 'true'
  if (groupFirst) headers.JMSXGroupFirstForConsumer = 'true'
  return headers
}
