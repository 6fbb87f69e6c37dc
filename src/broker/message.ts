/**
 * BrokerMessage: one accepted message in memory, shared by every queue entry that holds it (a topic message held
 * by several subscriptions is one BrokerMessage): the protocol-neutral CoreMessage (src/model) plus the broker's
 * runtime fields (memory charge, references, the session that sent it). Also ActiveMQ-like message ids and the
 * message one delivery carries (its redelivery count). Owns no protocol spelling and no routing.
 */
import { hostname } from 'node:os'
import { type CoreMessage, messageSize } from '../model/index.ts'
import type { MemoryUsage } from './memory-usage.ts'

export interface BrokerMessage {
  message: CoreMessage
  /** Bytes charged to memory while held: the model's messageSize. */
  size: number
  /** Session that sent it (noLocal); null for recovered or routed messages. */
  originSessionId: string | null
  /** Queue entries holding this message in memory; the memory charge is released when it reaches 0. */
  refs: number
  /** The usages charged while held (broker-wide and per-destination), or null when not charged. */
  charged: MemoryUsage[] | null
}

/** Wrap an accepted (or stored) message for holding in memory. */
export function brokerMessage(message: CoreMessage, originSessionId: string | null = null): BrokerMessage {
  return { message, size: messageSize(message), originSessionId, refs: 0, charged: null }
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

/**
 * The message one delivery carries: the held message itself on a first delivery (no copy on the hot path), else a
 * shallow copy whose redeliveryCount counts this entry's earlier deliveries. `recovered`: the entry was recovered
 * from the store and may have been delivered before the takeover, so it counts as redelivered (as 0.1.0 did).
 */
export function deliveredMessage(m: CoreMessage, redeliveries: number, recovered: boolean): CoreMessage {
  const extra = redeliveries + (recovered && redeliveries === 0 ? 1 : 0)
  if (extra === 0) return m
  return { ...m, redeliveryCount: m.redeliveryCount + extra }
}
