/**
 * The typed broker configuration: the only shape the rest of the code consumes. The XML and JSON readers in
 * this folder produce it (validated with valibot); nothing else reads raw XML or JSON. All paths are absolute,
 * all durations are milliseconds, all sizes bytes.
 */
import type { Secret } from './secret.ts'

export type AdapterKind = 'kahaDB' | 'levelDB' | 'amq'
export type SyncPolicy = 'always' | 'periodic' | 'never'
export type LockType = 'flock' | 'fcntl'

export interface PersistenceConfig {
  adapter: AdapterKind
  /** The store directory. It is also the shared (election) directory: `<directory>/lock`, `epochs/`, `replicas/`. */
  directory: string
  /** kahaDB/amq journal segment size (`journalMaxFileLength`), default 32 MiB. */
  journalMaxFileLength: number
  /** `journalDiskSyncStrategy`: always (fsync before every receipt, group-committed), periodic, never. */
  journalDiskSyncStrategy: SyncPolicy
  /** `journalDiskSyncInterval` for periodic, default 1000 ms. */
  journalDiskSyncInterval: number
  /** kahaDB index checkpoint period (`checkpointInterval`), default 5000 ms. */
  checkpointInterval: number
  /** journal GC period (`cleanupInterval`), default 30000 ms. */
  cleanupInterval: number
}

export interface LockConfig {
  /** `useLock` (default true). false = no election at all (single broker, development only). */
  useLock: boolean
  /** flock (default) or fcntl (OFD locks) — fcntl for filesystems where only POSIX locks are cluster-aware. */
  type: LockType
  /** Primary keep-alive period (`lockKeepAlivePeriod`), default 1000 ms; 0 disables (not recommended). */
  lockKeepAlivePeriod: number
  /** A keep-alive check that takes longer than this counts as lock loss (hung NFS). Default = lockKeepAlivePeriod. */
  keepAliveTimeout: number
  /** Replica poll interval (`lockAcquireSleepInterval`) used when blocking waits are off; default 1000 ms. */
  lockAcquireSleepInterval: number
  /** Wait for the lock with a blocking call in a worker (wakes at once on release). Default true. */
  blockingWait: boolean
  /** `failIfLocked`: exit instead of waiting as a replica. Default false. */
  failIfLocked: boolean
  /** `restartAllowed`: after losing the lock, rejoin as a replica (true, default) or exit with code 75. */
  restartAllowed: boolean
  /** Preferred broker takes the primary role back when it returns. Default false. */
  failback: boolean
  /** Give up the lock when the event loop stalls longer than this (ms). Default 10000; 0 disables. */
  eventLoopStallMax: number
}

/** What a connector is served with: plain TCP, TLS (`+ssl`), WebSocket (`ws://`) or WebSocket over TLS (`wss://`). */
export type ConnectorTransport = 'tcp' | 'tls' | 'ws' | 'wss'
/**
 * What a connector speaks; `both` (ws/wss): STOMP or MQTT per connection, by WebSocket subprotocol; `openwire`
 * (tcp://, nio://, ssl://): ActiveMQ's JMS wire protocol; `auto` (auto://): OpenWire, STOMP or MQTT per connection,
 * told apart by its first bytes.
 */
export type ConnectorProtocol = 'stomp' | 'mqtt' | 'both' | 'openwire' | 'auto'

