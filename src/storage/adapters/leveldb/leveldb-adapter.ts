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
 * Epochs: every batch records the writer's epoch (key `\0batch`, and each message record); open() refuses with
 * STORAGE_FENCED a store whose meta epoch is newer than ours, and records our epoch in meta before any write.
 *
 * In memory we keep, per destination, each live message's seq and record size (for stats, removes and purge
 * without reading records), the subscription records and the dedupe window. Messages themselves are read with
 * iterators on load().
 *
 * Damage: LevelDB (paranoid_checks off) drops damaged write-ahead log records on open and opens anyway. The open
 * reports what it dropped (recovery-findings.ts): a torn tail of the newest log and zero-filled headers, which
 * LevelDB drops silently, found by scanning the log headers right before the open; and the ranges LevelDB itself
 * logs to `leveldb/LOG` as "dropping N bytes; Corruption: ..." (bad CRC and the like), read right after it. They
 * come back in RecoveryReport (`tornTail`, `corrupt`), are logged here, and stay in stats().integrity for status.
 * Not promised: the offset of a LevelDB-reported drop (LevelDB does not log it: -1, said in the reason); keeping
 * damaged bytes on disk (LevelDB compacts the replayed log into a table and deletes it, so a finding is reported
 * by the open that found it only); finding damage in table (`*.ldb`) files: LevelDB is opened without
 * paranoid_checks, so it does not verify table block CRCs; a malformed block fails the read (STORAGE_CORRUPT_RECORD)
 * but a flipped bit inside a value can go unnoticed.
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
  DestinationSummary,
  DurableSubscriptionRecord,
  OpenOptions,
  PersistenceAdapter,
  RecoveredState,
  RecoveryReport,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from '../../types.ts'
import { NativeDb, type BatchOp } from './native.ts'
import { readInfoLog, recoveryFindings, scanWriteAheadLogs, tornReason, type WalScan } from './recovery-findings.ts'
import {
  BATCH_KEY,
  FORMAT_NAME,
  FORMAT_VERSION,
  META_KEY,
  P_DEDUPE,
  P_DEST,
  P_INDEX,
  P_SUB,
  SEQ_KEY,
  batchValue,
  decodeMessage,
  dedupeKey,
  destFromKey,
  destKey,
  encodeMessage,
  indexKey,
  msgKey,
  msgRangeAfter,
  parseDestSeqKey,
  prefixRange,
  readU64At,
  subKey,
  u32,
  u64,
  type Meta,
} from './keys.ts'

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
/** Default for LevelDbAdapterOptions.lockedRetryMs, and the pause between attempts. */
export const LOCKED_RETRY_MS_DEFAULT = 10_000
const LOCKED_RETRY_PAUSE_MS = 100
/** stats().integrity lists at most this many corrupt findings (all are logged and counted). */
export const CORRUPT_REPORT_MAX = 100

export interface LevelDbAdapterOptions {
  /**
   * How long open() keeps retrying while LevelDB's own `LOCK` is held by another process (a deposed primary
   * that is still closing its store after losing the broker lock). 0 = fail at once with STORAGE_IO.
   */
  lockedRetryMs?: number
}
const SYNC_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, Infinity]

interface DestState {
  id: number
  /** seq -> record bytes */
  msgs: Map<number, number>
  bytes: number
}

interface Pending {
  ops: StoreOp[]
  /** An internal sync request (periodic policy, close). */
  forceSync: boolean
  resolve: (r: WriteResult) => void
  reject: (e: unknown) => void
}

type Phase = 'new' | 'opening' | 'open' | 'closing' | 'closed'

function ioError(where: string, e: unknown): BrokerError {
  if (e instanceof BrokerError) return e
  const code = (e as { code?: string }).code
  const msg = (e as Error)?.message ?? String(e)
  if (code === 'LEVEL_CORRUPTION')
    return new BrokerError('STORAGE_CORRUPT_RECORD', `levelDB ${where}: ${msg}`, {
      cause: e,
      details: { levelCode: code },
    })
  if (code === 'LEVEL_LOCKED') {
    return new BrokerError(
      'STORAGE_IO',
      `levelDB ${where}: the database is open in another process (${msg}); expected it free after taking the broker lock`,
      { cause: e, details: { levelCode: code } },
    )
  }
  return new BrokerError('STORAGE_IO', `levelDB ${where}: ${msg}`, { cause: e, details: { levelCode: code } })
}

