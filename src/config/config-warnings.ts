/**
 * Settings that are valid but risky, as log lines: loadConfig logs them, `run` prints them; nothing here refuses.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { BrokerConfig } from './types.ts'

/** Settings that are valid but risky; logged, not refused. */
export function warnings(c: BrokerConfig): string[] {
  const out: string[] = []
  const inside = (dir: string, root: string): boolean => {
    const rel = path.relative(root, dir)
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel))
  }
  if (c.persistent && c.schedulerSupport && !inside(c.schedulerDirectory, c.persistence.directory)) {
    out.push(
      `schedulerDirectory ${c.schedulerDirectory} is outside the shared store directory ${c.persistence.directory}: ` +
        `scheduled messages will not move with the primary role (put it under the shared directory)`,
    )
  }
  const policy = c.destinationPolicy
  const gcEntries = policy
    ? [...policy.entries, ...(policy.defaultEntry ? [policy.defaultEntry] : [])].filter(
        (e) => e.gcInactiveDestinations === true,
      )
    : []
  if (gcEntries.length > 0 && (c.destinations?.schedulePeriodForDestinationPurge ?? 0) === 0) {
    out.push(
      'gcInactiveDestinations is set on a policy entry, but <broker schedulePeriodForDestinationPurge> is 0: no destination will be garbage-collected (as in ActiveMQ); set a period such as 10000',
    )
  }
  if (c.security?.authorization && !c.security.authentication) {
    out.push(
      '<authorizationPlugin> without an authentication plugin: every client is refused every operation ("User is not authenticated.", as in ActiveMQ); add <simpleAuthenticationPlugin> or <jaasAuthenticationPlugin>',
    )
  }
  if (c.persistent && !c.lock.useLock)
    out.push('useLock is false: no election; never point two brokers at this directory')
  return out
}

/** A warning when `abs` (a config file holding passwords) can be read by every user on the host; null otherwise. */
export function readableByOthers(abs: string, shown: string): string | null {
  let mode: number
  try {
    mode = fs.statSync(abs).mode
  } catch {
    return null
  }
  if ((mode & 0o004) === 0) return null
  return `${shown} holds passwords and is readable by every user on this host (mode ${(mode & 0o777).toString(8)}); run chmod o-r ${shown}, and store scrypt hashes (sfbroker hash-password) rather than plain passwords`
}
