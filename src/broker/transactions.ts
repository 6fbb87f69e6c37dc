/**
 * SessionTransactions: one session's open transactions (BEGIN … COMMIT/ABORT). Owns their bookkeeping and limits:
 * TX_PER_SESSION_MAX open at once, TX_OPS_MAX operations each, and the SEND bytes a transaction and all of a
 * session's open transactions may hold (`<systemUsage maxTransactionSize maxTransactionSizePerConnection>`), which
 * are charged to the broker-wide memory at once; past any of them the SEND gets BROKER_LIMIT at once (ActiveMQ's
 * `sendFailIfNoSpace`: a ResourceAllocationException instead of blocking a producer that holds a transaction open).
 * Committing is ./commit-batch.ts; undoing acks on ABORT is the session's (./session.ts).
 */
import { BrokerError } from '../lib/errors.ts'
import type { Nack } from './commit-batch.ts'
import type { InFlight } from './queue.ts'
import type { SendRequest } from './types.ts'

/** Open transactions per session, and operations per transaction (named limits; crossing one is BROKER_LIMIT). */
export const TX_PER_SESSION_MAX = 1000
export const TX_OPS_MAX = 100_000
/** Default bytes of SENDs one transaction, and all open transactions of one session, may hold until COMMIT/ABORT. */
export const TX_BYTES_MAX = 128 * 1024 * 1024
export const SESSION_TX_BYTES_MAX = 128 * 1024 * 1024

export interface Transaction {
  id: string
  sends: SendRequest[]
  acks: InFlight[]
  /** Poison acks, each with its subscription and cause, dead-lettered at COMMIT. */
  nacks: Nack[]
  /** Bytes of `sends` (as charged to memory), held in the session's total and in the broker's memory. */
  bytes: number
}

/** What transactions need from the broker: their byte limits and the broker-wide memory. */
export interface TxMemory {
  txBytesLimits(): { transaction: number; session: number }
  /** Charge bytes to the broker-wide memory now, or false when they do not fit (no waiting). */
  chargeTx(bytes: number): boolean
  releaseTx(bytes: number): void
}

export class SessionTransactions {
  private readonly txs = new Map<string, Transaction>()
  /** Bytes held by this session's open transactions (the per-session limit). */
  private bytes = 0

  constructor(private readonly memory: TxMemory) {}

  /** The open transaction `txId`, or BROKER_TX_UNKNOWN naming the frame (`where`). */
  get(txId: string, where: string): Transaction {
    const t = this.txs.get(txId)
    if (!t)
      throw new BrokerError(
        'BROKER_TX_UNKNOWN',
        `${where}: transaction ${JSON.stringify(txId)} is not open on this session`,
        { details: { transaction: txId } },
      )
    return t
  }

  begin(txId: string): void {
    if (this.txs.has(txId))
      throw new BrokerError(
        'BROKER_TX_UNKNOWN',
        `BEGIN: transaction ${JSON.stringify(txId)} is already open on this session`,
        { details: { transaction: txId } },
      )
    if (this.txs.size >= TX_PER_SESSION_MAX)
      throw new BrokerError('BROKER_LIMIT', `BEGIN: more than ${TX_PER_SESSION_MAX} open transactions on one session`, {
        details: { limit: TX_PER_SESSION_MAX },
      })
    this.txs.set(txId, { id: txId, sends: [], acks: [], nacks: [], bytes: 0 })
  }

  /** Hold a SEND of `size` bytes in transaction `t` until COMMIT, or BROKER_LIMIT past a limit. */
  addSend(t: Transaction, req: SendRequest, size: number): void {
    const txId = t.id
    if (t.sends.length + t.acks.length + t.nacks.length >= TX_OPS_MAX) {
      throw new BrokerError('BROKER_LIMIT', `transaction ${txId}: more than ${TX_OPS_MAX} operations`, {
        details: { limit: TX_OPS_MAX },
      })
    }
    const lim = this.memory.txBytesLimits()
    if (t.bytes + size > lim.transaction) {
      throw new BrokerError(
        'BROKER_LIMIT',
        `transaction ${txId}: SEND of ${size} bytes would hold ${t.bytes + size} bytes, over the transaction limit ${lim.transaction} (maxTransactionSize, sendFailIfNoSpace)`,
        { details: { limit: lim.transaction, bytes: t.bytes + size } },
      )
    }
    if (this.bytes + size > lim.session) {
      throw new BrokerError(
        'BROKER_LIMIT',
        `transaction ${txId}: SEND of ${size} bytes would hold ${this.bytes + size} bytes in this session's open transactions, over ${lim.session} (maxTransactionSizePerConnection, sendFailIfNoSpace)`,
        { details: { limit: lim.session, bytes: this.bytes + size } },
      )
    }
    if (!this.memory.chargeTx(size)) {
      throw new BrokerError(
        'BROKER_LIMIT',
        `transaction ${txId}: SEND of ${size} bytes does not fit in the broker's memory limit (memoryUsage), not waiting inside a transaction (sendFailIfNoSpace)`,
        { details: { bytes: size } },
      )
    }
    t.bytes += size
    this.bytes += size
    t.sends.push(req)
  }

  /** COMMIT or ABORT: the transaction is no longer open and its bytes are released (the batch charges its own). */
  end(txId: string, where: string): Transaction {
    const t = this.get(txId, where)
    this.txs.delete(txId)
    this.release(t)
    return t
  }

  /** Session close: end every open transaction, handing each to `undo` right after its bytes are released. */
  endAll(undo: (t: Transaction) => void): void {
    for (const t of [...this.txs.values()]) {
      this.release(t)
      undo(t)
    }
    this.txs.clear()
  }

  private release(t: Transaction): void {
    this.bytes -= t.bytes
    this.memory.releaseTx(t.bytes)
    t.bytes = 0
  }
}
