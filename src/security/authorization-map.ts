/**
 * AuthorizationMap: ActiveMQ's DefaultAuthorizationMap over the resolved `<authorizationMap>` config.
 *
 * - Which entries apply: every entry of the destination's kind whose pattern matches (`*` one segment, `>` the
 *   rest; ActiveMQ's DestinationMap), plus `<defaultEntry>` always. Their groups are unioned per right; this is
 *   not the policy map's "most specific entry wins".
 * - No entry matching leaves an empty set: the operation is refused (ActiveMQ does the same).
 * - Temporary destinations use only `<tempDestinationAuthorizationEntry>`; without one they are unrestricted.
 * - Group "*" admits every authenticated user.
 * - A null subject (no authentication plugin) is refused with "User is not authenticated.".
 * Error texts are ActiveMQ's AuthorizationBroker's, so clients matching on them keep working.
 * Owns the rule; not when it is asked (the broker calls check on subscribe, browse, send and first use).
 */
import { BrokerError } from '../lib/errors.ts'
import { matchesPattern } from '../config/index.ts'
import type { AuthorizationConfig, AuthorizationEntryConfig } from '../config/index.ts'
import type { Authorizer, Operation, SecuredDestination, Subject } from './types.ts'

const VERB: Record<Operation, string> = { read: 'read from', write: 'write to', admin: 'create' }

/** ActiveMQ's printed destination: `queue://X`, `topic://X`, `temp-queue://X`, `temp-topic://X`. */
export function destinationText(d: SecuredDestination): string {
  return `${d.kind}://${d.name}`
}

export class AuthorizationMap implements Authorizer {
  constructor(
    private readonly config: AuthorizationConfig,
    private readonly onDenied: (subject: Subject | null, op: Operation, d: SecuredDestination) => void = () => {},
  ) {}

  /** Groups allowed to do `op` on `d`; null = unrestricted (temporary destination without a temp entry). */
  allowedGroups(op: Operation, d: SecuredDestination): Set<string> | null {
    if (d.kind === 'temp-queue' || d.kind === 'temp-topic') {
      const t = this.config.tempDestinationEntry
      return t ? new Set(t[op]) : null
    }
    const out = new Set<string>()
    for (const e of this.matching(d)) for (const g of e[op]) out.add(g)
    if (this.config.defaultEntry) for (const g of this.config.defaultEntry[op]) out.add(g)
    return out
  }

  private *matching(d: SecuredDestination): Iterable<AuthorizationEntryConfig> {
    for (const e of this.config.entries) {
      if (e.kind === d.kind && e.patterns.some((p) => matchesPattern(p, d.name))) yield e
    }
  }

  allows(subject: Subject | null, op: Operation, d: SecuredDestination): boolean {
    if (!subject) return false
    const allowed = this.allowedGroups(op, d)
    if (allowed === null || allowed.has('*')) return true
    for (const g of subject.groups) if (allowed.has(g)) return true
    return false
  }

  check(subject: Subject | null, op: Operation, d: SecuredDestination): void {
    if (this.allows(subject, op, d)) return
    this.onDenied(subject, op, d)
    if (!subject)
      throw new BrokerError('SECURITY_NOT_AUTHORIZED', 'User is not authenticated.', {
        details: { op, destination: destinationText(d) },
      })
    throw new BrokerError(
      'SECURITY_NOT_AUTHORIZED',
      `User ${subject.user} is not authorized to ${VERB[op]}: ${destinationText(d)}`,
      {
        details: { op, destination: destinationText(d), user: subject.user },
      },
    )
  }
}