export interface ConnectorConfig {
  name: string
  /** As written, e.g. stomp://0.0.0.0:61613?maximumConnections=1000 */
  uri: string
  /** Set by parseConnectorUri; absent in hand-built connectors (tests): `tls` set means 'tls', else 'tcp'. */
  transport?: ConnectorTransport
  protocol: ConnectorProtocol
  host: string
  port: number
  /** `maximumConnections` URI option, default 1000. */
  maximumConnections: number
  /** `wireFormat.maxFrameSize` (bytes), default 100 MiB. */
  maxFrameSize: number
  // The three below are always set by loadConfig; they are optional only so connectors built by hand (tests)
  // stay valid. StompServer uses the same defaults when one is missing.
  /** `transport.connectAttemptTimeout` (ms): a socket that sends no CONNECT within this is closed. Default 30000. */
  connectAttemptTimeout?: number
  /** `transport.defaultHeartBeat` "cx,cy": the heart-beat assumed when CONNECT has none (STOMP 1.0). Default "0,0". */
  defaultHeartBeat?: string
  /** `transport.hbGracePeriodMultiplier`: read timeout = client's cx × this. Default 1.5 (ActiveMQ: 1.0). */
  hbGracePeriodMultiplier?: number
  // Connection fairness (sfbroker extensions, optional for the same reason; defaults: defaultFairness()).
  /** `transport.maximumConnectionsPerAddress`: sockets from one remote IP. Default maximumConnections. */
  maximumConnectionsPerAddress?: number
  /** `transport.maximumPendingConnects`: sockets that have not completed CONNECT. Default maximumConnections / 4. */
  maximumPendingConnects?: number
  /** `transport.maximumPendingConnectsPerAddress`: the same, per remote IP. Default maximumPendingConnects / 2. */
  maximumPendingConnectsPerAddress?: number
  /** Set for the `+ssl` schemes and `wss://` (the keys come from `<sslContext>`); null or absent: no TLS. */
  tls?: ConnectorTlsConfig | null
  // Memory bounds (sfbroker extensions; absent: StompServer's defaults).
  /** `transport.maxReceiveSize`: the receive budget, bytes of large frames being received on this connector. Default 128 MiB. */
  maxReceiveSize?: number
  /** `transport.maxOutboundSize`: bytes queued for one consumer's socket above which dispatch to it pauses. Default 8 MiB. */
  maxOutboundSize?: number
  /**
   * `updateClusterClients` (OpenWire and auto connectors, default false): tell clients the client URLs of the
   * shared-store group (BrokerInfo peers, ConnectionControl) and send the list again when a node joins.
   */
  updateClusterClients?: boolean
  /** `updateClusterClientsOnRemove` (default false): also send the list again when a node leaves the group. */
  updateClusterClientsOnRemove?: boolean
}

/** TLS options of one connector (ActiveMQ's `transport.*` SSLServerSocket names). */
export interface ConnectorTlsConfig {
  /** `transport.needClientAuth`: a client without a certificate the trust store vouches for is refused. */
  needClientAuth: boolean
  /** `transport.wantClientAuth`: a certificate is asked for; one is not required (a bad one is refused). */
  wantClientAuth: boolean
  /** `transport.enabledProtocols`, e.g. ['TLSv1.2', 'TLSv1.3'] (the default). */
  enabledProtocols: string[]
  /** `transport.enabledCipherSuites` as written (IANA/Java names or OpenSSL names); null = the runtime's defaults. */
  enabledCipherSuites: string[] | null
}

/**
 * `<sslContext>`: the broker's key (PKCS#12 `keyStore`, or PEM `keyFile` + `certFile`) and the certificates it
 * trusts for client certificates (PKCS#12 `trustStore`, or PEM `caFile`). Paths are absolute. Passwords are
 * Secrets (never printed). JKS stores are refused when the files are read (src/net/tls-context.ts).
 */
export interface SslContextConfig {
  keyStore: string | null
  keyStorePassword: Secret | null
  trustStore: string | null
  trustStorePassword: Secret | null
  /** sfbroker extensions: PEM files, and the passphrase of an encrypted PEM key. */
  keyFile: string | null
  certFile: string | null
  caFile: string | null
  keyPassword: Secret | null
}

