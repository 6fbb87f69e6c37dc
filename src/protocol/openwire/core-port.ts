/**
 * What an OpenWire connection uses of the broker: the protocol-neutral core contract (src/broker/types.ts after
 * the core's protocol-neutral change), restated as the subset this connector calls so the connector depends on
 * nothing else. The Broker satisfies it structurally; tests may pass any object that does.
 */
import type { CoreMessage, Destination } from '../../model/index.ts'
import type { Subject } from '../../security/index.ts'

export type AckMode = 'auto' | 'client' | 'client-individual'

export interface CoreConnectInfo {
  clientId?: string
  login?: string
  remoteAddress: string
  protocol: string
  subject?: Subject | null
}

export interface CoreSendRequest {
  /** messageId '' → the broker assigns one. */
  message: CoreMessage
}

export interface CoreSubscribeRequest {
  id: string
  destination: Destination
  ack: AckMode
  selector?: string
  prefetch?: number
  exclusive?: boolean
  priority?: number
  durableName?: string
  browser?: boolean
  noLocal?: boolean
}

export interface CoreDelivery {
  subscriptionId: string
  ackId: string
  /** redeliveryCount as of this delivery. */
  message: CoreMessage
  redelivered: boolean
  browserEnd?: boolean
  groupFirst?: boolean
}

export interface CoreSession {
  readonly sessionId: string
  send(req: CoreSendRequest, txId?: string): Promise<void>
  subscribe(req: CoreSubscribeRequest, onDelivery: (d: CoreDelivery) => void): void
  unsubscribe(id: string, opts?: { removeDurable?: boolean; durableName?: string }): Promise<void>
  ack(ackId: string, txId?: string): Promise<void>
  /** A poison ack: to the DLQ now; `cause` becomes its dlqDeliveryFailureCause. */
  nack(ackId: string, txId?: string, cause?: string): Promise<void>
  /** Prefetch 0: `count` one-shot deliveries for `subscriptionId` (default 1). */
  pull(subscriptionId: string, count?: number): void
  /** Prefetch 0: the unused credit taken back at once (a pull timed out); returns how much. */
  cancelPull(subscriptionId: string): number
  /** ConsumerControl: the subscription's prefetch changes (0: pull mode). */
  setPrefetch(subscriptionId: string, prefetch: number): void
  begin(txId: string): void
  commit(txId: string): Promise<void>
  abort(txId: string): Promise<void>
  setDispatchPaused(paused: boolean): void
  close(): Promise<void>
}

export interface OpenWireCore {
  connect(info: CoreConnectInfo): CoreSession
  newMessageId(): string
}
