/**
 * `<plugins>` input → SecurityConfig: checks what the schema cannot (one authentication plugin, unique users,
 * usable stored passwords, one destination kind per authorization entry, pattern syntax) and resolves the JAAS
 * login.config path. Errors name file:line (XML) or the JSON path, and never quote a password. The files
 * login.config points at are read by src/security at start, not here.
 *
 * login.config is found the way an ActiveMQ install finds it: ActiveMQ's start script sets
 * java.security.auth.login.config to conf/login.config, beside activemq.xml; sfbroker looks beside the config file,
 * unless `<jaasAuthenticationPlugin loginConfig="...">` (an sfbroker extension, relative to the config file) names it.
 */
import path from 'node:path'
import { BrokerError } from '../lib/errors.ts'
import type { AuthorizationConfig, AuthorizationEntryConfig, SecurityConfig } from './types.ts'
import type { Locator, PathItem } from './origin.ts'
import type { AuthorizationEntryInput, PluginsInput } from './security-schema.ts'
import { storedPasswordProblem } from './stored-password.ts'

export const SECURITY_DEFAULTS = {
  anonymousAccessAllowed: false,
  anonymousUser: 'anonymous',
  anonymousGroup: 'anonymous',
  jaasConfiguration: 'activemq',
  loginConfigName: 'login.config',
} as const

const PATTERN_EXPECTED =
  'destination names or patterns separated by ",": segments separated by ".", "*" for one segment, ">" as the last segment (e.g. ">", "orders.>", "USERS.>,GUEST.>")'

function groupList(s: string | undefined): string[] {
  return (s ?? '')
    .split(',')
    .map((g) => g.trim())
    .filter((g) => g !== '')
}

function patterns(value: string, where: string): string[] {
  const out = value.split(',').map((p) => p.trim())
  for (const p of out) {
    const segs = p.split('.')
    const ok =
      p !== '' &&
      segs.every((s, i) => s !== '' && (s === '*' || (s === '>' && i === segs.length - 1) || !/[*>]/.test(s)))
    if (!ok) throw new BrokerError('CONFIG_INVALID', `${where}: found "${value}", expected ${PATTERN_EXPECTED}`)
  }
  return out
}

/**
 * The one `groupClass` sfbroker implements: ActiveMQ's default, whose principals are the plain group names of the
 * authentication plugin. Other classes (LDAP or custom principals) would change who matches, so they are refused
 * rather than read as plain names.
 */
export const GROUP_PRINCIPAL_CLASS = 'org.apache.activemq.jaas.GroupPrincipal'

function checkGroupClass(value: string | undefined, at: PathItem[], locator: Locator): void {
  if (value === undefined || value === GROUP_PRINCIPAL_CLASS) return
  throw new BrokerError(
    'CONFIG_UNSUPPORTED',
    `${locator.at([...at, 'groupClass'])}: groupClass "${value}" is not supported; sfbroker groups are the authentication plugin's group names, expected ${GROUP_PRINCIPAL_CLASS} (ActiveMQ's default) or no groupClass`,
  )
}

function entry(e: AuthorizationEntryInput, at: PathItem[], locator: Locator): AuthorizationEntryConfig {
  checkGroupClass(e.groupClass, at, locator)
  if (e.queue !== undefined && e.topic !== undefined) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(at)}: has both queue="${e.queue}" and topic="${e.topic}"; expected exactly one (write two entries)`,
    )
  }
  if (e.queue === undefined && e.topic === undefined) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(at)}: names no destination; expected queue="<pattern>" or topic="<pattern>" (">" for all)`,
    )
  }
  const kind = e.queue !== undefined ? 'queue' : 'topic'
  return {
    kind,
    patterns: patterns((e.queue ?? e.topic)!, locator.at([...at, kind])),
    read: groupList(e.read),
    write: groupList(e.write),
    admin: groupList(e.admin),
  }
}

