/**
 * DeliveredWindow: what a DELIVERED ack outside a transaction does for one consumer. ActiveMQ's client sends one
 * whenever half its prefetch has reached the application unacknowledged (CLIENT_ACKNOWLEDGE, INDIVIDUAL_ACKNOWLEDGE),
 * and ActiveMQ's PrefetchSubscription answers by widening the consumer's window by that many messages, so a client
 * that reads more than its prefetch before acknowledging keeps receiving. The core's window is its count of unacked
 * deliveries, and a delivery acked inside an open transaction no longer counts; so the window is widened by acking
 * the delivered messages in a transaction this consumer owns (the window transaction), which nothing commits until
 * the client acknowledges them:
 *
 * - The client acks members: they are marked; once every member is acked the window transaction commits. Once half
 *   of them are acked (so the work is amortised) the window splits: it is aborted, the acked members are acked at
 *   once, the rest go into a fresh window transaction. A client ack is thus durable within that bound, not later.
 * - A member acked in a client transaction, or poisoned, leaves the window first (split without it).
 * - Consumer removal and connection close: the window is aborted and its acked members acked, so only what the
 *   client never acknowledged is redelivered.
 *
 * The core applies each call when it is made (the promise reports durability or failure), so a split issues abort,
 * acks and re-acks in one synchronous run with nothing dispatched in between. Limits: WINDOW_MEMBERS_MAX per
 * window, and one window transaction per consumer out of WINDOW_TXS_MAX per connection; past either a DELIVERED
 * ack widens nothing more (the consumer waits for its acknowledgements, as with a non-widening broker).
 */
import { logger } from '../../lib/log.ts'
import type { CoreSession } from './core-port.ts'

const log = logger('openwire')

/** Messages one consumer's window transaction may hold (under the core's operations-per-transaction limit). */
export const WINDOW_MEMBERS_MAX = 50_000
/** Window transactions one connection may hold open (under the core's open-transactions-per-session limit). */
export const WINDOW_TXS_MAX = 500

/** A dispatched, unsettled delivery as the consumer book keeps it. */
export interface Pending {
  ackId: string
  /** open: counts against the window. tx: acked in client transaction `txId`. window: in the window transaction,
   *  not acked by the client. window-acked: in the window transaction, acked by the client. */
  state: 'open' | 'tx' | 'window' | 'window-acked'
  txId: string | null
}

/** The connection-wide count of open window transactions. */
export interface WindowBudget {
  open: number
}

export class DeliveredWindow {
  private txId: string | null = null
  private generation = 0
  /** Members in the order they entered; their pending entries hold the state. */
  private readonly members = new Map<string, Pending>()
  private acked = 0

  constructor(
    private readonly session: CoreSession,
    private readonly name: string,
    private readonly budget: WindowBudget,
  ) {}

  get size(): number {
    return this.members.size
  }

  /** DELIVERED ack outside a transaction: `entries` (open ones) stop counting against the core's window. */
  widen(entries: Array<[string, Pending]>, work: Promise<void>[]): void {
    for (const [key, p] of entries) {
      if (p.state !== 'open') continue
      if (this.members.size >= WINDOW_MEMBERS_MAX) {
        log.debug(`openwire ${this.name}: window holds ${WINDOW_MEMBERS_MAX} messages; not widened further`)
        return
      }
      if (this.txId === null && !this.begin()) return
      p.state = 'window'
      p.txId = this.txId
      this.members.set(key, p)
      work.push(this.session.ack(p.ackId, this.txId!))
    }
  }

  private begin(): boolean {
    if (this.budget.open >= WINDOW_TXS_MAX) {
      log.debug(`openwire ${this.name}: ${WINDOW_TXS_MAX} window transactions open on this connection; not widened`)
      return false
    }
    const id = `openwire-window:${this.name}:${++this.generation}`
    this.session.begin(id)
    this.budget.open++
    this.txId = id
    return true
  }

  /**
   * The client acknowledged members (outside a transaction): commit when all are acked, split when half are.
   * `settled` gets each key that is final once `work` resolves.
   */
  acknowledge(keys: string[], work: Promise<void>[], settled: (key: string) => void): void {
    for (const k of keys) {
      const p = this.members.get(k)
      if (p === undefined || p.state !== 'window') continue
      p.state = 'window-acked'
      this.acked++
    }
    if (this.members.size > 0 && this.acked === this.members.size) {
      const tx = this.end()!
      for (const k of this.members.keys()) settled(k)
      this.members.clear()
      this.acked = 0
      work.push(this.session.commit(tx))
    } else if (this.acked * 2 >= this.members.size && this.acked > 0) this.split(new Set(), work, settled, true)
  }

  /** Members in `keys` leave the window unacked (open again), for a client transaction's ack or a poison ack. */
  release(keys: string[], work: Promise<void>[], settled: (key: string) => void): void {
    const leaving = new Set(keys.filter((k) => this.members.has(k)))
    if (leaving.size > 0) this.split(leaving, work, settled, true)
  }

  /** Consumer removed or connection closing: the client-acked members are acked, the rest are open again. */
  close(work: Promise<void>[], settled: (key: string) => void): void {
    if (this.members.size > 0 || this.txId !== null) this.split(new Set(), work, settled, false)
  }

  /** Abort, ack the client-acked members at once, re-widen the others (except `leaving`) when `rewiden`. */
  private split(leaving: Set<string>, work: Promise<void>[], settled: (key: string) => void, rewiden: boolean): void {
    const tx = this.end()
    if (tx !== null) work.push(this.session.abort(tx))
    const back: Array<[string, Pending]> = []
    for (const [k, p] of this.members) {
      const wasAcked = p.state === 'window-acked'
      p.state = 'open'
      p.txId = null
      if (wasAcked) {
        settled(k)
        work.push(this.session.ack(p.ackId))
      } else if (rewiden && !leaving.has(k)) back.push([k, p])
    }
    this.members.clear()
    this.acked = 0
    if (back.length > 0) this.widen(back, work)
  }

  private end(): string | null {
    const tx = this.txId
    if (tx !== null) {
      this.txId = null
      this.budget.open--
    }
    return tx
  }
}
