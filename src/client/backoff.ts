/**
 * Reconnect pacing for the failover transport, following ActiveMQ's `FailoverTransport.doReconnect`:
 * a pass tries every URI once; after a failed pass the transport sleeps `reconnectDelay`, then multiplies it by
 * `reconnectDelayExponent` (if `useExponentialBackOff`), capped at `maxReconnectDelay`; success resets it to
 * `initialReconnectDelay`. The attempt limit is `startupMaxReconnectAttempts` before the first successful connection
 * (when it is not -1) and `maxReconnectAttempts` after; -1 is forever and 0 means a single pass.
 * Ours on top: each sleep is scaled by a random factor in [1 - reconnectDelayJitter, 1] (injected `random`, so tests
 * are deterministic). Pure: no timers here; the client asks and sleeps through its Clock.
 */
import type { FailoverOptions } from './failover-uri.ts'

export type PassOutcome =
  | { giveUp: true; failures: number; warn: boolean }
  | { giveUp: false; failures: number; warn: boolean; delayMs: number }

export class ReconnectBackoff {
  private delayMs: number
  private failures = 0
  private connectedOnce = false

  constructor(
    private readonly opts: FailoverOptions,
    private readonly random: () => number = Math.random,
  ) {
    this.delayMs = opts.initialReconnectDelay
  }

  /** Failed passes since the last success. */
  get failedPasses(): number {
    return this.failures
  }

  /** A connection succeeded: reset the delay and the failure count. */
  succeeded(): void {
    this.connectedOnce = true
    this.failures = 0
    this.delayMs = this.opts.initialReconnectDelay
  }

  /** The sleep before the first pass after a working connection was lost (ActiveMQ: initialReconnectDelay). */
  firstDelayMs(): number {
    return this.jitter(this.opts.initialReconnectDelay)
  }

  /** The attempt limit that applies now (-1 forever). */
  limit(): number {
    if (!this.connectedOnce && this.opts.startupMaxReconnectAttempts !== -1)
      return this.opts.startupMaxReconnectAttempts
    return this.opts.maxReconnectAttempts
  }

  /** Record one failed pass over every URI; say whether to give up, whether to log a warning, and how long to sleep. */
  failedPass(): PassOutcome {
    this.failures++
    const n = this.opts.warnAfterReconnectAttempts
    const warn = n > 0 && (this.failures === 1 || this.failures % n === 0)
    const limit = this.limit()
    if (limit !== -1 && this.failures >= Math.max(limit, 1)) return { giveUp: true, failures: this.failures, warn }
    const delayMs = this.jitter(this.delayMs)
    if (this.opts.useExponentialBackOff) {
      this.delayMs = Math.min(this.opts.maxReconnectDelay, this.delayMs * this.opts.reconnectDelayExponent)
    }
    this.delayMs = Math.min(this.delayMs, this.opts.maxReconnectDelay)
    return { giveUp: false, failures: this.failures, warn, delayMs }
  }

  private jitter(ms: number): number {
    const j = this.opts.reconnectDelayJitter
    return Math.max(0, Math.round(ms * (1 - j * this.random())))
  }
}

/**
 * The URI order for the next pass (ActiveMQ: shuffle if `randomize`, then move the URI that just failed to the end).
 * `random` is injected so tests are deterministic.
 */
export function passOrder<T extends { uri: string }>(
  endpoints: readonly T[],
  opts: { randomize: boolean },
  lastFailed: string | undefined,
  random: () => number = Math.random,
): T[] {
  const list = [...endpoints]
  if (opts.randomize) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[list[i], list[j]] = [list[j], list[i]]
    }
  }
  if (lastFailed !== undefined) {
    const i = list.findIndex((e) => e.uri === lastFailed)
    if (i >= 0 && list.length > 1) list.push(...list.splice(i, 1))
  }
  return list
}
