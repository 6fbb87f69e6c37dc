/**
 * JaasAuthenticator: `<jaasAuthenticationPlugin configuration="activemq"/>` with ActiveMQ's PropertiesLoginModule,
 * reading the files an ActiveMQ install already has.
 *
 * - login.config: the entry named by `configuration` must hold exactly one
 *   `org.apache.activemq.jaas.PropertiesLoginModule` (other modules, LDAP or certificates, are CONFIG_UNSUPPORTED).
 * - Its options, as ActiveMQ's PropertiesLoader reads them: `org.apache.activemq.jaas.properties.user` (default
 *   users.properties), `org.apache.activemq.jaas.properties.group` (default groups.properties), both relative to
 *   `baseDir` (default: the directory of login.config, as java.security.auth.login.config gives ActiveMQ), and
 *   `reload=true`: each login first compares the files' size and mtime with the loaded ones and re-reads changed
 *   files (ActiveMQ's ReloadableProperties). A file that became unreadable or invalid keeps the previous contents
 *   in force and logs an error, so a half-written edit never locks everyone out.
 * - users.properties: `user=password` (plain or `scrypt$...`; `ENC(...)` refused). groups.properties:
 *   `group=user1,user2`.
 * Files come in through FilePort, so tests drive changes without a disk.
 */
import nodeFs from 'node:fs'
import path from 'node:path'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { JaasAuthenticationConfig } from '../config/index.ts'
import { parseLoginConfig } from './login-config.ts'
import { parseProperties, PROPERTIES_ENTRIES_MAX } from './properties-file.ts'
import {
  DECOY_PASSWORD,
  parseStoredPassword,
  storedPasswordProblem,
  verifyPassword,
  type StoredPassword,
} from './password.ts'
import { invalidLogin } from './simple-authenticator.ts'
import type { Authenticator, Credentials, Subject } from './types.ts'

const log = logger('security')

/** The file operations security needs (real: node:fs; tests: a map). */
export interface FilePort {
  readText(file: string): string
  /** Size and mtime, to notice a change; throws like fs.statSync when missing. */
  stat(file: string): { size: number; mtimeMs: number; mode: number }
}

export const nodeFiles: FilePort = {
  readText: (f) => nodeFs.readFileSync(f, 'utf8'),
  stat: (f) => {
    const s = nodeFs.statSync(f)
    return { size: s.size, mtimeMs: s.mtimeMs, mode: s.mode }
  },
}

export const PROPERTIES_LOGIN_MODULE = 'org.apache.activemq.jaas.PropertiesLoginModule'
export const USER_FILE_OPTION = 'org.apache.activemq.jaas.properties.user'
export const GROUP_FILE_OPTION = 'org.apache.activemq.jaas.properties.group'
/** Largest users/groups file read (bytes): a bounded read, not a config for a million users. */
export const PROPERTIES_FILE_BYTES_MAX = 16 * 1024 * 1024

interface Loaded<T> {
  size: number
  mtimeMs: number
  value: T
}

export interface JaasFiles {
  usersFile: string
  groupsFile: string
  reload: boolean
}

/** Resolve login.config → the users and groups files and the reload flag. Throws CONFIG_*. */
export function resolveJaasFiles(config: JaasAuthenticationConfig, files: FilePort = nodeFiles): JaasFiles {
  let text: string
  try {
    text = files.readText(config.loginConfig)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message
    throw new BrokerError(
      'CONFIG_INVALID',
      `<jaasAuthenticationPlugin>: login.config ${config.loginConfig} cannot be read (${code}); expected the JAAS file ActiveMQ uses, beside the config file or named by loginConfig="..."`,
      { cause: e },
    )
  }
  const entries = parseLoginConfig(text, config.loginConfig)
  const entry = entries.get(config.configuration)
  if (!entry) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `<jaasAuthenticationPlugin configuration="${config.configuration}">: ${config.loginConfig} has no entry "${config.configuration}"; expected one of: ${[...entries.keys()].join(', ') || '(none)'}`,
    )
  }
  const unsupported = entry.modules.find((m) => m.className !== PROPERTIES_LOGIN_MODULE)
  if (unsupported) {
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${config.loginConfig}:${unsupported.line}: login module ${unsupported.className} is not supported; sfbroker implements ${PROPERTIES_LOGIN_MODULE} only`,
    )
  }
  if (entry.modules.length !== 1) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${config.loginConfig}:${entry.line}: entry "${config.configuration}" has ${entry.modules.length} login modules; expected exactly one ${PROPERTIES_LOGIN_MODULE}`,
    )
  }
  const o = entry.modules[0]!.options
  const baseDir =
    o.baseDir !== undefined
      ? path.resolve(path.dirname(config.loginConfig), o.baseDir)
      : path.dirname(config.loginConfig)
  return {
    usersFile: path.resolve(baseDir, o[USER_FILE_OPTION] ?? 'users.properties'),
    groupsFile: path.resolve(baseDir, o[GROUP_FILE_OPTION] ?? 'groups.properties'),
    reload: (o.reload ?? '').toLowerCase() === 'true',
  }
}

