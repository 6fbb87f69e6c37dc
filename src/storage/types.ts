/**
 * The persistence-adapter contract: the only storage API the broker and the scheduler use.
 * Storage knows no destination semantics: a "destination" here is an opaque key chosen by the broker
 * (e.g. `queue://ORDERS`, `durable://client-1:sub-a`, `job://scheduler`). Per key, messages are kept in the
 * order the store assigned their `seq`.
 *
 * Durability: `write()` resolves only when the batch is on disk per the sync policy AND the epoch fence
 * confirmed that no newer primary exists (see shared design FENCING.md). The broker sends a receipt only then.
 */
import type { SyncPolicy, AdapterKind } from '../config/types.ts'
import type { CoreMessage } from '../model/index.ts'

/**
 * A message as stored: the protocol-neutral CoreMessage (src/model), kept whole (typed properties, body kind,
 * producer identity, origin). `seq` is assigned by the store on `add` (strictly increasing across the whole store).
 */
export interface StoredMessage {
  seq: number
  message: CoreMessage
}

/**
 * Reads one message record written by sfbroker 0.1.0 (format 1: the normalised STOMP header map and the body) into
 * a CoreMessage. The owner of the records knows what they mean: the broker store passes the STOMP mapping's
 * `fromLegacyStored`, the scheduler store its own job converter.
 */
export type LegacyMessageReader = (messageId: string, headers: Record<string, string>, body: Uint8Array) => CoreMessage

export interface DurableSubscriptionRecord {
  clientId: string
  subscriptionName: string
  /** The topic, e.g. `/topic/PRICES`. */
  destination: string
  selector: string | null
  noLocal: boolean
  /** The store key its messages are kept under. */
  storeKey: string
  createdAt: number
}

/** One operation of an atomic batch. */
export type StoreOp =
  | { op: 'add'; destination: string; message: CoreMessage }
  | { op: 'remove'; destination: string; seq: number }
  | { op: 'putSubscription'; subscription: DurableSubscriptionRecord }
  | { op: 'removeSubscription'; clientId: string; subscriptionName: string }
  /** Drop every message of a destination (purge, or deleting a durable subscription). */
  | { op: 'purge'; destination: string }

export interface WriteResult {
  /** The seq assigned to each `add` op, in the order of the add ops in the batch. */
  seqs: number[]
}

/** Fencing hook provided by the election: throws BrokerError('ELECTION_FENCED') when a newer epoch exists. */
export interface EpochFence {
  /** Called once per group commit, after the data is durable and before any write() of the group resolves. */
  assertCurrent(): Promise<void>
}

export interface OpenOptions {
  /** The adapter directory (created if missing). */
  directory: string
  /** The writer's epoch. Every record written carries it. */
  epoch: number
  /** Optional; without it the store is unfenced (tests, single broker). */
  fence?: EpochFence
  syncPolicy?: SyncPolicy
  /** periodic sync interval, ms */
  syncIntervalMs?: number
  /** kahaDB/amq segment size, bytes */
  journalMaxFileLength?: number
  /** kahaDB index checkpoint period, ms (0 = only on close) */
  checkpointIntervalMs?: number
  /** journal GC period, ms */
  cleanupIntervalMs?: number
  /** How many recent dedupe keys the dedupe record keeps (default 100_000, like a producer audit window). */
  dedupeWindow?: number
  /**
   * Converts records of the 0.1.0 format met on open or load (see LegacyMessageReader). Without it such a record
   * is STORAGE_FORMAT: the store refuses to guess what an old record meant.
   */
  legacyMessage?: LegacyMessageReader
  /** Called when the store hits an I/O error it cannot recover from (disk full, EIO): the node self-fences. */
  onFatalError?: (err: Error) => void
  /**
   * A warm replica's reader of this directory (from `standby()` of the same adapter kind). open() adopts its index
   * and replays only what was written after its position, re-validating those bytes (checksums, seals, torn tail)
   * as a cold open does. On any doubt (another directory or adapter, a segment it did not see, a position past a
   * seal) open() logs why and recovers cold. The reader is consumed either way: open() closes it.
   */
  standby?: StandbyReader
}

/** Options of a read-only standby reader (warm replica). */
export interface StandbyOptions {
  directory: string
  /** Must equal the `dedupeWindow` the store will be opened with, else open() recovers cold. */
  dedupeWindow?: number
  /** As OpenOptions.legacyMessage: the reader of 0.1.0 records it meets while tailing. */
  legacyMessage?: LegacyMessageReader
}

/** What one `poll()` of a standby reader did. */
export interface StandbyProgress {
  recordsApplied: number
  bytesRead: number
  /** Why the reader threw its state away and rebuilt it this poll (a segment gone before it was read, ...), else null. */
  resynced: string | null
  /** The first record it could not use yet (incomplete, not yet visible, or damaged): retried next poll. */
  waitingAt: { file: string; offset: number; reason: string } | null
}

