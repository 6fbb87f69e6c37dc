/**
 * RejoinPacer: when the Elector (elector.ts) competes for the lock again. Two waits, each with its own memory: while
 * the shared directory is unavailable, a jittered back-off per failed attempt (logged once per outage, and once when
 * the share returns); after a step-down, lockAcquireSleepInterval doubled per deposal in a row by another node's
 * epoch (flap damping), the count reset by a long stable term. It also tells a transient share error from a fatal
 * one. The wait lengths are backoff.ts's; this file owns only the counts and when they change.
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import { deposalBackoffMs, shareRetryMs, STABLE_TERM_MS } from './backoff.ts'
import { isTransientShareError } from './share-errors.ts'
import type { Input } from './state-machine.ts'

const log = logger('election')

export class RejoinPacer {
  /** The lock file was opened at least once: later filesystem errors are transient, not fatal. */
  private shareWorked = false
  /** The share is unavailable (logged once); consecutive failed attempts drive the back-off. */
  private shareDownSince: number | null = null
  private shareFailures = 0
  /** Deposals by another node's epoch in a row (flap damping), and when the current term began serving. */
  private deposals = 0
  private termStartedAt: number | null = null

  constructor(
    private readonly clock: Clock,
    private readonly random: () => number,
    /** The shared directory, for messages. */
    private readonly dir: string,
    private readonly nodeId: string,
    private readonly lockAcquireSleepIntervalMs: number,
  ) {}

  /**
   * A filesystem error on a share that worked for this node before is transient (the share blinked: ENOTCONN,
   * EIO, ESTALE, ...): stay up and retry. A lock mechanism that does not work, or a share that never worked since
   * start, ends the process (exit 1), as a bad configuration does.
   */
  classifyError(err: unknown): Input {
    const reason = (err as Error).message
    if (this.shareWorked && isTransientShareError(err)) return { kind: 'share-error', reason }
    return { kind: 'lock-error', reason }
  }

  /** The lock file opened: the share works (again). */
  noteShareWorks(): void {
    this.shareWorked = true
    this.shareFailures = 0
    if (this.shareDownSince !== null) {
      const downMs = this.clock.now() - this.shareDownSince
      log.info(`shared directory ${this.dir} is back after ${downMs} ms: competing for the lock again`, {
        event: 'share',
        state: 'available',
        downMs,
        nodeId: this.nodeId,
      })
      this.shareDownSince = null
    }
  }

  /** The next retry while the share is unavailable (logged once per outage). */
  shareRetryDelayMs(): number {
    if (this.shareDownSince === null) {
      this.shareDownSince = this.clock.now()
      log.warn(`shared directory ${this.dir} is unavailable; staying up as a replica and retrying until it returns`, {
        event: 'share',
        state: 'unavailable',
        nodeId: this.nodeId,
      })
    }
    return shareRetryMs(this.shareFailures++, this.random())
  }

  /** A term began serving at `at` (its length decides whether a deposal that ends it counts). */
  termStarted(at: number): void {
    this.termStartedAt = at
  }

  /** The term stopped serving (step-down under way). */
  termEnded(): void {
    this.termStartedAt = null
  }

  /** A deposal by another node's epoch: count it, unless the term that ended was long and stable. */
  noteDeposal(): void {
    const term = this.termStartedAt === null ? 0 : this.clock.now() - this.termStartedAt
    if (term >= STABLE_TERM_MS) this.deposals = 0
    this.deposals++
  }

  /** Delay before competing again after a step-down: lockAcquireSleepInterval, doubled per deposal in a row. */
  rejoinDelayMs(): number {
    const ms = deposalBackoffMs(this.lockAcquireSleepIntervalMs, this.deposals, this.random())
    if (this.deposals > 1)
      log.warn(
        `deposed by another node's epoch ${this.deposals} times in a row: waiting ${ms} ms before competing again (flap damping)`,
      )
    return ms
  }
}