function readUsers(file: string, files: FilePort): Map<string, StoredPassword> {
  const out = new Map<string, StoredPassword>()
  for (const p of readProps(file, files)) {
    const problem = storedPasswordProblem(p.value)
    // The message names the user and line, never the value.
    if (problem)
      throw new BrokerError(
        problem.unsupported ? 'CONFIG_UNSUPPORTED' : 'CONFIG_INVALID',
        `${file}:${p.line}: the password of user "${p.key}" ${problem.message}`,
      )
    out.set(p.key, parseStoredPassword(p.value))
  }
  return out
}

function readGroups(file: string, files: FilePort): Map<string, Set<string>> {
  const byUser = new Map<string, Set<string>>()
  for (const p of readProps(file, files)) {
    for (const user of p.value
      .split(',')
      .map((u) => u.trim())
      .filter((u) => u !== '')) {
      let g = byUser.get(user)
      if (!g) byUser.set(user, (g = new Set()))
      g.add(p.key)
    }
  }
  return byUser
}

function readProps(file: string, files: FilePort): ReturnType<typeof parseProperties> {
  let text: string
  try {
    const st = files.stat(file)
    if (st.size > PROPERTIES_FILE_BYTES_MAX)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${file}: ${st.size} bytes; expected at most ${PROPERTIES_FILE_BYTES_MAX}`,
      )
    text = files.readText(file)
  } catch (e) {
    if (e instanceof BrokerError) throw e
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); expected a properties file named in login.config`,
      { cause: e },
    )
  }
  const props = parseProperties(text)
  if (props.length > PROPERTIES_ENTRIES_MAX)
    throw new BrokerError(
      'CONFIG_INVALID',
      `${file}: ${props.length} entries; expected at most ${PROPERTIES_ENTRIES_MAX}`,
    )
  return props
}

export class JaasAuthenticator implements Authenticator {
  readonly files: JaasFiles
  private users: Loaded<Map<string, StoredPassword>>
  private groups: Loaded<Map<string, Set<string>>>

  /** Reads login.config and both files now: a broken setup fails at start, with file:line. */
  constructor(
    config: JaasAuthenticationConfig,
    private readonly io: FilePort = nodeFiles,
  ) {
    this.files = resolveJaasFiles(config, io)
    this.users = this.load(this.files.usersFile, readUsers)
    this.groups = this.load(this.files.groupsFile, readGroups)
    if ((io.stat(this.files.usersFile).mode & 0o004) !== 0) {
      log.warn(
        `${this.files.usersFile} holds passwords and is readable by every user on this host; run chmod o-r on it, and store scrypt hashes (sfbroker hash-password) rather than plain passwords`,
      )
    }
  }

  private load<T>(file: string, read: (f: string, io: FilePort) => T): Loaded<T> {
    const st = this.io.stat(file)
    return { size: st.size, mtimeMs: st.mtimeMs, value: read(file, this.io) }
  }

  /** Re-read a file whose size or mtime changed; on any failure keep the old contents and log. */
  private refresh<T>(file: string, cur: Loaded<T>, read: (f: string, io: FilePort) => T): Loaded<T> {
    try {
      const st = this.io.stat(file)
      if (st.size === cur.size && st.mtimeMs === cur.mtimeMs) return cur
      const next = this.load(file, read)
      log.info(`reloaded ${file}`)
      return next
    } catch (e) {
      log.error(`${file}: reload failed, the previous contents stay in force: ${(e as Error).message}`)
      // Remember the failed version so a broken file is not re-parsed (and re-logged) on every login.
      try {
        const st = this.io.stat(file)
        return { ...cur, size: st.size, mtimeMs: st.mtimeMs }
      } catch {
        return cur
      }
    }
  }

  async authenticate(c: Credentials): Promise<Subject> {
    if (this.files.reload) {
      this.users = this.refresh(this.files.usersFile, this.users, readUsers)
      this.groups = this.refresh(this.files.groupsFile, this.groups, readGroups)
    }
    const stored = c.username !== undefined ? this.users.value.get(c.username) : undefined
    const ok = await verifyPassword(stored ?? DECOY_PASSWORD, c.password ?? '')
    if (stored === undefined || c.password === undefined || !ok) throw invalidLogin(c.username)
    return { user: c.username!, groups: this.groups.value.get(c.username!) ?? new Set() }
  }
}
