/**
 * SimpleAuthenticator: `<simpleAuthenticationPlugin>` (ActiveMQ's SimpleAuthenticationBroker). Users, passwords
 * and groups come from the config; with `anonymousAccessAllowed`, a login without user name and password becomes
 * `anonymousUser` in `anonymousGroup`. Anything else must name a user and give its password. Unknown users are
 * checked against a decoy so the answer takes as long as for a known user. No I/O, no logging (security.ts logs).
 */
import { BrokerError } from '../lib/errors.ts'
import type { SimpleAuthenticationConfig } from '../config/index.ts'
import { DECOY_PASSWORD, parseStoredPassword, verifyPassword, type StoredPassword } from './password.ts'
import type { Authenticator, Credentials, Subject } from './types.ts'

/** Longest user name quoted back in an error or log line. */
export const USERNAME_SHOWN_MAX = 128

/** ActiveMQ's text for every failed login (same for unknown user and wrong password). */
export function invalidLogin(username: string | undefined): BrokerError {
  // A huge login is cut (the connection escapes what is not printable when it writes the ERROR).
  const shown =
    username === undefined
      ? 'null'
      : username.length > USERNAME_SHOWN_MAX
        ? username.slice(0, USERNAME_SHOWN_MAX) + '…'
        : username
  return new BrokerError('SECURITY_AUTHENTICATION_FAILED', `User name [${shown}] or password is invalid.`)
}

interface UserRecord {
  password: StoredPassword
  groups: ReadonlySet<string>
}

export class SimpleAuthenticator implements Authenticator {
  private readonly users = new Map<string, UserRecord>()

  constructor(private readonly config: SimpleAuthenticationConfig) {
    for (const u of config.users)
      this.users.set(u.username, {
        password: parseStoredPassword(typeof u.password === 'string' ? u.password : u.password.reveal()),
        groups: new Set(u.groups),
      })
  }

  async authenticate(c: Credentials): Promise<Subject> {
    if (this.config.anonymousAccessAllowed && c.username === undefined && c.password === undefined) {
      return { user: this.config.anonymousUser, groups: new Set([this.config.anonymousGroup]), anonymous: true }
    }
    const u = c.username !== undefined ? this.users.get(c.username) : undefined
    const ok = await verifyPassword(u?.password ?? DECOY_PASSWORD, c.password ?? '')
    if (!u || c.password === undefined || !ok) throw invalidLogin(c.username)
    return { user: c.username!, groups: u.groups }
  }
}
