/**
 * The config *input* model, as valibot schemas: the shape both readers produce and the JSON file uses as is.
 * Names are ActiveMQ's (`brokerName`, `persistenceAdapter.kahaDB.directory`, `transportConnectors[].uri`,
 * `systemUsage.memoryUsage.limit`) so that XML and JSON read alike; README "Configuration" documents it.
 * Leaves accept native JSON values or the strings XML attributes give, and turn them into typed values.
 * Objects are strict: an unknown key is an issue (turned into "unknown ... did you mean"), never ignored.
 * Settings ActiveMQ has and sfbroker does not yet are listed in UNSUPPORTED so they fail as CONFIG_UNSUPPORTED.
 */
import * as v from 'valibot'
import type { LockType, SyncPolicy } from './types.ts'
import { Secret } from './secret.ts'
import { pluginsSchema } from './security-schema.ts'
import { leaf } from './leaf.ts'
import {
  BOOLEAN_EXPECTED,
  DURATION_EXPECTED,
  HOST_PORT_EXPECTED,
  SIZE_EXPECTED,
  parseBoolean,
  parseChoice,
  parseDurationMs,
  parseHostPort,
  parseInteger,
  parseSize,
  parseText,
} from './values.ts'

const size = v.optional(leaf(SIZE_EXPECTED, parseSize))
const durationMs = v.optional(leaf(DURATION_EXPECTED, parseDurationMs))
const bool = v.optional(leaf(BOOLEAN_EXPECTED, parseBoolean))
const text = v.optional(leaf('a non-empty single-line string', (x) => parseText(x)))
const name = v.optional(
  leaf('a non-empty name of at most 128 characters without control characters', (x) => parseText(x, 128)),
)
const SYNC_POLICIES: readonly SyncPolicy[] = ['always', 'periodic', 'never']
const LOCK_TYPES: readonly LockType[] = ['flock', 'fcntl']
const syncPolicy = v.optional(leaf(`one of ${SYNC_POLICIES.join(', ')}`, (x) => parseChoice(x, SYNC_POLICIES)))
const lockType = v.optional(leaf(`one of ${LOCK_TYPES.join(', ')}`, (x) => parseChoice(x, LOCK_TYPES)))
const hostPort = leaf(HOST_PORT_EXPECTED, parseHostPort)
/** Largest prefetch accepted from a policy entry (Java's int range, as ActiveMQ's setters take). */
export const PREFETCH_MAX = 2_147_483_647

const sharedFileLocker = v.strictObject({
  lockAcquireSleepInterval: durationMs,
  failIfLocked: bool,
})

/** Attributes of `<kahaDB>`, `<levelDB>` and `<amqPersistenceAdapter>` (all three take the same set). */
export const adapterSchema = v.strictObject({
  directory: text,
  journalMaxFileLength: size,
  journalDiskSyncStrategy: syncPolicy,
  journalDiskSyncInterval: durationMs,
  checkpointInterval: durationMs,
  cleanupInterval: durationMs,
  lockKeepAlivePeriod: durationMs,
  lockAcquireSleepInterval: durationMs,
  useLock: bool,
  failIfLocked: bool,
  // sfbroker extensions
  lockType,
  keepAliveTimeout: durationMs,
  blockingWait: bool,
  failback: bool,
  eventLoopStallMax: durationMs,
  locker: v.optional(v.strictObject({ 'shared-file-locker': v.optional(sharedFileLocker) })),
})

/** The adapter element names, in the order error messages list them, and the AdapterKind each selects. */
export const ADAPTER_KINDS = { kahaDB: 'kahaDB', levelDB: 'levelDB', amqPersistenceAdapter: 'amq' } as const

/** Largest `maxDestinations` accepted (a broker-wide or per-entry destination count). */
export const MAX_DESTINATIONS_MAX = 10_000_000
const maxDestinations = v.optional(
  leaf(`-1 (no limit) or a whole number from 0 to ${MAX_DESTINATIONS_MAX}`, (x) =>
    parseInteger(x, -1, MAX_DESTINATIONS_MAX),
  ),
)
/** Largest `metricsDestinationsMax` (per-destination series in /metrics). */
export const METRICS_DESTINATIONS_MAX_MAX = 100_000

const prefetch = v.optional(
  leaf(`a whole number from 1 to ${PREFETCH_MAX} (0, ActiveMQ's pull mode, is not supported)`, (x) =>
    parseInteger(x, 1, PREFETCH_MAX),
  ),
)

/** Attributes of `<policyEntry>` sfbroker implements (destination-policy.ts judges combinations). */
export const policyEntrySchema = v.strictObject({
  queue: text,
  topic: text,
  memoryLimit: size,
  producerFlowControl: bool,
  prioritizedMessages: bool,
  queuePrefetch: prefetch,
  queueBrowserPrefetch: prefetch,
  topicPrefetch: prefetch,
  durableTopicPrefetch: prefetch,
  maxDestinations,
  gcInactiveDestinations: bool,
  /** ActiveMQ's own spelling (PolicyEntry.setInactiveTimoutBeforeGC); the correct spelling is accepted too. */
  inactiveTimoutBeforeGC: durationMs,
  inactiveTimeoutBeforeGC: durationMs,
  /** Known so the error is "temporary destinations are not supported", not "unknown attribute". */
  tempQueue: bool,
  tempTopic: bool,
})

export const destinationPolicySchema = v.strictObject({
  policyMap: v.optional(
    v.strictObject({
      policyEntries: v.optional(v.array(policyEntrySchema)),
      defaultEntry: v.optional(v.strictObject({ policyEntry: v.optional(policyEntrySchema) })),
    }),
  ),
})