function authorization(input: NonNullable<PluginsInput['authorizationPlugin']>, locator: Locator): AuthorizationConfig {
  const base: PathItem[] = ['plugins', 'authorizationPlugin']
  const map = input.map?.authorizationMap
  if (!map) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(base)}: has no <map><authorizationMap>; expected the authorization entries there (LDAP maps are not supported)`,
    )
  }
  const mapPath: PathItem[] = [...base, 'map', 'authorizationMap']
  const entries = (map.authorizationEntries ?? []).map((e, i) =>
    entry(e, [...mapPath, 'authorizationEntries', i], locator),
  )
  const d = map.defaultEntry?.authorizationEntry
  const t = map.tempDestinationAuthorizationEntry
  checkGroupClass(map.groupClass, mapPath, locator)
  if (d) checkGroupClass(d.groupClass, [...mapPath, 'defaultEntry', 'authorizationEntry'], locator)
  if (t) checkGroupClass(t.groupClass, [...mapPath, 'tempDestinationAuthorizationEntry'], locator)
  return {
    entries,
    defaultEntry: d
      ? { kind: null, patterns: [], read: groupList(d.read), write: groupList(d.write), admin: groupList(d.admin) }
      : null,
    tempDestinationEntry: t
      ? { kind: null, patterns: [], read: groupList(t.read), write: groupList(t.write), admin: groupList(t.admin) }
      : null,
  }
}

/**
 * `configFile`: absolute path of the config file (null: embedded default), the base of `loginConfig`.
 * Returns null parts for what is not configured.
 */
export function resolveSecurity(
  input: PluginsInput | undefined,
  locator: Locator,
  configFile: string | null,
): SecurityConfig {
  const simple = input?.simpleAuthenticationPlugin
  const jaas = input?.jaasAuthenticationPlugin
  if (simple && jaas) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(['plugins', 'jaasAuthenticationPlugin'])}: <simpleAuthenticationPlugin> is configured too; expected one authentication plugin`,
    )
  }
  let authentication: SecurityConfig['authentication'] = null
  if (simple) {
    const seen = new Map<string, number>()
    const users = (simple.users ?? []).map((u, i) => {
      const at: PathItem[] = ['plugins', 'simpleAuthenticationPlugin', 'users', i]
      const first = seen.get(u.username)
      if (first !== undefined)
        throw new BrokerError(
          'CONFIG_INVALID',
          `${locator.at([...at, 'username'])}: user "${u.username}" is also user ${first + 1}; expected each user once`,
        )
      seen.set(u.username, i)
      const problem = storedPasswordProblem(u.password.reveal())
      if (problem)
        throw new BrokerError(
          problem.unsupported ? 'CONFIG_UNSUPPORTED' : 'CONFIG_INVALID',
          `${locator.at([...at, 'password'])}: the password of user "${u.username}" ${problem.message}`,
        )
      return { username: u.username, password: u.password, groups: groupList(u.groups) }
    })
    authentication = {
      kind: 'simple',
      anonymousAccessAllowed: simple.anonymousAccessAllowed ?? SECURITY_DEFAULTS.anonymousAccessAllowed,
      anonymousUser: simple.anonymousUser ?? SECURITY_DEFAULTS.anonymousUser,
      anonymousGroup: simple.anonymousGroup ?? SECURITY_DEFAULTS.anonymousGroup,
      users,
    }
  } else if (jaas) {
    const dir = configFile !== null ? path.dirname(configFile) : null
    if (dir === null && jaas.loginConfig === undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.container(['plugins', 'jaasAuthenticationPlugin'])}: no config file to find login.config beside; expected loginConfig="/path/to/login.config"`,
      )
    }
    authentication = {
      kind: 'jaas',
      configuration: jaas.configuration ?? SECURITY_DEFAULTS.jaasConfiguration,
      loginConfig: path.resolve(dir ?? process.cwd(), jaas.loginConfig ?? SECURITY_DEFAULTS.loginConfigName),
    }
  }
  return {
    authentication,
    authorization: input?.authorizationPlugin ? authorization(input.authorizationPlugin, locator) : null,
  }
}

/** Whether the config holds passwords itself (a file readable by others then gets a warning). */
export function holdsPasswords(s: SecurityConfig | undefined): boolean {
  return s?.authentication?.kind === 'simple' && s.authentication.users.length > 0
}