export interface StandbyStats {
  adapter: AdapterKind
  directory: string
  /** False until the first successful poll. */
  ready: boolean
  messages: number
  destinations: number
  /** Next journal position to read ({segment id, byte offset}), null before the first poll. */
  position: { file: number; offset: number } | null
  recordsApplied: number
  bytesRead: number
  resyncs: number
  /** Estimated bytes of RAM its index holds (columns and dedupe ids; no message bodies). */
  indexBytes: number
}

/**
 * A warm replica's view of a store it does not own: it follows what the primary writes, strictly read-only (no
 * write, fsync, truncation or file creation; a torn or half-visible tail is "not yet complete", retried later).
 */
export interface StandbyReader {
  readonly kind: AdapterKind
  readonly directory: string
  /** Catch up with the store. `signal.aborted` set meanwhile makes it stop early at a record boundary. */
  poll(signal?: { aborted: boolean }): Promise<StandbyProgress>
  stats(): StandbyStats
  close(): Promise<void>
}

export interface DestinationSummary {
  destination: string
  count: number
  bytes: number
}

export interface RecoveryReport {
  durationMs: number
  /** Journal records (or log entries) replayed on open. */
  recordsReplayed: number
  /** A partial record cut from the end of the journal. */
  tornTail: { file: string; offset: number; bytes: number } | null
  /** Records with a bad CRC or unreadable content before the tail: reported, never silently skipped. */
  corrupt: { file: string; offset: number; reason: string }[]
  /** Records of an older epoch written after a newer epoch began: ignored and counted. */
  fencedRecordsIgnored: number
}

export interface RecoveredState {
  destinations: DestinationSummary[]
  subscriptions: DurableSubscriptionRecord[]
  report: RecoveryReport
}

export interface StoreStats {
  adapter: AdapterKind
  directory: string
  /** Bytes on disk used by the store. */
  bytes: number
  messages: number
  destinations: DestinationSummary[]
  /** fsync/fdatasync calls since open. */
  syncs: number
  /** Histogram of sync latency: upper bounds in ms -> cumulative count (Prometheus style, includes +Inf). */
  syncLatencyMs: { le: number; count: number }[]
  syncLatencySumMs: number
  /** What the store found wrong with its own bytes since open (optional: adapters that check their data report it). */
  integrity?: StoreIntegrity
}

/**
 * Damage a store found in its own files, for logs, `store-summary.json` and `sfbroker status`: nothing found corrupt
 * is ever dropped silently. A corrupt message is not served (its bytes cannot be trusted) but stays in the store,
 * counted in its destination, and is reported again on every open that reads it.
 */
export interface StoreIntegrity {
  /** Corrupt records or messages found at recovery, by the background verification, or by load(); the first 100. */
  corrupt: { file: string; offset: number; reason: string }[]
  /** How many were found in all (corrupt holds at most the first 100). */
  corruptCount: number
  /** The partial record cut from the end of the journal at recovery, if any. */
  tornTail: RecoveryReport['tornTail']
  fencedRecordsIgnored: number
  /**
   * Background check of the messages recovery did not re-read (kahaDB: those before the checkpoint):
   * 'running', 'done', 'stopped' (closed first) or 'not-needed' (recovery read every record, e.g. amq).
   */
  verification: 'running' | 'done' | 'stopped' | 'not-needed'
  verifiedMessages: number
}

export interface PersistenceAdapter {
  readonly kind: AdapterKind
  /** Open (creating if missing) and recover. Throws STORAGE_FORMAT for a newer or foreign format. */
  open(opts: OpenOptions): Promise<RecoveredState>
  /** Apply a batch atomically (all or nothing, also across a crash). Resolves when durable and fenced. */
  write(ops: StoreOp[]): Promise<WriteResult>
  /**
   * Messages of `destination` with seq > afterSeq, in seq order, at most `limit` (paging for deep queues); fewer
   * than `limit` only when no more exist. A message whose bytes fail their CRC is reported (log, stats().integrity)
   * and skipped, not returned: one rotten message must not make the whole store unusable.
   */
  load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]>
  /**
   * Whether a dedupe key was recently added (producer dedupe record; survives reopen and failover). The store records
   * the model's `dedupeKey(message)` of every add that has one (messages without a producer identity are not
   * recorded); 0.1.0 records held client message ids, which are the same strings for STOMP producers.
   */
  isDuplicate(key: string): boolean
  stats(): StoreStats
  /** Flush the index so that recovery replays only the journal tail. */
  checkpoint(): Promise<void>
  /** After close(), every call fails with STORAGE_CLOSED. Pending writes are completed or rejected, never lost silently. */
  close(): Promise<void>
  /**
   * Optional (warm replicas): a read-only reader that keeps this adapter's index of `directory` current while the
   * node waits, to be passed to open() as `standby`. Absent: the adapter supports only a cold open.
   */
  standby?(opts: StandbyOptions): StandbyReader
}
