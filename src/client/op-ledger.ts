/**
 * OpLedger: every operation (SEND, ACK, UNSUBSCRIBE, transaction frames) the client has accepted and the broker has
 * not yet receipted, in submission order, with its receipt id and its timeout.
 * Owns: the receipt-id sequence (shared with SUBSCRIBE receipts), the per-op timeout timers (through the injected
 * Clock). It does not write frames or decide what a lost connection means for an op: client.ts does, by walking
 * `pending()` to resend or settle.
 */
import type { Clock } from '../lib/clock.ts'
import { BrokerError } from '../lib/errors.ts'
import type { Transaction } from './transaction.ts'

/** What a lost connection means for an op: resend it, fail it with its transaction, or count it as done. */
export type OpPolicy = 'resend' | 'tx' | 'resolve-on-loss'

export interface Op {
  command: string
  headers: Record<string, string>
  body?: Uint8Array
  receipt?: string
  policy: OpPolicy
  tx?: Transaction
  what: string
  writtenGeneration?: number
  timer?: unknown
  /** Ledger key, set by add(). */
  key?: number
  resolve(): void
  reject(e: Error): void
}

export class OpLedger {
  private readonly ops = new Map<number, Op>()
  private readonly byReceipt = new Map<string, Op>()
  private opSeq = 0
  private receiptSeq = 0

  constructor(private readonly clock: Clock) {}

  /** Operations added and not yet finished. */
  get size(): number {
    return this.ops.size
  }

  /** A fresh receipt id (`r-N`), for ops and SUBSCRIBE frames alike. */
  nextReceipt(): string {
    return `r-${++this.receiptSeq}`
  }

  /** A new op; with `receipt`, it gets a receipt id, also set as its `receipt` header. */
  newOp(command: string, headers: Record<string, string>, policy: OpPolicy, what: string, receipt: boolean): Op {
    const op: Op = { command, headers, policy, what, resolve: () => undefined, reject: () => undefined }
    if (receipt) {
      op.receipt = this.nextReceipt()
      headers.receipt = op.receipt
    }
    return op
  }

  /** Enter `op`; with timeoutMs > 0 it rejects with CLIENT_TIMEOUT unless finished before. `where` names the link. */
  add(op: Op, timeoutMs: number, where: () => string): void {
    const key = ++this.opSeq
    this.ops.set(key, op)
    if (op.receipt) this.byReceipt.set(op.receipt, op)
    op.key = key
    if (timeoutMs > 0) {
      op.timer = this.clock.setTimeout(() => {
        this.finish(
          op,
          new BrokerError(
            'CLIENT_TIMEOUT',
            `${op.what}: no RECEIPT within timeout=${timeoutMs} ms (${where()}); the broker may or may not have processed it`,
          ),
        )
      }, timeoutMs)
    }
  }

  /** Settle `op` (resolve, or reject with `err`) and forget it; a no-op if it is not in the ledger any more. */
  finish(op: Op, err?: Error): void {
    const key = op.key
    if (key === undefined || !this.ops.has(key)) return
    this.ops.delete(key)
    if (op.receipt) this.byReceipt.delete(op.receipt)
    if (op.timer !== undefined) this.clock.clearTimeout(op.timer)
    if (err) op.reject(err)
    else op.resolve()
  }

  /** The op waiting for RECEIPT `receiptId`, if any. */
  byReceiptId(receiptId: string): Op | undefined {
    return this.byReceipt.get(receiptId)
  }

  /** A snapshot of the unfinished ops in submission order (safe to finish ops while iterating it). */
  pending(): Op[] {
    return [...this.ops.values()]
  }

  /** Whether any unfinished op belongs to `tx`. */
  hasOpsOf(tx: Transaction): boolean {
    for (const op of this.ops.values()) if (op.tx === tx) return true
    return false
  }
}
