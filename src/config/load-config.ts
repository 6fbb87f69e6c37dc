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
import { ADAPTER_KINDS, configInputSchema, type AdapterInput, type ConfigInput } from './schema.ts'
import { Locator, type PathItem } from './origin.ts'
import { readXmlConfig } from './xml-reader.ts'
import { readJsonConfig } from './json-reader.ts'
import { parseConnectorUri } from './connector-uri.ts'
import { DEFAULTS } from './defaults.ts'
import { firstIssue } from './config-issues.ts'
import { adminGroups, resolveAdminTls } from './admin-config.ts'
import { readableByOthers, warnings } from './config-warnings.ts'
import { parseChoice } from './values.ts'
import { resolveDestinationPolicy } from './destination-policy.ts'
import { holdsPasswords, resolveSecurity } from './security-config.ts'
import { checkTlsConnectors, resolveSslContext } from './ssl-context.ts'

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
    // Named after the scheme (stomp, mqtt, ws, ...): `stomp`, then `stomp-2`, ... for more of one scheme.
    const seen = new Map<string, number>()
    input.transportConnectors = o.connectors.map((uri, i) => {
      locator.set(['transportConnectors', i], { flag: '--connector' })
      locator.set(['transportConnectors', i, 'uri'], { flag: '--connector' })
      const base = /^\s*([A-Za-z]+)/.exec(uri)?.[1]?.toLowerCase() ?? DEFAULTS.connectorName
      const n = (seen.get(base) ?? 0) + 1
      seen.set(base, n)
      return { name: n === 1 ? base : `${base}-${n}`, uri }
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
  const connectors: ConnectorConfig[] = connectorInputs.map((c, i) => {
    const parsed = parseConnectorUri(c.uri, c.name, locator.at(['transportConnectors', i, 'uri']))
    for (const key of ['updateClusterClients', 'updateClusterClientsOnRemove'] as const) {
      const on = c[key]
      if (on === undefined) continue
      if (parsed.protocol !== 'openwire' && parsed.protocol !== 'auto')
        throw new BrokerError(
          'CONFIG_INVALID',
          `${locator.at(['transportConnectors', i, key])}: ${key} tells OpenWire clients the group's URLs; expected it on a tcp, nio, ssl or auto connector, not ${c.uri}`,
        )
      parsed[key] = on
    }
    return parsed
  })
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
