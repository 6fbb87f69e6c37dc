/**
 * LevelDbAdapter: the `<levelDB>` persistence adapter, a real LevelDB (classic-level's addon, see native.ts) under
 * `<directory>/leveldb/` (a subdirectory so LevelDB's own `LOCK` and `*.log` files never meet the shared
 * directory's `lock`, `epochs/` or another adapter's journal).
 *
 * Durability: concurrent write() calls are grouped into one LevelDB write batch (group commit: one log append and,
 * under syncPolicy `always`, one fsync for the group). A batch is atomic in LevelDB, also across a crash, so a
 * STOMP transaction's adds and removes land whole or not at all. After the batch is durable the epoch fence is
 * asserted once for the group, and only then do the group's writes resolve (FENCING.md write path).
 * `periodic` writes unsynced and syncs every syncIntervalMs; `never` syncs only on close.
 *
 * Format 2 (keys.ts): each message record holds the model's CoreMessage record. A database sfbroker 0.1.0 wrote is
 * converted on open through OpenOptions.legacyMessage (level-upgrade.ts; refused with STORAGE_FORMAT without it);
 * 0.1.0 refuses a database this version wrote (meta version 2) with STORAGE_FORMAT.
 *
 * Epochs: every batch records the writer's epoch (key `\0batch`, and each message record); open() refuses with
 * STORAGE_FENCED a store whose meta epoch is newer than ours, and records our epoch in meta before any write.
 *
 * It sits behind the shared front (abstract-adapter.ts: lifecycle, op validation, the group-commit queue). What it
 * keeps in memory is level-index.ts; opening the database (lock retry, meta, error codes) is level-open.ts.
 * Messages themselves are read with iterators on load().
 *
 * Damage: what the open found LevelDB dropped from its log, and messages that fail to decode on load(), are
 * logged and kept for stats().integrity by level-integrity.ts (which also says what is not promised there).
 *
 * Fencing limits: LevelDB is a single-writer database guarded by its own `leveldb/LOCK` (fcntl). A deposed primary
 * that still has the store open blocks the new primary's open (retried for lockedRetryMs, then STORAGE_IO); on a
 * filesystem whose locks do not exclude across hosts or mounts, two writers could both open it, and the fence only
 * stops the old one's receipts, not its bytes. There, use kahaDB, whose journals are sealed per epoch.
 */