export class LevelDbAdapter implements PersistenceAdapter {
  readonly kind = 'levelDB' as const
  private phase: Phase = 'new'
  private db: NativeDb | null = null
  private opts: OpenOptions | null = null
  private directory = ''
  private levelDir = ''
  private syncPolicy: SyncPolicy = 'always'
  private dedupeWindow = DEDUPE_WINDOW_DEFAULT

  private dests = new Map<string, DestState>()
  private nextDestId = 1
  private subs = new Map<string, DurableSubscriptionRecord>()
  private lastSeq = 0
  private group = 0
  /** Dedupe window: id -> seq of its newest record; FIFO of (seq, id), oldest at `dedupeHead`. */
  private dedupe = new Map<string, number>()
  private dedupeFifo: [number, string][] = []
  private dedupeHead = 0

  private queue: Pending[] = []
  private flushing: Promise<void> | null = null
  /** Set once a batch failed (store state unknown) or the fence refused: every later write rejects with it. */
  private failed: BrokerError | null = null
  private unsynced = false
  private syncTimer: ReturnType<typeof setTimeout> | null = null

  private syncs = 0
  private syncBuckets = SYNC_BUCKETS_MS.map(() => 0)
  private syncSumMs = 0
  private diskBytes = 0
  private diskBytesAt = -Infinity
  private readonly lockedRetryMs: number
  /** What this open found LevelDB dropped (stats().integrity). */
  private tornTail: RecoveryReport['tornTail'] = null
  private corrupt: RecoveryReport['corrupt'] = []

  constructor(options: LevelDbAdapterOptions = {}) {
    this.lockedRetryMs = options.lockedRetryMs ?? LOCKED_RETRY_MS_DEFAULT
    assert(
      Number.isFinite(this.lockedRetryMs) && this.lockedRetryMs >= 0,
      `LevelDbAdapter: lockedRetryMs ${this.lockedRetryMs} is a non-negative number`,
    )
  }

