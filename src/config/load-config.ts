/**
 * loadConfig: file (XML or JSON) + flag overrides + defaults → a validated, absolute, fully filled BrokerConfig.
 * The one entry point to configuration; nothing else reads raw XML or JSON. Flags are merged into the input
 * before validation, so a bad `--connector` is reported exactly like a bad URI in a file (naming the flag).
 * Relative paths are made absolute against `cwd` (the process's working directory, not the file's folder,
 * like ActiveMQ's own relative paths). Expected failures throw BrokerError: CONFIG_NOT_FOUND (no such file),
 * CONFIG_INVALID (wrong value, unknown name, malformed file), CONFIG_UNSUPPORTED (an ActiveMQ setting sfbroker
 * does not implement), each naming file:line (XML), the JSON path or the flag, the value found and what was expected.
 */
import fs from 'node:fs'
import path from 'node:path'
import * as v from 'valibot'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { AdapterKind, BrokerConfig, ConnectorConfig, LockType } from './types.ts'
import {
  ADAPTER_KINDS,
  UNSUPPORTED,
  configInputSchema,
  keysAt,
  unsupportedContext,
  type AdapterInput,
  type ConfigInput,
} from './schema.ts'
import { Locator, type PathItem } from './origin.ts'
import { readXmlConfig } from './xml-reader.ts'
import { readJsonConfig } from './json-reader.ts'
import { parseConnectorUri } from './connector-uri.ts'
import { DEFAULTS } from './defaults.ts'
import { didYouMean } from './suggest.ts'
import { parseChoice } from './values.ts'
import { resolveDestinationPolicy } from './destination-policy.ts'
import { holdsPasswords, resolveSecurity } from './security-config.ts'
import { checkTlsConnectors, hasKeyMaterial, resolveSslContext } from './ssl-context.ts'
import type { SslContextConfig } from './types.ts'

const log = logger('config')

/** Command-line overrides; each replaces the corresponding file setting. */
export interface ConfigOverrides {
  /** `--data <dir>`: dataDirectory (and so the default store and scheduler directories). */
  data?: string
  /** `--connector <uri>` (repeatable): replaces the configured transport connectors. */
  connectors?: string[]
  /** `--broker-name <name>`. */
  brokerName?: string
  /** `--admin <host:port>`: enables the admin endpoint there. */
  admin?: string
  /** `--admin-writable`: the admin console may change state (#18). */
  adminWritable?: boolean
  /** `--lock-type flock|fcntl`. */
  lockType?: string
}

export interface LoadConfigOptions {
  /** Config file path (.xml or .json; otherwise sniffed from the first character). None = embedded default. */
  file?: string
  overrides?: ConfigOverrides
  /** Base for relative paths; default process.cwd(). */
  cwd?: string
}

/** Load, validate and complete the broker configuration. Throws BrokerError (CONFIG_*). */
export function loadConfig(opts: LoadConfigOptions = {}): BrokerConfig {
  const cwd = opts.cwd ?? process.cwd()
  let input: unknown
  let locator: Locator
  let source: string
  if (opts.file !== undefined) {
    const abs = path.resolve(cwd, opts.file)
    source = abs
    const text = readConfigFile(abs, opts.file)
    const format = formatOf(opts.file, text)
    ;({ input, locator } = format === 'xml' ? readXmlConfig(text, opts.file) : readJsonConfig(text, opts.file))
  } else {
    source = 'embedded default'
    input = {}
    locator = new Locator(null, 'default')
  }
  const lockType = applyOverrides(input as Record<string, unknown>, opts.overrides ?? {}, locator)
  const parsed = v.safeParse(configInputSchema, input)
  if (!parsed.success) throw firstIssue(parsed.issues, locator)
  const config = resolve(parsed.output, locator, cwd, source)
  if (lockType !== undefined) config.lock.type = lockType
  for (const w of warnings(config)) log.warn(w)
  // Keystore passwords count too: whoever reads them can open the broker's private key.
  const tlsPasswords = [config.sslContext, config.admin?.tls].some(
    (t) => t && (t.keyStorePassword || t.trustStorePassword || t.keyPassword),
  )
  if (opts.file !== undefined && (holdsPasswords(config.security) || tlsPasswords)) {
    const w = readableByOthers(source, opts.file)
    if (w) log.warn(w)
  }
  return config
}

/** An empty input parsed and completed: the embedded default (with `cwd` for ./data). */
export function defaultConfig(cwd: string = process.cwd()): BrokerConfig {
  return loadConfig({ cwd })
}

