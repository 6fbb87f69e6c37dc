/**
 * A STOMP transaction (BEGIN ... COMMIT/ABORT) as the caller sees it. BEGIN goes out lazily with the first
 * operation, so a transaction started while the client is reconnecting simply waits. Once BEGIN was written on a
 * connection, that connection's loss puts the transaction IN DOUBT: the broker rolled it back (or, for a COMMIT
 * already written, may have committed it), so every pending and later operation rejects with CLIENT_TX_IN_DOUBT and
 * the caller must redo the work in a new transaction. Nothing is ever replayed silently (ActiveMQ reports the same
 * case as TransactionRolledBackException "Transaction completion in doubt due to failover").
 */
import type { ClientMessage } from './message.ts'
import type { SendBody, SendOptions } from './client-types.ts'

export type TxState = 'open' | 'committing' | 'committed' | 'aborted' | 'in-doubt'

/** What a transaction needs from its client; implemented by StompClient. */
export interface TransactionOwner {
  txSend(
    tx: Transaction,
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean>,
    opts: SendOptions,
  ): Promise<void>
  txAck(tx: Transaction, msg: ClientMessage, command: 'ACK' | 'NACK'): Promise<void>
  txEnd(tx: Transaction, command: 'COMMIT' | 'ABORT'): Promise<void>
}

export class Transaction {
  state: TxState = 'open'
  /** Generation of the connection BEGIN was written on; undefined until the first operation goes out. */
  begunGeneration: number | undefined

  constructor(
    readonly id: string,
    private readonly owner: TransactionOwner,
  ) {}

  /** SEND inside the transaction; resolves on the broker's RECEIPT (the message is visible only after commit). */
  send(
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean> = {},
    opts: SendOptions = {},
  ): Promise<void> {
    return this.owner.txSend(this, destination, body, headers, opts)
  }

  /** ACK a message inside the transaction (takes effect at commit). */
  ack(msg: ClientMessage): Promise<void> {
    return this.owner.txAck(this, msg, 'ACK')
  }

  nack(msg: ClientMessage): Promise<void> {
    return this.owner.txAck(this, msg, 'NACK')
  }

  /** COMMIT; resolves on RECEIPT. Rejects with CLIENT_TX_IN_DOUBT if the connection was lost meanwhile. */
  commit(): Promise<void> {
    return this.owner.txEnd(this, 'COMMIT')
  }

  /** ABORT; resolves on RECEIPT, or at once if the transaction is already rolled back by a connection loss. */
  abort(): Promise<void> {
    return this.owner.txEnd(this, 'ABORT')
  }
}
