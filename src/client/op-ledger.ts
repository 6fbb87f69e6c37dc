/**
 * OpLedger: every operation (SEND, ACK, UNSUBSCRIBE, transaction frames) the client has accepted and the broker has
 * not yet receipted, in submission order, with its receipt id and its timeout; writing each one (BEGIN first for a
 * transaction's first op), resending them in order after a reconnect, and settling them when a connection is lost
 * or the client ends.
 * Owns: the message-id and receipt-id sequences (receipt ids are shared with SUBSCRIBE), the per-op timeout timers
 * (through the injected Clock). It does not own the connection nor decide when the client is connected: its host
 * (client.ts) does.
 */
import type { Clock } from '../lib/clock.ts'
import { BrokerError } from '../lib/errors.ts'
import type { ClientTransport } from './client-transport.ts'
import type { ClientStats, SendBody } from './client-types.ts'
import { normalizeDestination } from './destination.ts'
import { inDoubt } from './transaction-book.ts'
import type { Transaction } from './transaction.ts'

const encoder = new TextEncoder()

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

/** What the ledger needs from the client. */
export interface OpLedgerHost {
  /** The transport to write on while the client is connected; null otherwise. */
  link(): ClientTransport | null
  /** Generation of the current connection (bumped on each connect). */
  generation(): number
  readonly stats: ClientStats
  /** Why no operation is accepted now (the client is closed or failed), or null. */
  refusal(op: Op): Error | null
  /** Where the client is, for a timeout's message. */
  where(): string
}

export class OpLedger {
  private readonly ops = new Map<number, Op>()
  private readonly byReceipt = new Map<string, Op>()
  private opSeq = 0
  private receiptSeq = 0
  private messageSeq = 0

  constructor(
    private readonly clock: Clock,
    /** Prefix of every message-id (unique per client instance). */
    private readonly producerId: string,
    private readonly host: OpLedgerHost,
  ) {}

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

  /** A SEND op to `destination` with a fresh `message-id`; the reserved headers of `headers` are ignored. */
  sendOp(
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean>,
    receipt: boolean,
    policy: OpPolicy,
    tx?: Transaction,
  ): Op {
    const dest = normalizeDestination(destination)
    const h: Record<string, string> = { destination: dest, 'message-id': `${this.producerId}:${++this.messageSeq}` }
    for (const [k, v] of Object.entries(headers)) {
      if (k === 'destination' || k === 'receipt' || k === 'transaction' || k === 'content-length') continue
      h[k] = String(v)
    }
    if (tx) h.transaction = tx.id
    const op = this.newOp('SEND', h, policy, `SEND ${h['message-id']} to ${dest}`, receipt)
    op.body = typeof body === 'string' ? encoder.encode(body) : body
    op.tx = tx
    return op
  }

  /**
   * Enter `op` and write it if connected; resolves on its RECEIPT (or once written, without a receipt), rejects on
   * an ERROR, a timeout, a lost transaction or the client's end.
   */
  submit(op: Op, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      op.resolve = resolve
      op.reject = reject
      const refused = this.host.refusal(op)
      if (refused) {
        reject(refused)
        return
      }
      this.add(op, timeoutMs)
      if (this.host.link()) this.write(op)
    })
  }

  /** After a (re)connect: write every op not yet receipted, in submission order. */
  resendAll(): void {
    for (const op of this.pending()) this.write(op)
  }

  /**
   * The connection was lost (transactions begun on it already marked in doubt): their ops fail, an ABORT of one
   * resolves, written acks and plain UNSUBSCRIBEs resolve (the broker redelivers); the rest wait for a resend.
   */
  lost(): void {
    for (const op of this.pending()) {
      if (op.tx && op.tx.state === 'in-doubt') {
        if (op.command === 'ABORT') this.finish(op)
        else this.finish(op, inDoubt(op.tx, op.what))
      } else if (op.policy === 'resolve-on-loss' && op.writtenGeneration !== undefined) {
        this.finish(op)
      }
    }
  }

  /** The client ends: every op rejects, with `err` or (after close()) CLIENT_DISCONNECTED. */
  abandon(err: Error | null): void {
    for (const op of this.pending())
      this.finish(
        op,
        err ??
          new BrokerError('CLIENT_DISCONNECTED', `${op.what}: the client was closed before the broker receipted it`),
      )
  }

  private write(op: Op): void {
    const conn = this.host.link()
    if (!conn) return
    const generation = this.host.generation()
    if (op.tx) {
      if (op.tx.state === 'in-doubt') {
        this.finish(op, inDoubt(op.tx, op.what))
        return
      }
      if (op.tx.begunGeneration === undefined) {
        conn.write('BEGIN', { transaction: op.tx.id })
        op.tx.begunGeneration = generation
      }
    }
    if (op.command === 'SEND' && op.writtenGeneration !== undefined) this.host.stats.resentSends++
    conn.write(op.command, op.headers, op.body)
    this.host.stats.sentFrames++
    op.writtenGeneration = generation
    if (!op.receipt) this.finish(op)
  }

  /** Enter `op`; with timeoutMs > 0 it rejects with CLIENT_TIMEOUT unless finished before. */
  private add(op: Op, timeoutMs: number): void {
    const where = () => this.host.where()
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