  async open(opts: OpenOptions): Promise<RecoveredState> {
    if (this.phase !== 'new')
      throw new BrokerError(
        'STORAGE_CLOSED',
        `levelDB store ${this.directory}: open() called twice; create a new adapter to reopen`,
      )
    assert(
      Number.isInteger(opts.epoch) && opts.epoch >= 0,
      `levelDB open: epoch ${opts.epoch} is a non-negative integer`,
    )
    this.phase = 'opening'
    const started = performance.now()
    this.opts = opts
    this.directory = opts.directory
    this.levelDir = join(opts.directory, LEVELDB_SUBDIR)
    this.syncPolicy = opts.syncPolicy ?? 'always'
    this.dedupeWindow = opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT
    assert(
      Number.isInteger(this.dedupeWindow) && this.dedupeWindow >= 0,
      `levelDB open: dedupeWindow ${this.dedupeWindow} is a non-negative integer`,
    )
    try {
      mkdirSync(this.levelDir, { recursive: true })
    } catch (e) {
      this.phase = 'closed'
      throw new BrokerError('STORAGE_IO', `levelDB open: cannot create ${this.levelDir}: ${(e as Error).message}`, {
        cause: e,
      })
    }
    let db: NativeDb | null = null
    let scans: WalScan[] = []
    // Bounded by time (lockedRetryMs) and count.
    for (let attempt = 0; db === null; attempt++) {
      try {
        // The logs LevelDB is about to replay, as they are just before this attempt (it drops a torn tail silently).
        scans = await scanWriteAheadLogs(this.levelDir)
        db = await NativeDb.open(this.levelDir)
      } catch (e) {
        const locked = (e as { code?: string }).code === 'LEVEL_LOCKED'
        const waited = performance.now() - started
        if (
          !locked ||
          waited + LOCKED_RETRY_PAUSE_MS > this.lockedRetryMs ||
          attempt > this.lockedRetryMs / LOCKED_RETRY_PAUSE_MS + 1
        ) {
          this.phase = 'closed'
          throw ioError(`open ${this.levelDir}${locked && attempt > 0 ? ` (retried ${Math.round(waited)} ms)` : ''}`, e)
        }
        if (attempt === 0)
          log.warn(`${this.levelDir} is locked by another process; retrying for up to ${this.lockedRetryMs} ms`)
        await new Promise((r) => setTimeout(r, LOCKED_RETRY_PAUSE_MS))
      }
    }
    this.db = db
    const nativeOpenMs = performance.now() - started
    try {
      // This open's LOG: what LevelDB itself reported dropping, and which logs it replayed.
      const { tornTail, corrupt } = recoveryFindings(scans, await readInfoLog(this.levelDir))
      this.reportFindings(tornTail, corrupt, tornReason(scans, tornTail))
      const replayed = await this.recover(db, opts.epoch)
      this.phase = 'open'
      if (this.syncPolicy === 'periodic') this.armSyncTimer()
      const report: RecoveryReport = {
        durationMs: performance.now() - started,
        recordsReplayed: replayed,
        tornTail,
        corrupt,
        fencedRecordsIgnored: 0,
      }
      log.info(`opened ${this.levelDir}`, {
        epoch: opts.epoch,
        messages: this.messageCount(),
        destinations: this.dests.size,
        durationMs: Math.round(report.durationMs),
        nativeOpenMs: Math.round(nativeOpenMs),
      })
      return {
        destinations: this.summaries().filter((d) => d.count > 0),
        subscriptions: [...this.subs.values()],
        report,
      }
    } catch (e) {
      this.phase = 'closed'
      this.db = null
      await db.close().catch(() => {})
      throw ioError(`open ${this.levelDir}`, e)
    }
  }

  /** Keep the open's findings for stats() and log each one (error for lost records, warn for a torn tail). */
  private reportFindings(
    tornTail: RecoveryReport['tornTail'],
    corrupt: RecoveryReport['corrupt'],
    why: string | undefined,
  ): void {
    this.tornTail = tornTail
    this.corrupt = corrupt
    for (const c of corrupt)
      log.error(
        `store ${this.levelDir}: log records dropped at recovery, not replayed: ${c.file}:${c.offset}: ${c.reason}`,
      )
    if (tornTail) {
      // Never acknowledged under syncPolicy always (receipts follow the sync); under periodic/never it may have been.
      log.warn(
        `store ${this.levelDir}: torn tail cut off: ${tornTail.file}:${tornTail.offset} (${tornTail.bytes} bytes${why ? `; ${why}` : ''})`,
      )
    }
  }