function readConfigFile(abs: string, shown: string): string {
  try {
    return fs.readFileSync(abs, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT')
      throw new BrokerError('CONFIG_NOT_FOUND', `config file ${shown}: not found (looked at ${abs})`, { cause: e })
    if (code === 'EISDIR')
      throw new BrokerError('CONFIG_INVALID', `config file ${shown}: is a directory; expected an .xml or .json file`, {
        cause: e,
      })
    throw new BrokerError('CONFIG_INVALID', `config file ${shown}: cannot be read (${code ?? (e as Error).message})`, {
      cause: e,
    })
  }
}

function formatOf(file: string, text: string): 'xml' | 'json' {
  const ext = path.extname(file).toLowerCase()
  if (ext === '.xml') return 'xml'
  if (ext === '.json') return 'json'
  const first = text.replace(/^\uFEFF/, '').trimStart()[0]
  if (first === '<') return 'xml'
  if (first === '{') return 'json'
  throw new BrokerError(
    'CONFIG_INVALID',
    `config file ${file}: neither .xml nor .json, and it starts with ${JSON.stringify(first ?? '')}; expected ActiveMQ-style XML or JSON`,
  )
}

/** Merge flags into the raw input, recording the flag as the origin of each value. Returns the lock type flag. */
function applyOverrides(input: Record<string, unknown>, o: ConfigOverrides, locator: Locator): LockType | undefined {
  if (o.data !== undefined) {
    input.dataDirectory = o.data
    locator.set(['dataDirectory'], { flag: '--data' })
  }
  if (o.brokerName !== undefined) {
    input.brokerName = o.brokerName
    locator.set(['brokerName'], { flag: '--broker-name' })
  }
  if (o.connectors !== undefined && o.connectors.length > 0) {
    input.transportConnectors = o.connectors.map((uri, i) => {
      locator.set(['transportConnectors', i], { flag: '--connector' })
      locator.set(['transportConnectors', i, 'uri'], { flag: '--connector' })
      return { name: i === 0 ? DEFAULTS.connectorName : `${DEFAULTS.connectorName}-${i + 1}`, uri }
    })
    locator.set(['transportConnectors'], { flag: '--connector' })
  }
  if (o.admin !== undefined) {
    input.admin = { listen: o.admin }
    locator.set(['admin'], { flag: '--admin' })
    locator.set(['admin', 'listen'], { flag: '--admin' })
  }
  if (o.adminWritable === true && !input.admin) {
    throw new BrokerError(
      'CONFIG_INVALID',
      '--admin-writable: no admin listener is configured; expected --admin <host:port> or <admin listen="host:port"/> too',
    )
  }
  if (o.adminWritable === true && input.admin && typeof input.admin === 'object') {
    input.admin = { ...(input.admin as Record<string, unknown>), writable: true }
    locator.set(['admin', 'writable'], { flag: '--admin-writable' })
  }
  if (o.lockType === undefined) return undefined
  const t = parseChoice(o.lockType, ['flock', 'fcntl'] as const)
  if (t === undefined)
    throw new BrokerError('CONFIG_INVALID', `--lock-type: found "${o.lockType}", expected one of flock, fcntl`)
  return t
}

type Issue = v.BaseIssue<unknown>

function issuePath(issue: Issue): PathItem[] {
  return (issue.path ?? []).map((p) => p.key as PathItem)
}

/** The issue to report: the first in the file (XML: lowest line; JSON: schema order), as a BrokerError. */
function firstIssue(issues: readonly Issue[], locator: Locator): BrokerError {
  const sorted = [...issues].sort((a, b) => locator.line(issuePath(a)) - locator.line(issuePath(b)))
  const err = issueToError(sorted[0], locator)
  if (sorted.length > 1) {
    const more = sorted.slice(1).map((i) => issueToError(i, locator).message)
    return new BrokerError(err.code, `${err.message} (and ${more.length} more problem${more.length > 1 ? 's' : ''})`, {
      details: { more },
    })
  }
  return err
}

function issueToError(issue: Issue, locator: Locator): BrokerError {
  const p = issuePath(issue)
  const xml = locator.format === 'xml'
  if (issue.type === 'strict_object' && issue.expected === 'never') {
    // A key the schema does not know.
    const key = String(p[p.length - 1])
    const parent = p.slice(0, -1)
    const origin = locator.origin(p)
    const isAttribute = origin?.attribute !== undefined
    const what = xml ? (isAttribute ? `attribute "${key}"` : `element <${key}>`) : `key "${key}"`
    if (UNSUPPORTED[unsupportedContext(parent)]?.includes(key)) {
      const place = xml
        ? `${locator.file}:${origin?.line ?? locator.line(parent)}: <${locator.origin(parent)?.element ?? 'broker'}>`
        : locator.container(parent)
      return new BrokerError(
        'CONFIG_UNSUPPORTED',
        `${place}: ${what} is an ActiveMQ setting sfbroker does not support yet`,
      )
    }
    const place = xml
      ? `${locator.file}:${origin?.line ?? locator.line(parent)}: <${locator.origin(parent)?.element ?? 'broker'}>`
      : locator.container(parent)
    const hint = didYouMean(key, keysAt(parent))
    return new BrokerError(
      'CONFIG_INVALID',
      `${place} has unknown ${what}${hint || `; expected one of ${keysAt(parent).join(', ')}`}`,
    )
  }
  if (issue.type === 'strict_object' && issue.kind === 'schema' && issue.expected?.startsWith('"')) {
    // A required key is missing.
    const key = String(p[p.length - 1])
    const what = xml ? `attribute "${key}"` : `key "${key}"`
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(p.slice(0, -1))}: ${what} is missing; expected it to be set`,
    )
  }
  if (issue.kind === 'schema' && (issue.type === 'strict_object' || issue.type === 'array')) {
    const expected = issue.type === 'array' ? 'a list' : xml ? 'an element' : 'an object'
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(p)}: found ${Locator.found(issue.input)}, expected ${expected}`,
    )
  }
  if (
    xml &&
    locator.origin(p)?.attribute === undefined &&
    locator.origin(p)?.element !== undefined &&
    locator.origin(p)?.flag === undefined
  ) {
    // An element where the schema wants an attribute value, e.g. <kahaDB><directory>…</directory></kahaDB>.
    const key = String(p[p.length - 1])
    return new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(p)}: "${key}" is an attribute in sfbroker config; expected ${key}="..." on <${locator.origin(p.slice(0, -1))?.element ?? 'broker'}>`,
    )
  }
  return new BrokerError(
    'CONFIG_INVALID',
    `${locator.at(p)}: found ${Locator.found(issue.input)}, expected ${issue.expected ?? issue.message}`,
  )
}

/** Fill defaults, make paths absolute, parse connector URIs, check settings against each other. */
function resolve(input: ConfigInput, locator: Locator, cwd: string, source: string): BrokerConfig {
  const abs = (p: string): string => path.resolve(cwd, p)
  if (input.useJmx === true) {
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${locator.at(['useJmx'])}: found true; JMX is not supported (the admin endpoint serves health, status and metrics), expected false or nothing`,
    )
  }
  const dataDirectory = abs(input.dataDirectory ?? DEFAULTS.dataDirectory)

  const adapters = Object.entries(input.persistenceAdapter ?? {}).filter(([, a]) => a !== undefined) as [
    keyof typeof ADAPTER_KINDS,
    AdapterInput,
  ][]
  const choices = Object.keys(ADAPTER_KINDS)
    .map((k) => `<${k}>`)
    .join(', ')
  if (input.persistenceAdapter !== undefined && adapters.length === 0) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(['persistenceAdapter'])}: found it empty, expected exactly one of ${choices}`,
    )
  }
  if (adapters.length > 1) {
    const names = adapters.map(([k]) => `<${k}>`).join(' and ')
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(['persistenceAdapter'])}: found ${names}, expected exactly one of ${choices}`,
    )
  }
  const [adapterName, a] = adapters[0] ?? ['kahaDB', {} as AdapterInput]
  const adapterPath: PathItem[] = ['persistenceAdapter', adapterName]
  const locker = a.locker?.['shared-file-locker']
  const lockerPath: PathItem[] = [...adapterPath, 'locker', 'shared-file-locker']
  const pick = <K extends 'lockAcquireSleepInterval' | 'failIfLocked'>(key: K): AdapterInput[K] | undefined => {
    const direct = a[key]
    const viaLocker = locker?.[key]
    if (direct !== undefined && viaLocker !== undefined && direct !== viaLocker) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at([...lockerPath, key])}: found ${String(viaLocker)}, but ${locator.at([...adapterPath, key])} says ${String(direct)}; expected one value (set it in one place)`,
      )
    }
    return direct ?? viaLocker
  }
  const kind: AdapterKind = ADAPTER_KINDS[adapterName]
  const lockKeepAlivePeriod = a.lockKeepAlivePeriod ?? DEFAULTS.lockKeepAlivePeriod
  // Keep-alive is part of the safety argument on a shared directory: without it a primary never learns that its
  // lock was lost, and two nodes on lying locks depose each other through the epoch fence in a livelock.
  if (lockKeepAlivePeriod === 0 && (a.useLock ?? DEFAULTS.useLock) && (input.persistent ?? DEFAULTS.persistent)) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at([...adapterPath, 'lockKeepAlivePeriod'])}: found 0, expected a period > 0 (default ${DEFAULTS.lockKeepAlivePeriod} ms) on a shared directory; useLock="false" is the setting for a single broker without election`,
    )
  }

  const connectorInputs = input.transportConnectors ?? [{ name: DEFAULTS.connectorName, uri: DEFAULTS.connectorUri }]
  if (connectorInputs.length === 0) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(['transportConnectors'])}: found no <transportConnector>, expected at least one stomp:// connector`,
    )
  }
  const connectors: ConnectorConfig[] = connectorInputs.map((c, i) =>
    parseConnectorUri(c.uri, c.name, locator.at(['transportConnectors', i, 'uri'])),
  )
  const names = new Map<string, number>()
  const addresses = new Map<string, number>()
  connectors.forEach((c, i) => {
    const sameName = names.get(c.name)
    if (sameName !== undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['transportConnectors', i])}: name "${c.name}" is also the name of connector ${sameName + 1}; expected unique names`,
      )
    }
    names.set(c.name, i)
    const address = `${c.host}:${c.port}`
    const sameAddress = addresses.get(address)
    if (c.port !== 0 && sameAddress !== undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['transportConnectors', i, 'uri'])}: ${address} is also the address of connector ${sameAddress + 1}; expected each connector on its own port`,
      )
    }
    addresses.set(address, i)
  })

  const sslContext = input.sslContext ? resolveSslContext(input.sslContext, ['sslContext'], locator, abs) : null
  checkTlsConnectors(connectors, sslContext, locator)
  const adminTls = input.admin ? resolveAdminTls(input.admin, sslContext, locator, abs) : null
  const memoryLimit = input.systemUsage?.memoryUsage?.limit ?? DEFAULTS.memoryLimit
  return {
    source,
    brokerName: input.brokerName ?? DEFAULTS.brokerName,
    dataDirectory,
    persistent: input.persistent ?? DEFAULTS.persistent,
    schedulerSupport: input.schedulerSupport ?? DEFAULTS.schedulerSupport,
    schedulerDirectory:
      input.schedulerDirectory !== undefined
        ? abs(input.schedulerDirectory)
        : path.join(dataDirectory, DEFAULTS.schedulerDirectoryName),
    persistence: {
      adapter: kind,
      directory: a.directory !== undefined ? abs(a.directory) : dataDirectory,
      journalMaxFileLength: a.journalMaxFileLength ?? DEFAULTS.journalMaxFileLength,
      journalDiskSyncStrategy: a.journalDiskSyncStrategy ?? DEFAULTS.journalDiskSyncStrategy,
      journalDiskSyncInterval: a.journalDiskSyncInterval ?? DEFAULTS.journalDiskSyncInterval,
      checkpointInterval: a.checkpointInterval ?? DEFAULTS.checkpointInterval,
      cleanupInterval: a.cleanupInterval ?? DEFAULTS.cleanupInterval,
    },
    lock: {
      useLock: a.useLock ?? DEFAULTS.useLock,
      type: a.lockType ?? DEFAULTS.lockType,
      lockKeepAlivePeriod,
      keepAliveTimeout: a.keepAliveTimeout ?? lockKeepAlivePeriod,
      lockAcquireSleepInterval: pick('lockAcquireSleepInterval') ?? DEFAULTS.lockAcquireSleepInterval,
      blockingWait: a.blockingWait ?? DEFAULTS.blockingWait,
      failIfLocked: pick('failIfLocked') ?? DEFAULTS.failIfLocked,
      restartAllowed: input.restartAllowed ?? DEFAULTS.restartAllowed,
      failback: a.failback ?? DEFAULTS.failback,
      eventLoopStallMax: a.eventLoopStallMax ?? DEFAULTS.eventLoopStallMax,
    },
    connectors,
    limits: {
      memoryLimit,
      destinationMemoryLimit: Math.min(DEFAULTS.destinationMemoryLimit, memoryLimit),
      ...(input.systemUsage?.sendFailIfNoSpace ? { sendFailIfNoSpace: true } : {}),
      ...(input.systemUsage?.sendFailIfNoSpaceAfterTimeout
        ? { sendFailIfNoSpaceAfterTimeout: input.systemUsage.sendFailIfNoSpaceAfterTimeout }
        : {}),
      ...(input.systemUsage?.maxTransactionSize ? { maxTransactionSize: input.systemUsage.maxTransactionSize } : {}),
      ...(input.systemUsage?.maxTransactionSizePerConnection
        ? { maxTransactionSizePerConnection: input.systemUsage.maxTransactionSizePerConnection }
        : {}),
    },
    destinationPolicy: resolveDestinationPolicy(input.destinationPolicy, locator),
    destinations: {
      maxDestinations: input.maxDestinations ?? DEFAULTS.maxDestinations,
      schedulePeriodForDestinationPurge:
        input.schedulePeriodForDestinationPurge ?? DEFAULTS.schedulePeriodForDestinationPurge,
      maxPurgedDestinationsPerSweep: input.maxPurgedDestinationsPerSweep ?? DEFAULTS.maxPurgedDestinationsPerSweep,
    },
    admin: input.admin
      ? {
          host: input.admin.listen.host,
          port: input.admin.listen.port,
          metricsDestinationsMax: input.admin.metricsDestinationsMax ?? DEFAULTS.metricsDestinationsMax,
          ...(input.admin.writable ? { writable: true } : {}),
          ...(adminTls ? { tls: adminTls } : {}),
          ...adminGroups(input, locator),
        }
      : null,
    ...(sslContext ? { sslContext } : {}),
    nodeId: input.nodeId ?? null,
    security: resolveSecurity(input.plugins, locator, source === 'embedded default' ? null : source),
  }
}