/** A password: any string (even empty, as keytool allows), kept as a Secret so it is never printed. */
const secret = v.optional(
  leaf('a string (the password)', (x) =>
    typeof x === 'string' ? new Secret(x) : typeof x === 'number' ? new Secret(String(x)) : undefined,
  ),
)
const STORE_TYPES = ['pkcs12', 'jks', 'jceks'] as const
/** ActiveMQ's keyStoreType/trustStoreType; the file's bytes decide (a JKS file is refused whatever the type says). */
const storeType = v.optional(
  leaf(`one of PKCS12, JKS, JCEKS`, (x) =>
    typeof x === 'string' ? parseChoice(x.toLowerCase(), STORE_TYPES) : undefined,
  ),
)

/** `<sslContext><sslContext …/></sslContext>` (JSON: `sslContext`): ActiveMQ's names; the PEM files are sfbroker's. */
export const sslContextSchema = v.strictObject({
  keyStore: text,
  keyStorePassword: secret,
  keyStoreType: storeType,
  trustStore: text,
  trustStorePassword: secret,
  trustStoreType: storeType,
  keyFile: text,
  certFile: text,
  caFile: text,
  keyPassword: secret,
})

export const connectorSchema = v.strictObject({
  name: name,
  uri: leaf('a connector URI such as "stomp://0.0.0.0:61613"', (x) => parseText(x)),
  updateClusterClients: bool,
  updateClusterClientsOnRemove: bool,
})

export const configInputSchema = v.strictObject({
  brokerName: name,
  dataDirectory: text,
  persistent: bool,
  schedulerSupport: bool,
  schedulerDirectory: text,
  restartAllowed: bool,
  /** sfbroker extension: broker-wide limit on destinations (default 10000, -1 = none). */
  maxDestinations,
  schedulePeriodForDestinationPurge: durationMs,
  maxPurgedDestinationsPerSweep: v.optional(
    leaf(`a whole number from 0 (no limit) to ${MAX_DESTINATIONS_MAX}`, (x) =>
      parseInteger(x, 0, MAX_DESTINATIONS_MAX),
    ),
  ),
  /** Accepted only as false: sfbroker has no JMX (the admin endpoint serves health, status and metrics). */
  useJmx: bool,
  /** sfbroker extension: a stable node id for logs and status (default: host-pid-random). */
  nodeId: name,
  persistenceAdapter: v.optional(
    v.strictObject({
      kahaDB: v.optional(adapterSchema),
      levelDB: v.optional(adapterSchema),
      amqPersistenceAdapter: v.optional(adapterSchema),
    }),
  ),
  transportConnectors: v.optional(v.array(connectorSchema)),
  sslContext: v.optional(sslContextSchema),
  destinationPolicy: v.optional(destinationPolicySchema),
  /** Security plugins (security-schema.ts). */
  plugins: v.optional(pluginsSchema),
  systemUsage: v.optional(
    v.strictObject({
      memoryUsage: v.optional(v.strictObject({ limit: size })),
      sendFailIfNoSpace: bool,
      sendFailIfNoSpaceAfterTimeout: durationMs,
      /** sfbroker extensions (#19): byte limits of open transactions. */
      maxTransactionSize: size,
      maxTransactionSizePerConnection: size,
    }),
  ),
  /** sfbroker extension: the admin HTTP endpoint (health, status, metrics). */
  admin: v.optional(
    v.strictObject({
      listen: hostPort,
      metricsDestinationsMax: v.optional(
        leaf(`a whole number from 0 to ${METRICS_DESTINATIONS_MAX_MAX}`, (x) =>
          parseInteger(x, 0, METRICS_DESTINATIONS_MAX_MAX),
        ),
      ),
      /** The console's write operations (#18); off unless true. */
      writable: bool,
      /** HTTPS with the broker's `<sslContext>`, or with the key attributes below (the admin's own). */
      ssl: bool,
      keyStore: text,
      keyStorePassword: secret,
      keyFile: text,
      certFile: text,
      keyPassword: secret,
      /** Groups whose users may see everything but /health and change state (comma list), default "admins". */
      groups: text,
      /** Groups whose users may see the console and GET endpoints but change nothing (comma list), default none. */
      readOnlyGroups: text,
    }),
  ),
})

export type ConfigInput = v.InferOutput<typeof configInputSchema>
export type AdapterInput = v.InferOutput<typeof adapterSchema>
export type DestinationPolicyInput = v.InferOutput<typeof destinationPolicySchema>
export type PolicyEntryInput = v.InferOutput<typeof policyEntrySchema>

/** Keys the schema accepts for the object at `path`, for "did you mean" (walks strict objects, arrays, optionals). */
export function keysAt(path: readonly (string | number)[]): string[] {
  let schema: unknown = configInputSchema
  for (const p of path) {
    schema = unwrap(schema)
    const s = schema as { type?: string; entries?: Record<string, unknown>; item?: unknown }
    if (typeof p === 'number') schema = s.item
    else schema = s.entries?.[p]
  }
  const s = unwrap(schema) as { entries?: Record<string, unknown> }
  return s?.entries ? Object.keys(s.entries) : []
}

function unwrap(schema: unknown): unknown {
  let s = schema as { type?: string; wrapped?: unknown }
  while (s && (s.type === 'optional' || s.type === 'nullish' || s.type === 'nullable')) s = s.wrapped as typeof s
  return s
}