import { mkdirSync, readdirSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { BrokerError, assert, isBrokerError } from '../../../lib/errors.ts'
import { logger } from '../../../lib/log.ts'
import type { SyncPolicy } from '../../../config/types.ts'
import type {
  OpenOptions,
  RecoveredState,
  RecoveryReport,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from '../../types.ts'
import { AbstractAdapter } from '../../abstract-adapter.ts'
import { SyncLatency } from '../../sync-latency.ts'
import type { BatchOp, NativeDb } from './native.ts'
import { readInfoLog, recoveryFindings, tornReason } from './recovery-findings.ts'
import {
  BATCH_KEY,
  FORMAT_VERSION,
  SEQ_KEY,
  batchValue,
  decodeRecord,
  msgRangeAfter,
  parseDestSeqKey,
  u64,
} from './keys.ts'
import { LevelIndex } from './level-index.ts'
import { LevelIntegrity } from './level-integrity.ts'
import { claimMeta, ioError, openLocked, writeMetaVersion } from './level-open.ts'
import { upgradeV1Records } from './level-upgrade.ts'

const log = logger('storage-leveldb')

/** Subdirectory of OpenOptions.directory holding the LevelDB files. */
export const LEVELDB_SUBDIR = 'leveldb'
/** A group commit takes queued writes up to this many ops ... */
export const GROUP_OPS_MAX = 10_000
/** ... or this many message bytes (a single larger write still goes alone). */
export const GROUP_BYTES_MAX = 64 * 1024 * 1024
export const DEDUPE_WINDOW_DEFAULT = 100_000
export const SYNC_INTERVAL_MS_DEFAULT = 1000
/** stats() reads the directory size at most this often (it is called by status reporting, not per message). */
export const STATS_DISK_CACHE_MS = 1000
/** Default for LevelDbAdapterOptions.lockedRetryMs. */
export const LOCKED_RETRY_MS_DEFAULT = 10_000

export interface LevelDbAdapterOptions {
  /**
   * How long open() keeps retrying while LevelDB's own `LOCK` is held by another process (a deposed primary
   * that is still closing its store after losing the broker lock). 0 = fail at once with STORAGE_IO.
   */
  lockedRetryMs?: number
}
const SYNC_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, Infinity]

interface Pending {
  ops: StoreOp[]
  /** An internal sync request (periodic policy, close). */
  forceSync: boolean
  resolve: (r: WriteResult) => void
  reject: (e: unknown) => void
}

export class LevelDbAdapter extends AbstractAdapter<Pending> {
  readonly kind = 'levelDB' as const
  private db: NativeDb | null = null
  private opts: OpenOptions | null = null
  private levelDir = ''
  private syncPolicy: SyncPolicy = 'always'
  private index = new LevelIndex('', DEDUPE_WINDOW_DEFAULT)
  private unsynced = false
  private syncTimer: ReturnType<typeof setTimeout> | null = null
  private readonly syncLatency = new SyncLatency(SYNC_BUCKETS_MS)
  private diskBytes = 0
  private diskBytesAt = -Infinity
  private readonly lockedRetryMs: number
  /** What this open found damaged (stats().integrity). */
  private readonly integrity = new LevelIntegrity(() => this.levelDir)

  constructor(options: LevelDbAdapterOptions = {}) {
    // One open per adapter object (LevelDB's handle is not reopened); writes of one tick form one group.
    super({ reopenable: false, gatherTick: true })
    this.lockedRetryMs = options.lockedRetryMs ?? LOCKED_RETRY_MS_DEFAULT
    assert(
      Number.isFinite(this.lockedRetryMs) && this.lockedRetryMs >= 0,
      `LevelDbAdapter: lockedRetryMs ${this.lockedRetryMs} is a non-negative number`,
    )
  }

  protected async openStore(opts: OpenOptions): Promise<RecoveredState> {
    assert(
      Number.isInteger(opts.epoch) && opts.epoch >= 0,
      `levelDB open: epoch ${opts.epoch} is a non-negative integer`,
    )
    const started = performance.now()
    this.opts = opts
    this.levelDir = join(opts.directory, LEVELDB_SUBDIR)
    this.syncPolicy = opts.syncPolicy ?? 'always'
    const dedupeWindow = opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT
    assert(
      Number.isInteger(dedupeWindow) && dedupeWindow >= 0,
      `levelDB open: dedupeWindow ${dedupeWindow} is a non-negative integer`,
    )
    this.index = new LevelIndex(this.levelDir, dedupeWindow)
    try {
      mkdirSync(this.levelDir, { recursive: true })
    } catch (e) {
      throw new BrokerError('STORAGE_IO', `levelDB open: cannot create ${this.levelDir}: ${(e as Error).message}`, {
        cause: e,
      })
    }
    const { db, scans } = await openLocked(this.levelDir, this.lockedRetryMs, started)
    this.db = db
    const nativeOpenMs = performance.now() - started
    try {
      // This open's LOG: what LevelDB itself reported dropping, and which logs it replayed.
      const { tornTail, corrupt } = recoveryFindings(scans, await readInfoLog(this.levelDir))
      this.integrity.opened(tornTail, corrupt, tornReason(scans, tornTail))
      const version = await claimMeta(db, this.levelDir, opts.epoch, opts.legacyMessage !== undefined)
      if (version !== FORMAT_VERSION) {
        const up = await upgradeV1Records(db, this.levelDir, opts.epoch, opts.legacyMessage!)
        corrupt.push(...up.corrupt)
        await writeMetaVersion(db, opts.epoch, FORMAT_VERSION)
      }
      const replayed = await this.index.recover(db)
      const report: RecoveryReport = {
        durationMs: performance.now() - started,
        recordsReplayed: replayed,
        tornTail,
        corrupt,
        fencedRecordsIgnored: 0,
      }
      log.info(`opened ${this.levelDir}`, {
        epoch: opts.epoch,
        messages: this.index.messageCount(),
        destinations: this.index.dests.size,
        durationMs: Math.round(report.durationMs),
        nativeOpenMs: Math.round(nativeOpenMs),
      })
      return {
        destinations: this.index.summaries().filter((d) => d.count > 0),
        subscriptions: [...this.index.subs.values()],
        report,
      }
    } catch (e) {
      this.db = null
      await db.close().catch(() => {})
      throw ioError(`open ${this.levelDir}`, e)
    }
  }

  protected override started(): void {
    if (this.syncPolicy === 'periodic') this.armSyncTimer()
  }

  protected writeStore(ops: StoreOp[]): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => this.queue.push({ ops, forceSync: false, resolve, reject }))
  }

  /** Cut the next group (GROUP_OPS_MAX ops or GROUP_BYTES_MAX message bytes, at least one write) and commit it. */
  protected override async commitNext(): Promise<void> {
    const queue = this.queue.writes
    const group: Pending[] = []
    let nOps = 0
    let nBytes = 0
    while (queue.length > 0) {
      const p = queue[0]
      const b = p.ops.reduce((a, o) => a + (o.op === 'add' ? o.message.body.length : 0), 0)
      if (group.length > 0 && (nOps + p.ops.length > GROUP_OPS_MAX || nBytes + b > GROUP_BYTES_MAX)) break
      group.push(queue.shift()!)
      nOps += p.ops.length
      nBytes += b
    }
    await this.commitGroup(group)
  }

  /** Refuse everything from now on with `err`: the queued writes and the group being committed. */
  private failWith(err: BrokerError, group: Pending[]): void {
    this.enterFailed(err)
    for (const p of group) p.reject(err)
    for (const p of this.queue.writes.splice(0)) p.reject(err)
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    const epoch = this.opts!.epoch
    const batch: BatchOp[] = []
    const results: WriteResult[] = []
    const seqBefore = this.index.lastSeq
    try {
      for (const p of group) {
        const seqs: number[] = []
        for (const o of p.ops) this.index.apply(o, epoch, batch, seqs)
        results.push({ seqs })
      }
      this.index.evictDedupe(batch)
    } catch (e) {
      // A bug: the index may hold part of the group, so refuse everything from now on.
      const err = ioError('build batch', e)
      this.failWith(err, group)
      this.opts!.onFatalError?.(err)
      return
    }
    const sync = this.syncPolicy === 'always' || group.some((p) => p.forceSync)
    if (batch.length === 0 && !sync) {
      for (let i = 0; i < group.length; i++) group[i].resolve(results[i])
      return
    }
    if (this.index.lastSeq !== seqBefore) batch.push({ type: 'put', key: SEQ_KEY, value: u64(this.index.lastSeq) })
    batch.push({ type: 'put', key: BATCH_KEY, value: batchValue(epoch, ++this.index.group) })
    const t0 = performance.now()
    try {
      await this.db!.batch(batch, sync)
    } catch (e) {
      // The in-memory index already holds this group: the store is no longer trustworthy. Self-fence.
      const err = ioError('write batch', e)
      log.error('write batch failed; store refuses further writes', err, { directory: this.where })
      this.failWith(err, group)
      this.opts!.onFatalError?.(err)
      return
    }
    if (sync) {
      this.syncLatency.record(performance.now() - t0)
      this.unsynced = false
    } else this.unsynced = true
    try {
      await this.opts!.fence?.assertCurrent()
    } catch (e) {
      const err = isBrokerError(e)
        ? e
        : new BrokerError('ELECTION_FENCED', `levelDB ${this.where}: epoch fence failed: ${(e as Error).message}`, {
            cause: e,
          })
      log.warn('epoch fence refused a durable group; no receipt is sent for it', {
        directory: this.where,
        writes: group.length,
      })
      this.failWith(err, group)
      return
    }
    for (let i = 0; i < group.length; i++) group[i].resolve(results[i])
  }

  /** An internal synced group (periodic policy, close): makes every earlier unsynced batch durable. */
  private requestSync(): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => this.queue.push({ ops: [], forceSync: true, resolve, reject }))
  }

  private armSyncTimer(): void {
    const ms = this.opts?.syncIntervalMs ?? SYNC_INTERVAL_MS_DEFAULT
    assert(ms > 0, `levelDB: syncIntervalMs ${ms} is positive`)
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null
      if (!this.isOpen) return
      const p = this.unsynced ? this.requestSync().then(() => {}) : Promise.resolve()
      p.catch((e) => log.warn('periodic sync failed', e)).finally(() => {
        if (this.isOpen) this.armSyncTimer()
      })
    }, ms)
    ;(this.syncTimer as { unref?: () => void }).unref?.()
  }

  protected async loadStore(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    const d = this.index.dests.get(destination)
    if (!d || d.msgs.size === 0 || afterSeq >= this.index.lastSeq) return []
    const out: StoredMessage[] = []
    let after = Math.max(0, Math.floor(afterSeq))
    // Bounded: a turn that returns fewer records than asked ends it; a full one moves `after` past them all.
    for (;;) {
      const want = limit - out.length
      let seen = 0
      try {
        await this.db!.scan({ ...msgRangeAfter(d.id, after), limit: want }, (k, v) => {
          seen++
          const { seq } = parseDestSeqKey(k)
          after = seq
          try {
            out.push({ seq, message: decodeRecord(k, v!, this.opts!.legacyMessage) })
          } catch (e) {
            if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
            this.integrity.corruptMessage(k, destination, seq, e.message)
          }
        })
      } catch (e) {
        throw ioError(`load ${destination}`, e)
      }
      if (seen < want || out.length >= limit) break
    }
    return out
  }

  protected isDuplicateStore(key: string): boolean {
    return this.index.isDuplicate(key)
  }

  protected statsStore(): StoreStats {
    const now = performance.now()
    if (now - this.diskBytesAt >= STATS_DISK_CACHE_MS && this.levelDir && existsSync(this.levelDir)) {
      let bytes = 0
      try {
        for (const f of readdirSync(this.levelDir)) {
          try {
            bytes += statSync(join(this.levelDir, f)).size
          } catch {
            // A file compacted away between readdir and stat: not counted.
          }
        }
        this.diskBytes = bytes
        this.diskBytesAt = now
      } catch (e) {
        log.debug('stats: cannot read directory size', e)
      }
    }
    return {
      adapter: this.kind,
      directory: this.where,
      bytes: this.diskBytes,
      messages: this.index.messageCount(),
      destinations: this.index.summaries().filter((d) => d.count > 0),
      ...this.syncLatency.snapshot(),
      integrity: this.integrity.snapshot(),
    }
  }

  /** LevelDB has no index to checkpoint: make every batch so far durable (a synced group). */
  protected async checkpointStore(): Promise<void> {
    await this.requestSync()
  }

  protected async closeStore(wasOpen: boolean): Promise<void> {
    if (this.syncTimer) clearTimeout(this.syncTimer)
    this.syncTimer = null
    // Writes queued before close complete (or fail with a code); a final sync covers unsynced policies.
    if (wasOpen && this.syncPolicy !== 'always' && this.unsynced) {
      this.queue.push({ ops: [], forceSync: true, resolve: () => {}, reject: (e) => log.warn('final sync failed', e) })
    }
    await this.queue.whenIdle()
    const db = this.db
    this.db = null
    if (db) {
      try {
        await db.close()
      } catch (e) {
        throw ioError(`close ${this.levelDir}`, e)
      }
    }
  }
}