/** A group name of `<admin groups|readOnlyGroups>`: no blanks, commas or control characters; "*" = every user. */
const GROUP_NAME = /^[^\s,\u0000-\u001f]+$/

/**
 * `<admin groups readOnlyGroups>` as lists. Each is a comma list of group names (empty entries refused, so a typo
 * like "admins,,ops" is not silently read). A group may not be in both lists (which would it be?), and
 * readOnlyGroups needs an authentication plugin: without one nobody logs in and it would do nothing.
 */
function adminGroups(input: ConfigInput, locator: Locator): { groups?: string[]; readOnlyGroups?: string[] } {
  const a = input.admin!
  const list = (key: 'groups' | 'readOnlyGroups'): string[] | undefined => {
    const raw = a[key]
    if (raw === undefined) return undefined
    const names = raw.split(',').map((g) => g.trim())
    const bad = names.find((g) => !GROUP_NAME.test(g))
    if (bad !== undefined)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', key])}: found ${JSON.stringify(raw)}, expected a comma list of group names without blanks inside, e.g. "${key === 'groups' ? 'admins' : 'monitors,ops'}"${bad === '' ? ' (an empty name)' : ''}`,
      )
    return names
  }
  const groups = list('groups')
  const readOnlyGroups = list('readOnlyGroups')
  if (readOnlyGroups) {
    const both = readOnlyGroups.find((g) => (groups ?? [DEFAULTS.adminGroups]).includes(g))
    if (both !== undefined)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', 'readOnlyGroups'])}: group "${both}" is also an admin group (groups="${(groups ?? [DEFAULTS.adminGroups]).join(',')}"); expected each group in one of the two lists`,
      )
    const p = input.plugins
    if (!p?.simpleAuthenticationPlugin && !p?.jaasAuthenticationPlugin) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', 'readOnlyGroups'])}: no authentication plugin is configured, so nobody logs in to the admin listener; expected <simpleAuthenticationPlugin> or <jaasAuthenticationPlugin> in <plugins>, or no readOnlyGroups`,
      )
    }
  }
  return { ...(groups ? { groups } : {}), ...(readOnlyGroups ? { readOnlyGroups } : {}) }
}

/** The admin endpoint's TLS: its own keyStore/keyFile when given, else the broker's `<sslContext>`; only with ssl="true". */
function resolveAdminTls(
  a: NonNullable<ConfigInput['admin']>,
  broker: SslContextConfig | null,
  locator: Locator,
  abs: (p: string) => string,
): SslContextConfig | null {
  const own = a.keyStore !== undefined || a.keyFile !== undefined || a.certFile !== undefined
  if (a.ssl !== true) {
    if (own)
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at(['admin', a.keyStore !== undefined ? 'keyStore' : a.keyFile !== undefined ? 'keyFile' : 'certFile'])}: key attributes without ssl="true"; expected ssl="true" to serve HTTPS`,
      )
    return null
  }
  if (own) {
    const { keyStore, keyStorePassword, keyFile, certFile, keyPassword } = a
    return resolveSslContext({ keyStore, keyStorePassword, keyFile, certFile, keyPassword }, ['admin'], locator, abs)
  }
  if (broker === null || !hasKeyMaterial(broker)) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at(['admin', 'ssl'])}: ssl="true" but there is no key: expected keyStore (or keyFile + certFile) on <admin>, or an <sslContext> with one`,
    )
  }
  return broker
}

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
