/**
 * Admission: which sockets a connector takes, so silent sockets cannot lock real clients out (issue 19). Pure
 * bookkeeping over opaque items (the server's connections), no I/O; StompServer closes what it is told to.
 * Also RefusalLog, the rate-limited log of refusals. Neither knows STOMP frames.
 *
 * Four limits (connector URI options, see src/config/connector-uri.ts): `maximumConnections` (all sockets),
 * `maximumConnectionsPerAddress` (all sockets of one remote IP), `maximumPendingConnects` (sockets that have not
 * completed CONNECT) and `maximumPendingConnectsPerAddress` (the same, per remote IP).
 *
 * When a pre-CONNECT budget is full, the oldest silent socket is shed and the new one admitted; connected
 * clients are never shed. Why shed the oldest rather than refuse the newcomer: a real client sends CONNECT at
 * once, so it is pending for about one round trip, while a silent socket stays pending until
 * connectAttemptTimeout. Refusing newcomers lets whoever filled the budget first keep it (the lockout of issue
 * 19, renewed by reconnecting); shedding the oldest makes a real client wait only until its CONNECT arrives, and
 * an attacker must open a whole budget's worth of sockets within that round trip to push it out. The
 * per-address budget confines that to the attacker's own address: a full per-address budget sheds that
 * address's own oldest socket, so one address never evicts another's. A trickled CONNECT older than a whole
 * budget of newer sockets can be shed; that is the price, and the client's reconnect gets in.
 * A socket is refused (ERROR frame, then close) only when nothing can be shed: the connector or the address is
 * full of connected clients.
 */
import type { Clock } from '../../lib/clock.ts'

export interface AdmissionLimits {
  maximumConnections: number
  maximumConnectionsPerAddress: number
  maximumPendingConnects: number
  maximumPendingConnectsPerAddress: number
}

export type RefusalReason = 'maximumConnections' | 'maximumConnectionsPerAddress'

export type AdmitResult<T> = { ok: true; shed: T[] } | { ok: false; reason: RefusalReason; shed: T[] }

interface AddressState<T> {
  total: number
  /** Pending (pre-CONNECT) items of this address, oldest first (Set keeps insertion order). */
  pending: Set<T>
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack listener) is the address 1.2.3.4. */
export function normalizeAddress(a: string | undefined): string {
  if (!a) return '?'
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

export class Admission<T> {
  private readonly items = new Map<T, string>()
  /** Every pending item, oldest first. */
  private readonly pending = new Set<T>()
  private readonly byAddress = new Map<string, AddressState<T>>()

  constructor(readonly limits: AdmissionLimits) {}

  get total(): number {
    return this.items.size
  }

  get pendingTotal(): number {
    return this.pending.size
  }

  /** Sockets (pending and connected) from `address`. */
  countFrom(address: string): number {
    return this.byAddress.get(address)?.total ?? 0
  }

  /**
   * Admit `item` from `address`, shedding old pending items to make room (removed from the books already; the
   * caller closes them), or refuse it when only connected clients fill the limit. The order of the checks makes
   * an address's own sockets go first.
   */
  admit(address: string, item: T): AdmitResult<T> {
    const shed: T[] = []
    const own = this.byAddress.get(address)
    const L = this.limits
    if (own && own.total >= L.maximumConnectionsPerAddress) {
      if (own.pending.size === 0) return { ok: false, reason: 'maximumConnectionsPerAddress', shed }
      shed.push(this.shedOldest(own.pending))
    }
    if (own && own.pending.size >= L.maximumPendingConnectsPerAddress) shed.push(this.shedOldest(own.pending))
    if (this.pending.size >= L.maximumPendingConnects) shed.push(this.shedOldest(this.pending))
    if (this.items.size >= L.maximumConnections) {
      if (this.pending.size === 0) return { ok: false, reason: 'maximumConnections', shed }
      shed.push(this.shedOldest(this.pending))
    }
    this.items.set(item, address)
    this.pending.add(item)
    let st = this.byAddress.get(address)
    if (!st) this.byAddress.set(address, (st = { total: 0, pending: new Set() }))
    st.total++
    st.pending.add(item)
    return { ok: true, shed }
  }

  /** `item` completed CONNECT: it no longer counts against the pre-CONNECT budgets and is never shed. */
  connected(item: T): void {
    const address = this.items.get(item)
    if (address === undefined) return
    this.pending.delete(item)
    this.byAddress.get(address)?.pending.delete(item)
  }

  /** `item` closed. Idempotent (a shed item is already gone from the books). */
  release(item: T): void {
    const address = this.items.get(item)
    if (address === undefined) return
    this.items.delete(item)
    this.pending.delete(item)
    const st = this.byAddress.get(address)
    if (!st) return
    st.pending.delete(item)
    if (--st.total <= 0) this.byAddress.delete(address)
  }

  private shedOldest(from: Set<T>): T {
    const oldest = from.values().next().value as T
    this.release(oldest)
    return oldest
  }
}

/** One refusal log line per this interval at most (after the first, which is logged at once). */
export const REFUSAL_LOG_INTERVAL_MS = 10_000

/**
 * Counts refused and shed sockets by reason and logs them at most once per interval: the first event of a quiet
 * period at once, then one summary line per interval while events keep coming. A flood of sockets costs a
 * counter increment each, never a line each.
 */
export class RefusalLog {
  private counts = new Map<string, number>()
  private timer: unknown = null

  constructor(
    private readonly write: (line: string) => void,
    private readonly what: string,
    private readonly clock: Clock,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  note(reason: string): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1)
    if (this.timer === null) {
      this.flush('')
      this.arm()
    }
  }

  /** Stop the timer (connector closed); what was counted since the last line is logged now. */
  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.flush(' before close')
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      if (this.counts.size === 0) return
      this.flush(` in the last ${this.intervalMs / 1000} s`)
      this.arm()
    }, this.intervalMs)
    ;(this.timer as { unref?: () => void })?.unref?.()
  }

  private flush(when: string): void {
    if (this.counts.size === 0) return
    const parts = [...this.counts].map(([reason, n]) => `${n} ${reason}`)
    this.counts = new Map()
    this.write(`${this.what}${when}: ${parts.join(', ')} (at most one such line per ${this.intervalMs / 1000} s)`)
  }
}
