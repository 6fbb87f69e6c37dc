/**
 * Test-only helpers for the scheduler's unit tests: scheduled SENDs built through the STOMP mapping (as the
 * connector builds them), a BrokerCore base whose route() records each copy with its STOMP view (destination
 * label, MESSAGE headers, body) and dedupes on the model's dedupeKey as the broker's producer audit does, and
 * nothing else of the broker (the other methods throw). Not imported by production code.
 */
import { type CoreMessage, dedupeKey, type Destination } from '../../model/index.ts'
import { fromStompSend, toStompHeaders } from '../../protocol/stomp/message-mapping.ts'
import type { StoreOp, StoredMessage } from '../../storage/types.ts'
import type { BrokerCore, BrokerMetrics, BrokerSession, SchedulerPort, SendRequest, TopicTap } from '../types.ts'
import { labelOf } from '../destination.ts'

/** A routed copy as a STOMP subscriber would see it, plus the message itself. */
export interface RoutedCopy {
  destination: string
  headers: Record<string, string>
  body: Uint8Array
  message: CoreMessage
}

/**
 * A SEND as the STOMP connector hands it to the broker: mapped by fromStompSend at `nowMs`, and
 * `timestampDefaulted` when the frame had no timestamp header.
 */
export function stompSendRequest(
  destination: string,
  headers: Record<string, string>,
  body: string | Uint8Array,
  nowMs: number,
): SendRequest {
  const b = typeof body === 'string' ? new TextEncoder().encode(body) : body
  const message = fromStompSend(destination, headers, b, { nowMs, newMessageId: () => '' })
  return { message, timestampDefaulted: !headers.timestamp }
}

export function routedCopy(req: SendRequest): RoutedCopy {
  const m = req.message
  return { destination: labelOf(m.destination), headers: { ...toStompHeaders(m) }, body: m.body, message: m }
}

function notUsed(what: string): never {
  throw new Error(`scheduler tests: BrokerCore.${what} is not used by the scheduler`)
}

/** route() records (subclasses decide when and how); every other BrokerCore method is unused by the scheduler. */
export abstract class RecordingBrokerBase implements BrokerCore {
  private readonly seen = new Set<string>()
  /** Distinct dedupe keys routed so far. */
  get seenKeys(): number {
    return this.seen.size
  }
  /** True when the copy is a duplicate (its dedupe key was routed before); records the key otherwise. */
  protected duplicate(req: SendRequest): boolean {
    const key = dedupeKey(req.message)
    if (key === null) return false
    if (this.seen.has(key)) return true
    this.seen.add(key)
    return false
  }
  abstract route(req: SendRequest): Promise<void>
  connect(): BrokerSession {
    return notUsed('connect')
  }
  setScheduler(_s: SchedulerPort | null): void {}
  addTopicTap(_tap: TopicTap): () => void {
    return notUsed('addTopicTap')
  }
  storeWrite(_ops: StoreOp[]): Promise<number[]> {
    return notUsed('storeWrite')
  }
  storeLoad(_key: string, _afterSeq: number, _limit: number): Promise<StoredMessage[]> {
    return notUsed('storeLoad')
  }
  storeKeys(_prefix: string): string[] {
    return notUsed('storeKeys')
  }
  authorize(_session: BrokerSession, _op: 'read' | 'write', _dest: Destination): void {
    notUsed('authorize')
  }
  newMessageId(): string {
    return notUsed('newMessageId')
  }
  metrics(): BrokerMetrics {
    return { connections: 0, destinations: [], memoryBytes: 0, memoryLimitBytes: 0 }
  }
  async stop(): Promise<void> {}
}