  /** Read meta (format, epoch), claim our epoch, then rebuild the in-memory index. Returns keys scanned. */
  private async recover(db: NativeDb, epoch: number): Promise<number> {
    let metaRaw: Buffer | undefined
    let otherKeys = 0
    await db.scan({ gte: META_KEY, lte: META_KEY }, (_k, v) => (metaRaw = v))
    if (metaRaw === undefined) {
      otherKeys = await db.scan({ limit: 1, keysOnly: true }, () => {})
      if (otherKeys > 0)
        throw new BrokerError(
          'STORAGE_FORMAT',
          `levelDB ${this.levelDir}: a LevelDB database without sfbroker meta (foreign format); expected an empty directory or a ${FORMAT_NAME} store`,
        )
    } else {
      let meta: Partial<Meta>
      try {
        meta = JSON.parse(metaRaw.toString('utf8')) as Partial<Meta>
      } catch {
        throw new BrokerError(
          'STORAGE_FORMAT',
          `levelDB ${this.levelDir}: meta record is not JSON (foreign format); expected ${FORMAT_NAME} version ${FORMAT_VERSION}`,
        )
      }
      if (meta.format !== FORMAT_NAME) {
        throw new BrokerError(
          'STORAGE_FORMAT',
          `levelDB ${this.levelDir}: meta format "${String(meta.format)}", expected "${FORMAT_NAME}"`,
        )
      }
      if (meta.version !== FORMAT_VERSION) {
        throw new BrokerError(
          'STORAGE_FORMAT',
          `levelDB ${this.levelDir}: format version ${String(meta.version)}, this broker reads version ${FORMAT_VERSION}`,
        )
      }
      if (typeof meta.epoch === 'number' && meta.epoch > epoch) {
        throw new BrokerError(
          'STORAGE_FENCED',
          `levelDB ${this.levelDir}: store written under epoch ${meta.epoch}, newer than ours (${epoch}); a newer primary exists`,
          {
            details: { storeEpoch: meta.epoch, epoch },
          },
        )
      }
    }
    const meta: Meta = { format: FORMAT_NAME, version: FORMAT_VERSION, epoch, createdAt: Date.now() }
    await db.batch([{ type: 'put', key: META_KEY, value: Buffer.from(JSON.stringify(meta), 'utf8') }], true)

    let n = 0
    await db.scan({ gte: SEQ_KEY, lte: SEQ_KEY }, (_k, v) => (this.lastSeq = readU64At(v!, 0)))
    await db.scan({ gte: BATCH_KEY, lte: BATCH_KEY }, (_k, v) => (this.group = readU64At(v!, 4)))
    const byId = new Map<number, DestState>()
    n += await db.scan(prefixRange(P_DEST), (k, v) => {
      const id = v!.readUInt32BE(0)
      const d: DestState = { id, msgs: new Map(), bytes: 0 }
      this.dests.set(destFromKey(k), d)
      byId.set(id, d)
      this.nextDestId = Math.max(this.nextDestId, id + 1)
    })
    // Hot loop of recovery (one call per stored message): no allocation beyond the Map entry.
    let cur: DestState | undefined
    let curId = -1
    n += await db.scan(prefixRange(P_INDEX), (k, v) => {
      if (k.length !== 13 || !v || v.length !== 4)
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `levelDB ${this.levelDir}: index entry ${k.toString('hex')} malformed`,
        )
      const destId = k.readUInt32BE(1)
      const seq = k.readUInt32BE(5) * 0x1_0000_0000 + k.readUInt32BE(9)
      const size = v.readUInt32BE(0)
      if (destId !== curId) {
        cur = byId.get(destId)
        curId = destId
        if (!cur)
          throw new BrokerError(
            'STORAGE_CORRUPT_RECORD',
            `levelDB ${this.levelDir}: message seq ${seq} belongs to unknown destination id ${destId}`,
          )
      }
      cur!.msgs.set(seq, size)
      cur!.bytes += size
      if (seq > this.lastSeq) this.lastSeq = seq
    })
    n += await db.scan(prefixRange(P_SUB), (k, v) => {
      try {
        const rec = JSON.parse(v!.toString('utf8')) as DurableSubscriptionRecord
        this.subs.set(subKey(rec.clientId, rec.subscriptionName).toString('latin1'), rec)
      } catch (e) {
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `levelDB ${this.levelDir}: subscription record ${k.toString('hex')} is not JSON`,
          { cause: e },
        )
      }
    })
    n += await db.scan(prefixRange(P_DEDUPE), (k, v) => {
      const seq = readU64At(k, 1)
      const id = v!.toString('utf8')
      this.dedupeFifo.push([seq, id])
      this.dedupe.set(id, seq)
    })
    // A smaller window than last time: drop the oldest now, durably.
    const trim: BatchOp[] = []
    this.evictDedupe(trim)
    if (trim.length > 0) await db.batch(trim, true)
    return n
  }

  private evictDedupe(out: BatchOp[]): void {
    while (this.dedupeFifo.length - this.dedupeHead > this.dedupeWindow) {
      const [seq, id] = this.dedupeFifo[this.dedupeHead++]
      out.push({ type: 'del', key: dedupeKey(seq) })
      if (this.dedupe.get(id) === seq) this.dedupe.delete(id)
    }
    // Compact the FIFO now and then instead of shifting per eviction.
    if (this.dedupeHead > 1024 && this.dedupeHead * 2 > this.dedupeFifo.length) {
      this.dedupeFifo = this.dedupeFifo.slice(this.dedupeHead)
      this.dedupeHead = 0
    }
  }

  private checkOpen(what: string): void {
    if (this.phase !== 'open') {
      throw new BrokerError(
        'STORAGE_CLOSED',
        `levelDB store ${this.directory || '(never opened)'}: ${what} while ${this.phase === 'new' ? 'not yet open' : this.phase}`,
      )
    }
  }

  write(ops: StoreOp[]): Promise<WriteResult> {
    try {
      this.checkOpen('write()')
      if (this.failed) throw this.failed
      assert(Array.isArray(ops), 'levelDB write: ops is an array')
      for (const o of ops) {
        if (o.op === 'add' || o.op === 'remove' || o.op === 'purge')
          assert(
            typeof o.destination === 'string' && o.destination !== '',
            `levelDB write: ${o.op} op has a non-empty destination`,
          )
        if (o.op === 'remove')
          assert(Number.isSafeInteger(o.seq) && o.seq > 0, `levelDB write: remove seq ${o.seq} is a positive integer`)
        if (o.op === 'add')
          assert(o.message && o.message.body instanceof Uint8Array, 'levelDB write: add op body is a Uint8Array')
      }
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ ops, forceSync: false, resolve, reject })
      this.kick()
    })
  }

  private kick(): void {
    if (this.flushing) return
    // Let the current tick's write() calls join the group before it is cut.
    this.flushing = new Promise<void>((r) => queueMicrotask(r))
      .then(() => this.flushLoop())
      .finally(() => {
        this.flushing = null
        if (this.queue.length > 0) this.kick()
      })
  }

  /** Bounded by the queue: each round removes ≥ 1 pending entry. */
  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0) {
      const group: Pending[] = []
      let nOps = 0
      let nBytes = 0
      while (this.queue.length > 0) {
        const p = this.queue[0]
        const b = p.ops.reduce((a, o) => a + (o.op === 'add' ? o.message.body.length : 0), 0)
        if (group.length > 0 && (nOps + p.ops.length > GROUP_OPS_MAX || nBytes + b > GROUP_BYTES_MAX)) break
        group.push(this.queue.shift()!)
        nOps += p.ops.length
        nBytes += b
      }
      await this.commitGroup(group)
    }
  }

  private async commitGroup(group: Pending[]): Promise<void> {
    if (this.failed) {
      for (const p of group) p.reject(this.failed)
      return
    }
    const epoch = this.opts!.epoch
    const batch: BatchOp[] = []
    const results: WriteResult[] = []
    const seqBefore = this.lastSeq
    try {
      for (const p of group) {
        const seqs: number[] = []
        for (const o of p.ops) this.apply(o, epoch, batch, seqs)
        results.push({ seqs })
      }
      this.evictDedupe(batch)
    } catch (e) {
      // A bug (an assert): the index may hold part of the group, so refuse everything from now on.
      this.failed = ioError('build batch', e)
      for (const p of group) p.reject(e)
      this.opts!.onFatalError?.(this.failed)
      return
    }
    const sync = this.syncPolicy === 'always' || group.some((p) => p.forceSync)
    if (batch.length === 0 && !sync) {
      for (let i = 0; i < group.length; i++) group[i].resolve(results[i])
      return
    }
    if (this.lastSeq !== seqBefore) batch.push({ type: 'put', key: SEQ_KEY, value: u64(this.lastSeq) })
    batch.push({ type: 'put', key: BATCH_KEY, value: batchValue(epoch, ++this.group) })
    const t0 = performance.now()
    try {
      await this.db!.batch(batch, sync)
    } catch (e) {
      // The in-memory index already holds this group: the store is no longer trustworthy. Self-fence.
      this.failed = ioError('write batch', e)
      log.error('write batch failed; store refuses further writes', this.failed, { directory: this.directory })
      for (const p of group) p.reject(this.failed)
      this.opts!.onFatalError?.(this.failed)
      return
    }
    if (sync) {
      this.recordSync(performance.now() - t0)
      this.unsynced = false
    } else this.unsynced = true
    try {
      await this.opts!.fence?.assertCurrent()
    } catch (e) {
      this.failed = isBrokerError(e)
        ? e
        : new BrokerError('ELECTION_FENCED', `levelDB ${this.directory}: epoch fence failed: ${(e as Error).message}`, {
            cause: e,
          })
      log.warn('epoch fence refused a durable group; no receipt is sent for it', {
        directory: this.directory,
        writes: group.length,
      })
      for (const p of group) p.reject(this.failed)
      return
    }
    for (let i = 0; i < group.length; i++) group[i].resolve(results[i])
  }

  private destFor(destination: string, batch: BatchOp[]): DestState {
    let d = this.dests.get(destination)
    if (!d) {
      d = { id: this.nextDestId++, msgs: new Map(), bytes: 0 }
      this.dests.set(destination, d)
      const v = Buffer.alloc(4)
      v.writeUInt32BE(d.id, 0)
      batch.push({ type: 'put', key: destKey(destination), value: v })
    }
    return d
  }

  private apply(o: StoreOp, epoch: number, batch: BatchOp[], seqs: number[]): void {
    switch (o.op) {
      case 'add': {
        const d = this.destFor(o.destination, batch)
        const seq = ++this.lastSeq
        const value = encodeMessage(epoch, o.message.messageId, o.message.headers, o.message.body)
        batch.push(
          { type: 'put', key: msgKey(d.id, seq), value },
          { type: 'put', key: indexKey(d.id, seq), value: u32(value.length) },
        )
        d.msgs.set(seq, value.length)
        d.bytes += value.length
        seqs.push(seq)
        if (this.dedupeWindow > 0) {
          batch.push({ type: 'put', key: dedupeKey(seq), value: Buffer.from(o.message.messageId, 'utf8') })
          this.dedupe.set(o.message.messageId, seq)
          this.dedupeFifo.push([seq, o.message.messageId])
        }
        return
      }
      case 'remove': {
        const d = this.dests.get(o.destination)
        const size = d?.msgs.get(o.seq)
        if (!d || size === undefined) return // already gone: acks are idempotent
        batch.push({ type: 'del', key: msgKey(d.id, o.seq) }, { type: 'del', key: indexKey(d.id, o.seq) })
        d.msgs.delete(o.seq)
        d.bytes -= size
        return
      }
      case 'purge': {
        const d = this.dests.get(o.destination)
        if (!d) return
        for (const seq of d.msgs.keys())
          batch.push({ type: 'del', key: msgKey(d.id, seq) }, { type: 'del', key: indexKey(d.id, seq) })
        d.msgs.clear()
        d.bytes = 0
        return
      }
      case 'putSubscription': {
        const s = o.subscription
        const k = subKey(s.clientId, s.subscriptionName)
        batch.push({ type: 'put', key: k, value: Buffer.from(JSON.stringify(s), 'utf8') })
        this.subs.set(k.toString('latin1'), { ...s })
        return
      }
      case 'removeSubscription': {
        const k = subKey(o.clientId, o.subscriptionName)
        batch.push({ type: 'del', key: k })
        this.subs.delete(k.toString('latin1'))
        return
      }
      default:
        assert(false, `levelDB write: unknown op ${JSON.stringify((o as { op?: unknown }).op)}`)
    }
  }

  private recordSync(ms: number): void {
    this.syncs++
    this.syncSumMs += ms
    for (let i = 0; i < SYNC_BUCKETS_MS.length; i++) if (ms <= SYNC_BUCKETS_MS[i]) this.syncBuckets[i]++
  }

  /** An internal synced group (periodic policy, close): makes every earlier unsynced batch durable. */
  private requestSync(): Promise<WriteResult> {
    return new Promise<WriteResult>((resolve, reject) => {
      this.queue.push({ ops: [], forceSync: true, resolve, reject })
      this.kick()
    })
  }

  private armSyncTimer(): void {
    const ms = this.opts?.syncIntervalMs ?? SYNC_INTERVAL_MS_DEFAULT
    assert(ms > 0, `levelDB: syncIntervalMs ${ms} is positive`)
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null
      if (this.phase !== 'open') return
      const p = this.unsynced && !this.failed ? this.requestSync().then(() => {}) : Promise.resolve()
      p.catch((e) => log.warn('periodic sync failed', e)).finally(() => {
        if (this.phase === 'open') this.armSyncTimer()
      })
    }, ms)
    ;(this.syncTimer as { unref?: () => void }).unref?.()
  }

  async load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    this.checkOpen('load()')
    assert(!Number.isNaN(afterSeq), 'levelDB load: afterSeq is a number')
    assert(Number.isInteger(limit) && limit >= 0, `levelDB load: limit ${limit} is a non-negative integer`)
    const d = this.dests.get(destination)
    if (!d || limit === 0 || d.msgs.size === 0 || afterSeq >= this.lastSeq) return []
    const out: StoredMessage[] = []
    const range = msgRangeAfter(d.id, Math.max(0, Math.floor(afterSeq)))
    try {
      await this.db!.scan({ ...range, limit }, (k, v) => {
        const { seq } = parseDestSeqKey(k)
        const m = decodeMessage(k, v!)
        out.push({ seq, messageId: m.messageId, headers: m.headers, body: m.body })
      })
    } catch (e) {
      throw ioError(`load ${destination}`, e)
    }
    return out
  }

  isDuplicate(messageId: string): boolean {
    return this.dedupe.has(messageId)
  }

  private messageCount(): number {
    let n = 0
    for (const d of this.dests.values()) n += d.msgs.size
    return n
  }

  private summaries(): DestinationSummary[] {
    return [...this.dests].map(([destination, d]) => ({ destination, count: d.msgs.size, bytes: d.bytes }))
  }

  stats(): StoreStats {
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
    // recordSync() counts a sample in every bucket whose bound it fits: the counts are already cumulative.
    const syncLatencyMs = SYNC_BUCKETS_MS.map((le, i) => ({ le, count: this.syncBuckets[i] }))
    return {
      adapter: this.kind,
      directory: this.directory,
      bytes: this.diskBytes,
      messages: this.messageCount(),
      destinations: this.summaries().filter((d) => d.count > 0),
      syncs: this.syncs,
      syncLatencyMs,
      syncLatencySumMs: this.syncSumMs,
      integrity: {
        corrupt: this.corrupt.slice(0, CORRUPT_REPORT_MAX),
        corruptCount: this.corrupt.length,
        tornTail: this.tornTail,
        fencedRecordsIgnored: 0,
        // No background check of table files exists (see the header: table damage is not promised).
        verification: 'not-needed',
        verifiedMessages: 0,
      },
    }
  }

  /** LevelDB has no index to checkpoint: make every batch so far durable (a synced group). */
  async checkpoint(): Promise<void> {
    this.checkOpen('checkpoint()')
    if (this.failed) throw this.failed
    await this.requestSync()
  }

  private closing: Promise<void> | null = null

  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    if (this.phase === 'new') {
      this.phase = 'closed'
      return
    }
    if (this.phase === 'opening')
      throw new BrokerError(
        'STORAGE_CLOSED',
        `levelDB store ${this.directory}: close() while opening; await open() first`,
      )
    this.phase = 'closing'
    if (this.syncTimer) clearTimeout(this.syncTimer)
    this.syncTimer = null
    // Writes queued before close complete (or fail with a code); a final sync covers unsynced policies.
    if (this.syncPolicy !== 'always' && this.unsynced && !this.failed) {
      this.queue.push({ ops: [], forceSync: true, resolve: () => {}, reject: (e) => log.warn('final sync failed', e) })
      this.kick()
    }
    for (let i = 0; i < 1000 && (this.flushing || this.queue.length > 0); i++)
      await (this.flushing ?? Promise.resolve())
    const db = this.db
    this.db = null
    this.phase = 'closed'
    if (db) {
      try {
        await db.close()
      } catch (e) {
        throw ioError(`close ${this.levelDir}`, e)
      }
    }
  }
}
