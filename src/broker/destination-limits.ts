/**
 * How many destinations may exist, and which are inactive long enough to be garbage-collected (issue 19).
 * Owns the counting rules of `maxDestinations` (broker-wide, and ActiveMQ's per policy entry) and the inactivity
 * bookkeeping of `gcInactiveDestinations`; the Broker owns the destinations themselves and removes them.
 *
 * ActiveMQ semantics followed (AbstractRegion.validateMaxDestinations, BaseDestination.markForGC/canGC,
 * RegionBroker.purgeInactiveDestinations):
 * - a policy entry's maxDestinations counts the existing destinations of its kind its pattern matches; on the
 *   `<defaultEntry>` it counts every destination of that kind. The entry consulted is the one that applies to
 *   the new destination. sfbroker adds the broker-wide `maxDestinations` over queues and topics together.
 * - a destination is marked inactive by the first sweep that finds it without consumers and messages, and is
 *   removed by a later sweep once it stayed so for inactiveTimoutBeforeGC; any use in between (a send, a new
 *   consumer, a lookup) clears the mark. A sweep removes at most maxPurgedDestinationsPerSweep (0 = no limit).
 */
import { BrokerError } from '../lib/errors.ts'
import { matchesPattern, policyEntryFor } from '../config/index.ts'
import type { DestinationPolicyConfig, DestinationsConfig } from '../config/types.ts'
import type { DestinationName } from './destination.ts'

/** What Broker uses when a hand-built config has no `destinations` (loadConfig always sets it). */
export const DESTINATIONS_DEFAULT: DestinationsConfig = {
  maxDestinations: 10_000,
  schedulePeriodForDestinationPurge: 0,
  maxPurgedDestinationsPerSweep: 0,
}
/** ActiveMQ's default inactiveTimoutBeforeGC. */
export const INACTIVE_TIMEOUT_BEFORE_GC_DEFAULT_MS = 60_000

/**
 * Throw BROKER_LIMIT when creating `dest` would pass a limit. `names(kind)` lists the existing destinations of
 * a kind (names after the prefix); `total` counts every queue and topic. Temporary destinations count against the
 * broker-wide limit only (policy entries never apply to them).
 */
export function checkCreate(
  dest: DestinationName,
  cfg: DestinationsConfig,
  policy: DestinationPolicyConfig | undefined,
  total: number,
  names: (kind: 'queue' | 'topic') => Iterable<string>,
): void {
  if (cfg.maxDestinations >= 0 && total >= cfg.maxDestinations) {
    throw new BrokerError(
      'BROKER_LIMIT',
      `cannot create ${dest.label}: the broker holds ${total} destinations, maxDestinations is ${cfg.maxDestinations}; use an existing destination or raise <broker maxDestinations>`,
      {
        details: { destination: dest.label, limit: cfg.maxDestinations, limitName: 'maxDestinations' },
      },
    )
  }
  if (dest.kind !== 'queue' && dest.kind !== 'topic') return
  const entry = policyEntryFor(policy, dest.kind, dest.name)
  const max = entry?.maxDestinations
  if (entry === null || max === null || max === undefined || max < 0) return
  let count = 0
  for (const n of names(dest.kind)) if (entry.pattern === null || matchesPattern(entry.pattern, n)) count++
  if (count >= max) {
    const which =
      entry.pattern === null
        ? `the default policy entry (all ${dest.kind}s)`
        : `the policy entry ${dest.kind}="${entry.pattern}"`
    throw new BrokerError(
      'BROKER_LIMIT',
      `cannot create ${dest.label}: ${count} ${dest.kind}s exist under ${which}, its maxDestinations is ${max}`,
      {
        details: {
          destination: dest.label,
          limit: max,
          limitName: 'policyEntry.maxDestinations',
          pattern: entry.pattern,
        },
      },
    )
  }
}

/** Per destination, since when it has been seen inactive, and its activity stamp then (a counter of its traffic). */
export class InactivityTracker {
  private readonly marks = new Map<string, { since: number; stamp: number }>()

  /** The destination was used: it is not inactive. */
  touch(name: string): void {
    if (this.marks.size > 0) this.marks.delete(name)
  }

  forget(name: string): void {
    this.marks.delete(name)
  }

  /**
   * One sweep's look at a destination: `idle` (no consumer, no message), `stamp` (changes whenever traffic
   * passed). True when it has been idle, with the same stamp, for at least `timeoutMs`.
   */
  expired(name: string, idle: boolean, stamp: number, now: number, timeoutMs: number): boolean {
    if (!idle || timeoutMs <= 0) {
      this.marks.delete(name)
      return false
    }
    const m = this.marks.get(name)
    if (!m || m.stamp !== stamp) {
      this.marks.set(name, { since: now, stamp })
      return false
    }
    return now - m.since >= timeoutMs
  }

  get size(): number {
    return this.marks.size
  }
}
