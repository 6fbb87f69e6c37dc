/**
 * What BrokerMqttCore needs of the broker: the part of the BrokerCore contract (src/broker/types.ts) it calls:
 * sessions to send through, the topic tap, atomic store writes, paged loads, key listing, authorization and ids.
 * Declared here as a narrow port so the MQTT core can be tested against the real Broker and nothing else.
 */
import type { Clock } from '../../lib/clock.ts'
import type { CoreMessage, Destination } from '../../model/index.ts'
import type { Subject } from '../../security/index.ts'
import type { StoreOp, StoredMessage } from '../../storage/index.ts'
import type { BrokerSession, TopicTap } from '../../broker/index.ts'

export type { StoreOp, StoredMessage, BrokerSession, TopicTap }

export interface MqttBrokerPort {
  readonly clock: Clock
  /** The broker's store; null when persistent=false (the real Broker's field; BrokerMqttCore reads only null-ness). */
  readonly store?: unknown
  connect(info: { clientId?: string; remoteAddress: string; protocol: string; subject?: Subject | null }): BrokerSession
  addTopicTap(tap: TopicTap): () => void
  storeWrite(ops: StoreOp[]): Promise<number[]>
  storeLoad(key: string, afterSeq: number, limit: number): Promise<StoredMessage[]>
  storeKeys(prefix: string): string[]
  authorize(session: BrokerSession, op: 'read' | 'write', dest: Destination): void
  newMessageId(): string
}

export type { CoreMessage }
