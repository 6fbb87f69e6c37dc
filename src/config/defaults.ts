/**
 * The embedded defaults: what `sfbroker run` uses with no config file, and what fills every setting a file
 * leaves out. sfbroker's defaults differ from ActiveMQ's where ActiveMQ's are unsafe for shared-storage HA:
 * lockKeepAlivePeriod is 1000 ms (ActiveMQ: 0, i.e. a primary never notices losing its lock) and the store
 * and scheduler live directly under dataDirectory, with no brokerName in the path, so every node of a pair
 * sees the same ones.
 */
export const DEFAULTS = {
  brokerName: 'localhost',
  dataDirectory: './data',
  persistent: true,
  schedulerSupport: false,
  /** Relative to dataDirectory. */
  schedulerDirectoryName: 'scheduler',
  restartAllowed: true,
  adapter: 'kahaDB',
  journalMaxFileLength: 32 * 1024 * 1024,
  journalDiskSyncStrategy: 'always',
  journalDiskSyncInterval: 1000,
  checkpointInterval: 5000,
  cleanupInterval: 30000,
  useLock: true,
  lockType: 'flock',
  lockKeepAlivePeriod: 1000,
  lockAcquireSleepInterval: 1000,
  blockingWait: true,
  failIfLocked: false,
  failback: false,
  eventLoopStallMax: 10000,
  connectorName: 'stomp',
  connectorUri: 'stomp://127.0.0.1:61613',
  memoryLimit: 256 * 1024 * 1024,
  destinationMemoryLimit: 64 * 1024 * 1024,
  /** sfbroker's broker-wide destination limit (ActiveMQ has none): queues + topics, temporary ones included. */
  maxDestinations: 10_000,
  /** ActiveMQ's default: no destination GC sweep. */
  schedulePeriodForDestinationPurge: 0,
  maxPurgedDestinationsPerSweep: 0,
  /** ActiveMQ's BaseDestination.DEFAULT_INACTIVE_TIMEOUT_BEFORE_GC (its docs say 5000; the code says 60000). */
  inactiveTimeoutBeforeGC: 60_000,
  /** Per-destination series in /metrics before the rest are only counted (Prometheus cardinality advice). */
  metricsDestinationsMax: 100,
  /** Users of these groups may use the admin endpoint (all but /health) when security is configured. */
  adminGroups: 'admins',
} as const
