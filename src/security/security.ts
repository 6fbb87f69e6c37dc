/**
 * Security: the one object a node builds from `config.security` and hands to every connector and to the admin
 * endpoint. It wraps the configured authenticator with what every login gets whatever the protocol: the
 * per-address backoff, counters for /metrics, and one log line per failure naming user and address (never the
 * password). `authenticator` is null when no authentication plugin is configured (every CONNECT is accepted, as
 * ActiveMQ without plugins); `authorizer` is null without `<authorizationPlugin>` (everything allowed).
 */
import { isBrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { escapeNonPrintable } from '../lib/excerpt.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import type { SecurityConfig } from '../config/index.ts'
import { AuthorizationMap } from './authorization-map.ts'
import { JaasAuthenticator, nodeFiles, type FilePort } from './jaas-authenticator.ts'
import { LoginBackoff, addressKey, type LoginBackoffOptions } from './login-backoff.ts'
import { SimpleAuthenticator, USERNAME_SHOWN_MAX } from './simple-authenticator.ts'
import type { Authenticator, Authorizer, Credentials, SecurityStats, Subject } from './types.ts'

const log = logger('security')

export interface SecurityDeps {
  clock?: Clock
  files?: FilePort
  backoff?: Partial<LoginBackoffOptions>
}

export class Security {
  readonly authenticator: Authenticator | null
  readonly authorizer: Authorizer | null
  readonly backoff: LoginBackoff
  private readonly counts = { authSuccesses: 0, authFailures: 0, authorizationDenials: 0 }

  constructor(config: SecurityConfig | null | undefined, deps: SecurityDeps = {}) {
    this.backoff = new LoginBackoff(deps.clock ?? systemClock, deps.backoff)
    const a = config?.authentication ?? null
    const inner: Authenticator | null =
      a === null
        ? null
        : a.kind === 'simple'
          ? new SimpleAuthenticator(a)
          : new JaasAuthenticator(a, deps.files ?? nodeFiles)
    this.authenticator = inner ? { authenticate: (c) => this.login(inner, c) } : null
    const z = config?.authorization ?? null
    this.authorizer = z ? new AuthorizationMap(z, () => void this.counts.authorizationDenials++) : null
  }

  private async login(inner: Authenticator, c: Credentials): Promise<Subject> {
    const key = addressKey(c.remoteAddress)
    await this.backoff.wait(key)
    try {
      const s = await inner.authenticate(c)
      this.counts.authSuccesses++
      return s
    } catch (e) {
      if (isBrokerError(e, 'SECURITY_AUTHENTICATION_FAILED')) {
        this.counts.authFailures++
        this.backoff.recordFailure(key)
        const user = c.username === undefined ? null : escapeNonPrintable(c.username.slice(0, USERNAME_SHOWN_MAX))
        log.warn(
          `login failed: user ${user === null ? '(none)' : JSON.stringify(user)} from ${c.remoteAddress} (${this.backoff.failures(key)} recent failure(s) from ${key})`,
          {
            event: 'auth-failure',
            user,
            address: c.remoteAddress,
          },
        )
      }
      throw e
    }
  }

  stats(): SecurityStats {
    return { ...this.counts, backoffAddresses: this.backoff.size }
  }
}

/** Whether `subject` is in one of `groups` ("*" admits everyone): for the admin endpoint's group check. */
export function inGroup(subject: Subject, groups: readonly string[]): boolean {
  return groups.includes('*') || groups.some((g) => subject.groups.has(g))
}
