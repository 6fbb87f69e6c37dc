/**
 * TransactionBook: a client's open transactions and their frames (BEGIN goes out with the first op, see
 * transaction.ts). It decides which transactions a lost connection puts in doubt and never replays one; the ops
 * themselves wait in the client's OpLedger like any other.
 * It does not write frames nor own a connection: the host (client.ts) builds, submits and writes the ops.
 */
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import type { SendBody, SendOptions } from './client-types.ts'
import type { ClientMessage } from './message.ts'
import type { Op, OpPolicy } from './op-ledger.ts'
import { Transaction, type TransactionOwner } from './transaction.ts'

/** What transactions need from the client. */
export interface TransactionHost {
  /** Generation of the current connection (bumped on each connect). */
  generation(): number
  sendOp(
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean>,
    opts: SendOptions,
    policy: OpPolicy,
    tx: Transaction,
  ): Op
  newOp(command: string, headers: Record<string, string>, policy: OpPolicy, what: string, receipt: boolean): Op
  ackHeaders(msg: ClientMessage, command: string): Record<string, string>
  submit(op: Op, timeoutMs?: number): Promise<void>
  /** Whether an op of `tx` still waits in the ledger. */
  hasOpsOf(tx: Transaction): boolean
}

/** CLIENT_TX_IN_DOUBT for `what` in `tx`: its connection was lost after BEGIN. */
export function inDoubt(tx: Transaction, what: string): BrokerError {
  return new BrokerError(
    'CLIENT_TX_IN_DOUBT',
    `${what}: transaction ${tx.id} is in doubt after a connection loss (rolled back by the broker, or committed if its COMMIT had arrived); redo it in a new transaction`,
  )
}

export class TransactionBook implements TransactionOwner {
  private readonly txs = new Set<Transaction>()
  private seq = 0

  constructor(
    private readonly producerId: string,
    private readonly host: TransactionHost,
  ) {}

  /** A new transaction; BEGIN goes out with its first operation. */
  begin(): Transaction {
    const tx = new Transaction(`tx-${this.producerId}-${++this.seq}`, this)
    this.txs.add(tx)
    return tx
  }

  /** The connection was lost: transactions begun on it are in doubt (the broker rolled back what it had not committed). */
  lost(): void {
    for (const tx of this.txs) {
      if (tx.begunGeneration !== undefined && (tx.state === 'open' || tx.state === 'committing')) tx.state = 'in-doubt'
    }
  }

  /** The client closed or failed: every unfinished transaction is in doubt, and forgotten. */
  abandon(): void {
    for (const tx of this.txs) if (tx.state === 'open' || tx.state === 'committing') tx.state = 'in-doubt'
    this.txs.clear()
  }

  private usable(tx: Transaction, what: string): Error | null {
    if (tx.state === 'in-doubt') return inDoubt(tx, what)
    if (tx.state !== 'open')
      return new BrokerError(
        'CLIENT_USAGE',
        `${what}: transaction ${tx.id} is ${tx.state}; expected an open transaction`,
      )
    return null
  }

  /** @internal TransactionOwner */
  txSend(
    tx: Transaction,
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean>,
    opts: SendOptions,
  ): Promise<void> {
    const bad = this.usable(tx, `SEND to ${destination}`)
    if (bad) return Promise.reject(bad)
    return this.host.submit(this.host.sendOp(destination, body, headers, opts, 'tx', tx), opts.timeoutMs)
  }

  /** @internal TransactionOwner */
  txAck(tx: Transaction, msg: ClientMessage, command: 'ACK' | 'NACK'): Promise<void> {
    const bad = this.usable(tx, `${command} ${msg.messageId}`)
    if (bad) return Promise.reject(bad)
    if (msg.ackMode === 'auto') return Promise.resolve()
    if (msg.generation !== this.host.generation()) {
      // The message came from a lost connection: the broker will redeliver it, so this transaction cannot include its ack.
      tx.state = 'in-doubt'
      return Promise.reject(inDoubt(tx, `${command} ${msg.messageId} (delivered before a failover)`))
    }
    const h = this.host.ackHeaders(msg, command)
    h.transaction = tx.id
    const op = this.host.newOp(command, h, 'tx', `${command} ${msg.messageId} in ${tx.id}`, false)
    op.tx = tx
    return this.host.submit(op)
  }

  /** @internal TransactionOwner */
  txEnd(tx: Transaction, command: 'COMMIT' | 'ABORT'): Promise<void> {
    if (command === 'ABORT' && (tx.state === 'in-doubt' || tx.state === 'aborted')) {
      // A lost connection already rolled it back (or a COMMIT in doubt was reported to its caller).
      tx.state = 'aborted'
      this.txs.delete(tx)
      return Promise.resolve()
    }
    const bad = this.usable(tx, command)
    if (bad) return Promise.reject(bad)
    if (tx.begunGeneration === undefined && !this.host.hasOpsOf(tx)) {
      // Nothing was ever sent in it: there is nothing to commit or abort on the broker.
      tx.state = command === 'COMMIT' ? 'committed' : 'aborted'
      this.txs.delete(tx)
      return Promise.resolve()
    }
    tx.state = command === 'COMMIT' ? 'committing' : 'open'
    const op = this.host.newOp(command, { transaction: tx.id }, 'tx', `${command} ${tx.id}`, true)
    op.tx = tx
    return this.host.submit(op).then(
      () => {
        tx.state = command === 'COMMIT' ? 'committed' : 'aborted'
        this.txs.delete(tx)
      },
      (e) => {
        if (!isBrokerError(e, 'CLIENT_TX_IN_DOUBT') && tx.state === 'committing') tx.state = 'in-doubt'
        this.txs.delete(tx)
        throw isBrokerError(e, 'CLIENT_TIMEOUT') ? inDoubt(tx, `${command} (${e.message})`) : e
      },
    )
  }
}
