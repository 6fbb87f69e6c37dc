/**
 * A message received by a subscription: its headers, body and the ack/nack that go back through the client.
 * Owns: decoding helpers (text(), redelivered) and remembering which connection delivered it, because an ACK is only
 * meaningful on that connection: after a failover the broker redelivers every unacked message (marked redelivered),
 * so an ack for a message from an older connection is skipped, as ActiveMQ's failover transport does with stale acks.
 */
import type { ClientFrame } from './broker-link.ts'

export type AckMode = 'auto' | 'client' | 'client-individual'

export interface AckOptions {
  /** Ask the broker for a RECEIPT and resolve only when it arrives (default false: resolve once written). */
  receipt?: boolean
}

/** What a message needs from its client; implemented by StompClient. */
export interface MessageAcker {
  acknowledge(msg: ClientMessage, command: 'ACK' | 'NACK', opts: AckOptions, txId?: string): Promise<void>
}

const decoder = new TextDecoder()

export class ClientMessage {
  readonly headers: Record<string, string>
  readonly body: Uint8Array
  /** The connection generation that delivered it (incremented by the client on every successful connect). */
  readonly generation: number
  readonly subscriptionId: string
  readonly ackMode: AckMode

  constructor(
    frame: ClientFrame,
    subscriptionId: string,
    ackMode: AckMode,
    generation: number,
    private readonly acker: MessageAcker,
    /** This client already delivered a message with the same message-id to the same subscription (client audit). */
    readonly duplicate = false,
  ) {
    this.headers = frame.headers
    this.body = frame.body
    this.subscriptionId = subscriptionId
    this.ackMode = ackMode
    this.generation = generation
  }

  get destination(): string {
    return this.headers['destination'] ?? ''
  }

  get messageId(): string {
    return this.headers['message-id'] ?? ''
  }

  /**
   * True when this message may have been seen before: the broker says so (header `redelivered:true`), or this client
   * already delivered the same message-id to the same subscription (its duplicate audit, like ActiveMQ's client
   * `checkForDuplicates`): a broker that recovers a message after a failover may not know it was dispatched before.
   */
  get redelivered(): boolean {
    return this.headers['redelivered'] === 'true' || this.duplicate
  }

  /** The broker's own `redelivered` header, without the client's duplicate audit. */
  get brokerRedelivered(): boolean {
    return this.headers['redelivered'] === 'true'
  }

  /** The body decoded as UTF-8. */
  text(): string {
    return decoder.decode(this.body)
  }

  /** Acknowledge (client: this and every earlier message of the subscription; client-individual: this one). No-op in auto mode. */
  ack(opts: AckOptions = {}): Promise<void> {
    return this.acker.acknowledge(this, 'ACK', opts)
  }

  /** Reject: the broker redelivers it or moves it to the DLQ (ActiveMQ: straight to the DLQ). No-op in auto mode. */
  nack(opts: AckOptions = {}): Promise<void> {
    return this.acker.acknowledge(this, 'NACK', opts)
  }
}
