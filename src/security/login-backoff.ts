/**
 * LoginBackoff: slows down repeated failed logins from one address so passwords cannot be guessed at wire speed.
 * Each address has a count of recent failures; every login from it (right or wrong) is answered after
 * `delayMs(failures)`: 0 for the first `freeFailures`, then `baseDelayMs` doubling up to `maxDelayMs`. The count
 * decays: it is forgotten `forgetAfterMs` after the last failure. The table holds at most `addressesMax` addresses;
 * past it the least recently failed address is dropped (an attacker with many addresses gains at most a reset of
 * the oldest entries, never unbounded memory). Time only via Clock. Owns no socket and no credentials.
 */
import type { Clock } from '../lib/clock.ts'

export interface LoginBackoffOptions {
  /** Failures answered without delay. */
  freeFailures: number
  baseDelayMs: number
  maxDelayMs: number
  forgetAfterMs: number
  addressesMax: number
}

export const LOGIN_BACKOFF_DEFAULTS: LoginBackoffOptions = {
  freeFailures: 2,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  forgetAfterMs: 10 * 60_000,
  addressesMax: 10_000,
}

interface Entry {
  failures: number
  lastFailureAt: number
}

export class LoginBackoff {
  readonly options: LoginBackoffOptions
  /** Insertion order = least recently failed first (an entry is re-inserted on each failure). */
  private readonly table = new Map<string, Entry>()

  constructor(
    private readonly clock: Clock,
    options: Partial<LoginBackoffOptions> = {},
  ) {
    this.options = { ...LOGIN_BACKOFF_DEFAULTS, ...options }
  }

  get size(): number {
    return this.table.size
  }

  /** Recent failures of `address` (0 once forgotten). */
  failures(address: string): number {
    const e = this.table.get(address)
    if (!e) return 0
    if (this.clock.now() - e.lastFailureAt >= this.options.forgetAfterMs) {
      this.table.delete(address)
      return 0
    }
    return e.failures
  }

  /** How long to hold the answer to a login from `address` now. */
  delayMs(address: string): number {
    const n = this.failures(address) - this.options.freeFailures
    if (n <= 0) return 0
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(n - 1, 30))
  }

  recordFailure(address: string): void {
    const failures = this.failures(address) + 1
    this.table.delete(address)
    this.table.set(address, { failures, lastFailureAt: this.clock.now() })
    while (this.table.size > this.options.addressesMax) {
      const oldest = this.table.keys().next().value as string
      this.table.delete(oldest)
    }
  }

  /** A successful login does not clear the count: a valid account must not reset guessing at another. */
  wait(address: string): Promise<void> {
    const ms = this.delayMs(address)
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms))
  }
}

/**
 * The host part of an address, so every port of one host shares a count: `host:port` and `[v6]:port` lose the
 * port, a bare IPv6 address (two or more colons) is kept whole, `::ffff:` is dropped from IPv4-mapped ones.
 */
export function addressKey(remoteAddress: string): string {
  let a = remoteAddress
  const v6 = /^\[(.*)\]:[\d?]+$/.exec(a)
  if (v6) a = v6[1]!
  else if (/^[^:]*:[\d?]+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'))
  if (a.toLowerCase().startsWith('::ffff:') && a.includes('.')) a = a.slice(7)
  return a
}