export interface LimitsConfig {
  /** Broker-wide memory for message bodies in RAM (`memoryUsage`), default 256 MiB. */
  memoryLimit: number
  /** Per-destination memory limit (`memoryLimit` policy), default 64 MiB. */
  destinationMemoryLimit: number
  /** `<systemUsage sendFailIfNoSpace>`: a client SEND that finds no memory gets BROKER_LIMIT at once; default false (it waits). */
  sendFailIfNoSpace?: boolean
  /** `<systemUsage sendFailIfNoSpaceAfterTimeout>` (ms): ... after waiting this long; 0 (default) waits without bound. */
  sendFailIfNoSpaceAfterTimeout?: number
  /** *ext* `<systemUsage maxTransactionSize>`: SEND bytes one open transaction may hold; default 128 MiB (broker.ts TX_BYTES_MAX). */
  maxTransactionSize?: number
  /** *ext* `<systemUsage maxTransactionSizePerConnection>`: the same for all open transactions of one connection; default 128 MiB. */
  maxTransactionSizePerConnection?: number
}

/**
 * One `<policyEntry>` of `<destinationPolicy>` (see destination-policy.ts for the matching rules). null = not set
 * by this entry: the built-in default applies (settings are never merged from another entry).
 */
export interface PolicyEntryConfig {
  /** 'queue' or 'topic'; null for the `<defaultEntry>`. */
  kind: 'queue' | 'topic' | null
  /** ActiveMQ pattern as written: ">", "orders.>", "*.in", "ORDERS"; null for the `<defaultEntry>`. */
  pattern: string | null
  /** `memoryLimit` (bytes): this destination's own limit; null → limits.destinationMemoryLimit. */
  memoryLimit: number | null
  /** `queuePrefetch`, `queueBrowserPrefetch`, `topicPrefetch`, `durableTopicPrefetch`: default consumer prefetch. */
  queuePrefetch: number | null
  queueBrowserPrefetch: number | null
  topicPrefetch: number | null
  durableTopicPrefetch: number | null
  // The three below are always set by loadConfig; optional so entries built by hand (tests) stay valid.
  /** `maxDestinations`: at most this many destinations this entry's pattern matches (a `<defaultEntry>`: of its
   *  kind); -1 or null = no limit of its own (ActiveMQ PolicyEntry, 5.12). */
  maxDestinations?: number | null
  /** `gcInactiveDestinations`: remove this destination once it is inactive (see DestinationsConfig). */
  gcInactiveDestinations?: boolean | null
  /** `inactiveTimoutBeforeGC` (ActiveMQ's spelling; `inactiveTimeoutBeforeGC` too), ms; null → 60000. */
  inactiveTimeoutBeforeGC?: number | null
}

export interface DestinationPolicyConfig {
  /** `<policyEntries>` in file order. */
  entries: PolicyEntryConfig[]
  /** `<defaultEntry>`: applies when no entry matches. */
  defaultEntry: PolicyEntryConfig | null
}

export interface AdminConfig {
  /** host:port of the admin HTTP listener (health/status/metrics). */
  host: string
  port: number
  /** `metricsDestinationsMax`: per-destination series in /metrics (top by depth); the rest are counted, not listed.
   *  Always set by loadConfig (default 100); optional so hand-built configs stay valid. */
  metricsDestinationsMax?: number
  /** `writable` / `--admin-writable`: the console's API may change state (send, purge, move, delete, close).
   *  Off by default: until authentication exists anyone who reaches the listener could use it (#18). */
  writable?: boolean
  /** HTTPS (`ssl="true"`): the admin element's own key material, else the broker's `<sslContext>`; null = HTTP. */
  tls?: SslContextConfig | null
  /** `groups`: with security configured, users of these may use everything but /health, writes included. */
  groups?: string[]
  /** `readOnlyGroups`: with security configured, users of these (and of no admin group) may read, never write. */
  readOnlyGroups?: string[]
}

/** Limits on how many destinations exist, and their garbage collection (ActiveMQ's names). */
export interface DestinationsConfig {
  /** `<broker maxDestinations>` (sfbroker extension): queues + topics (temporary ones too) the broker holds; -1 =
   *  no limit. Creating one past it fails with BROKER_LIMIT; recovered ones and the DLQ are always created. */
  maxDestinations: number
  /** `<broker schedulePeriodForDestinationPurge>` ms: how often inactive destinations are looked for; 0 = never
   *  (ActiveMQ's default), so `gcInactiveDestinations` alone does nothing, as in ActiveMQ. */
  schedulePeriodForDestinationPurge: number
  /** `<broker maxPurgedDestinationsPerSweep>`: most destinations removed by one sweep; 0 = no limit (ActiveMQ's default). */
  maxPurgedDestinationsPerSweep: number
}

/** One `<authenticationUser>` of `<simpleAuthenticationPlugin>`. `password` is plain or `scrypt$...`, kept as a
 *  Secret by loadConfig (a plain string only in hand-built configs). */
export interface AuthenticationUserConfig {
  username: string
  password: Secret | string
  groups: string[]
}

/** `<simpleAuthenticationPlugin>` (ActiveMQ's names and defaults). */
export interface SimpleAuthenticationConfig {
  kind: 'simple'
  /** Default false: a CONNECT without login and passcode is refused. */
  anonymousAccessAllowed: boolean
  /** Default "anonymous" (ActiveMQ's anonymousUser / anonymousGroup). */
  anonymousUser: string
  anonymousGroup: string
  users: AuthenticationUserConfig[]
}

/** `<jaasAuthenticationPlugin>` with ActiveMQ's PropertiesLoginModule in `login.config`. */
export interface JaasAuthenticationConfig {
  kind: 'jaas'
  /** `configuration`: the login.config entry to use (ActiveMQ's default "activemq"). */
  configuration: string
  /** Absolute path of login.config: the `loginConfig` attribute (sfbroker extension) or login.config beside the
   *  config file (where ActiveMQ's start script points java.security.auth.login.config). */
  loginConfig: string
}

/** An `<authorizationEntry>`: group names per right ("*" = every user). */
export interface AuthorizationEntryConfig {
  /** null for `<defaultEntry>` and the temporary-destination entry. */
  kind: 'queue' | 'topic' | null
  /** The entry's patterns (a comma list in the attribute gives several), e.g. [">"], ["orders.>", "audit"]. */
  patterns: string[]
  read: string[]
  write: string[]
  admin: string[]
}

/** `<authorizationPlugin><map><authorizationMap>`. */
export interface AuthorizationConfig {
  entries: AuthorizationEntryConfig[]
  defaultEntry: AuthorizationEntryConfig | null
  /** `<tempDestinationAuthorizationEntry>`; null = temporary destinations are not restricted (as ActiveMQ). */
  tempDestinationEntry: AuthorizationEntryConfig | null
}

/** `<plugins>`: the security parts sfbroker implements. */
export interface SecurityConfig {
  authentication: SimpleAuthenticationConfig | JaasAuthenticationConfig | null
  authorization: AuthorizationConfig | null
}

export interface BrokerConfig {
  /** Where this config came from: a file path, or 'embedded default'. */
  source: string
  brokerName: string
  /** `dataDirectory`: parent of the default store and scheduler directories. Default ./data. */
  dataDirectory: string
  /** `persistent` (default true). false = no store at all; messages live in memory only. */
  persistent: boolean
  /** `schedulerSupport` (default false). */
  schedulerSupport: boolean
  /** `schedulerDirectory`, default `<dataDirectory>/scheduler` (no brokerName in the path). */
  schedulerDirectory: string
  persistence: PersistenceConfig
  lock: LockConfig
  connectors: ConnectorConfig[]
  limits: LimitsConfig
  /** `<destinationPolicy>`. Always set by loadConfig (empty when absent); optional so hand-built configs stay valid. */
  destinationPolicy?: DestinationPolicyConfig
  /** maxDestinations and destination GC. Always set by loadConfig; optional so hand-built configs stay valid. */
  destinations?: DestinationsConfig
  admin: AdminConfig | null
  /** `<plugins>` security: authentication and authorization. Always set by loadConfig (null parts when absent);
   *  optional so hand-built configs stay valid. Holds secrets: never log or print it. */
  security?: SecurityConfig
  /** `<sslContext>` (used by `+ssl` connectors); null when absent. Optional so hand-built configs stay valid. */
  sslContext?: SslContextConfig | null
  /** Stable id of this node (persisted under dataDirectory? no: generated per process unless set). */
  nodeId: string | null
}
