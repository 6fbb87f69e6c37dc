/**
 * JournalStore: the PersistenceAdapter shared by the kahaDB and amq adapters. It owns the write path (one journal
 * record per `write()` batch, so a batch is atomic across a crash; group commit: batches queued while a write+sync
 * is in flight go out together in the next single write+fdatasync; the epoch fence is asserted once per group before
 * any of its writes resolves), recovery (seals first, then checkpoint + journal tail for kahaDB, or every segment for
 * amq), paging reads of message bodies from the journal, segment GC, stats and close.
 *
 * What the two modes differ in (`checkpoints`):
 * - kahaDB (`checkpoints: true`): the index is written to `index-<epoch>.ckpt` every `checkpointIntervalMs` and on
 *   close; recovery loads it and replays only the journal after its position. GC checkpoints first, then deletes
 *   every segment before the checkpoint position that holds no live message.
 * - amq (`checkpoints: false`): no index file. Recovery replays every segment (time grows with the journal size).
 *   GC may delete only a prefix of segments without live messages; live subscription records and dedupe ids that
 *   such a prefix holds are first copied forward in a CARRY record, so replay from the new first segment is complete.
 *
 * Directory layout: `journal.json` (format marker), `db-<id>.log` segments, `seals/<epoch>.json`, `index-<epoch>.ckpt`.
 * The election's `lock`, `epochs/`, `replicas/` may share the directory; this class never touches them.
 *
 * Not promised: reads of messages written by a deposed primary after our seal; a store opened by two processes with
 * the same epoch (the election prevents that).
 */
import { dirname } from 'node:path'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { AdapterKind, SyncPolicy } from '../../config/types.ts'
import type {
  OpenOptions,
  PersistenceAdapter,
  RecoveredState,
  RecoveryReport,
  StandbyOptions,
  StandbyReader,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from '../types.ts'
import { nodeFileIO, type FileHandleIO, type FileIO } from './file-io.ts'
import {
  decodeAddOp,
  verifyAddOp,
  decodeBatchForReplay,
  decodeCarry,
  decodeSegmentHeader,
  encodeBatch,
  encodeCarry,
  encodeSegmentHeader,
  ADD_OP_CRC_FROM,
  checksum,
  deferredCrcSpan,
  finishDeferred,
  frameRecord,
  frameRecordHeader,
  frameRecordInPlace,
  JOURNAL_FORMAT_VERSION,
  parseSegmentName,
  RECORD_BYTES_MAX_DEFAULT,
  RECORD_CRC_AT,
  RECORD_HEADER_BYTES,
  RT_BATCH,
  RT_CARRY,
  SEGMENT_HEADER_BYTES,
  segmentName,
  type CarryPayload,
  type EncodedBatch,
} from './format.ts'
import { decodeCheckpoint, encodeCheckpoint, IndexState, type CheckpointMeta } from './index-state.ts'
import { maxSealEpoch, readSeals, SEALS_DIR, sealLimit, writeSeal, type Seal } from './seals.ts'
import { scanSegment } from './segment-scanner.ts'
import { applyRecord } from './replay.ts'
import { JournalTailReader } from './tail-reader.ts'

const log = logger('storage')

export const MARKER_FILE = 'journal.json'
export const MARKER_FORMAT = 'sfbroker-journal'
export const JOURNAL_MAX_FILE_LENGTH_DEFAULT = 32 * 1024 * 1024
export const JOURNAL_MAX_FILE_LENGTH_MIN = 4096
export const JOURNAL_MAX_FILE_LENGTH_MAX = 1024 * 1024 * 1024
export const DEDUPE_WINDOW_DEFAULT = 100_000
/** Bytes one group commit gathers at most (a larger single record still goes alone). */
export const GROUP_COMMIT_BYTES_MAX = 8 * 1024 * 1024
/** A load() reads neighbouring messages of one segment in one read when the gap is below this and the span... */
const LOAD_GAP_BYTES_MAX = 64 * 1024
/**
 * Bodies are copied into a record at most this many bytes per event-loop turn: a fresh buffer costs its page
 * faults on first touch (~3 ms per MiB measured on a loaded 2-core VM), so a 90 MiB body copied at once held the
 * loop ~300 ms. Records over this are also written alone (joining them into a group would copy them again).
 */
export const COPY_SLICE_BYTES = 2 * 1024 * 1024

/**
 * Copy the deferred bodies of `enc` into its payload and checksum them, FILL_SLICE_BYTES per event-loop turn, then
 * frame the record (its CRC over the whole payload, again in slices): a CRC of 90 MiB in one go took 40-80 ms.
 */
async function fillInSlices(enc: EncodedBatch, type: number, epoch: number): Promise<void> {
  for (const d of enc.deferred) {
    const span = deferredCrcSpan(d)
    let crc = checksum(enc.payload, span.start, d.at)
    for (let off = 0; off < d.body.length; off += FILL_SLICE_BYTES) {
      await turn()
      const end = Math.min(d.body.length, off + FILL_SLICE_BYTES)
      enc.payload.set(d.body.subarray(off, end), d.at + off)
      crc = checksum(enc.payload, d.at + off, d.at + end, crc)
    }
    enc.payload.writeUInt32LE(crc, span.at)
  }
  let crc = frameRecordHeader(type, epoch, enc.buffer)
  for (let off = RECORD_HEADER_BYTES; off < enc.buffer.length; off += CRC_SLICE_BYTES) {
    await turn()
    crc = checksum(enc.buffer, off, Math.min(enc.buffer.length, off + CRC_SLICE_BYTES), crc)
  }
  enc.buffer.writeUInt32LE(crc, RECORD_CRC_AT)
}

/** Bytes of a large body copied into its record per turn: fresh pages cost ~10 ms/MiB on a loaded VM. */
const FILL_SLICE_BYTES = 1024 * 1024
/** Bytes checksummed per turn (zlib crc32 of already resident bytes: ~0.5 ms/MiB). */
const CRC_SLICE_BYTES = 8 * 1024 * 1024

/**
 * The next event-loop turn of its own: callers queue, one per turn, so several large records being filled (three
 * 90 MiB SENDs at once) still copy one slice per turn between them, not one slice each.
 */
let turnChain: Promise<void> = Promise.resolve()
function turn(): Promise<void> {
  const t = turnChain.then(() => new Promise<void>((r) => setImmediate(r)))
  turnChain = t
  return t
}

/** CRC of b[start, end), CRC_SLICE_BYTES per event-loop turn. */
async function checksumInSlices(b: Buffer, start: number, end: number): Promise<number> {
  let crc = 0
  for (let off = start; off < end; off += CRC_SLICE_BYTES) {
    if (off > start) await turn()
    crc = checksum(b, off, Math.min(end, off + CRC_SLICE_BYTES), crc)
  }
  return crc
}

/** Times a filled large record at the head of the queue may be passed by smaller independent ones (see overtakers). */
const OVERTAKEN_MAX = 4
/** ...stays below this. */
const LOAD_SPAN_BYTES_MAX = 4 * 1024 * 1024
/** Read handles kept open for load(); least recently used ones beyond are closed. */
const READ_HANDLES_MAX = 64
/** Segment ids tried when a create collides with another writer's file. */
const SEGMENT_CREATE_ATTEMPTS_MAX = 100
/** Corrupt findings listed in stats().integrity (all are logged and counted). */
const CORRUPT_REPORT_MAX = 100
/** Messages CRC-checked per step of the background verification (it yields to the event loop between steps). */
const VERIFY_PAGE_MESSAGES = 1000
/** After a warm open, the background verification waits this long (the takeover's first deliveries go first). */
const VERIFY_DELAY_AFTER_WARM_OPEN_MS = 3000
const SYNC_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, Infinity]

export interface JournalStoreDeps {
  io?: FileIO
  clock?: Clock
  /** Largest record payload accepted (named limit; tests lower it). */
  recordBytesMax?: number
}

interface Pending {
  /** The framed record; being filled while `ready` is set (a large body copied in slices, see write()). */
  record: Buffer
  ready?: Promise<void> | null
  ops: StoreOp[]
  seqs: number[]
  adds: { offset: number; length: number; bodyBytes: number }[]
  ids: string[]
  /** For CARRY records written by GC. */
  carry?: true
  /** Groups committed ahead of this record while it was at the head of the queue (see overtakers). */
  overtaken?: number
  resolve: (r: WriteResult) => void
  reject: (e: Error) => void
}

/** Where one stored message lies in the journal. */
interface Want {
  seq: number
  file: number
  off: number
  len: number
}

interface Task {
  run: () => Promise<void>
  resolve: () => void
  reject: (e: Error) => void
}

interface SegmentInfo {
  id: number
  epoch: number
  size: number
}

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed' | 'failed'

export class JournalStore implements PersistenceAdapter {
  private readonly io: FileIO
  private readonly clock: Clock
  private readonly recordBytesMax: number

  private state: State = 'new'
  private failure: Error | null = null
  private dir = ''
  private epoch = 0
  private opts!: OpenOptions
  private syncPolicy: SyncPolicy = 'always'
  private maxFileLength = JOURNAL_MAX_FILE_LENGTH_DEFAULT

  private index = new IndexState(DEDUPE_WINDOW_DEFAULT)
  private segments = new Map<number, SegmentInfo>()
  private cur: { id: number; h: FileHandleIO; size: number } | null = null
  private unsynced = false
  private pending: Pending[] = []
  private tasks: Task[] = []
  private pumping = false
  private idleWaiters: (() => void)[] = []
  private pendingIds = new Map<string, number>()
  private readHandles = new Map<number, { h: Promise<FileHandleIO>; users: number; usedAt: number }>()
  private readers = new Map<number, number>()
  private ckpt: CheckpointMeta | null = null
  private ckptBytes = 0
  private changesSinceCheckpoint = 0
  private timers = new Map<string, unknown>()

  /** Corrupt messages found since open ("file:offset"), and the report of them (see StoreIntegrity). */
  private corruptAt = new Set<string>()
  private corruptList: { file: string; offset: number; reason: string }[] = []
  private corruptCount = 0
  private lastReport: RecoveryReport | null = null
  private verification: 'running' | 'done' | 'stopped' | 'not-needed' = 'not-needed'
  private verifiedMessages = 0
  private verifying: Promise<void> | null = null
  private verifyDelayEnd: (() => void) | null = null

  private syncs = 0
  private syncHist = SYNC_BUCKETS_MS.map(() => 0)
  private syncSumMs = 0

  constructor(
    readonly kind: AdapterKind,
    private readonly checkpoints: boolean,
    deps: JournalStoreDeps = {},
  ) {
    this.io = deps.io ?? nodeFileIO
    this.clock = deps.clock ?? systemClock
    this.recordBytesMax = deps.recordBytesMax ?? RECORD_BYTES_MAX_DEFAULT
  }

  // ---- open / recovery ---------------------------------------------------------------------------------------

  async open(opts: OpenOptions): Promise<RecoveredState> {
    if (this.state === 'opening' || this.state === 'open' || this.state === 'closing') {
      throw new BrokerError(
        'STORAGE_IO',
        `store ${opts.directory}: open() called on a store that is already ${this.state} at ${this.dir}`,
      )
    }
    validateOptions(opts)
    this.reset(opts)
    this.state = 'opening'
    try {
      const state = await this.recover()
      this.state = 'open'
      this.startTimers()
      if (this.recoveredFrom) {
        this.verification = 'running'
        const from = this.recoveredFrom
        // After a warm takeover the new primary's first clients come first: the re-read of every checkpointed body
        // (a large backlog's whole journal) starts a little later.
        this.verifying = this.warmOpen
          ? new Promise<void>((r) => {
              const t = this.clock.setTimeout(r, VERIFY_DELAY_AFTER_WARM_OPEN_MS)
              ;(t as { unref?: () => void } | null)?.unref?.()
              // close() ends the wait at once (verifyCheckpointed then sees the store closing and stops).
              this.verifyDelayEnd = () => {
                this.clock.clearTimeout(t)
                r()
              }
            }).then(() => {
              this.verifyDelayEnd = null
              return this.verifyCheckpointed(from)
            })
          : this.verifyCheckpointed(from)
      }
      return state
    } catch (e) {
      this.state = 'closed'
      await this.closeHandles()
      throw e
    }
  }

  private reset(opts: OpenOptions) {
    this.opts = opts
    this.dir = opts.directory.replace(/\/+$/, '') || '/'
    this.epoch = opts.epoch
    this.syncPolicy = opts.syncPolicy ?? 'always'
    this.maxFileLength = opts.journalMaxFileLength ?? JOURNAL_MAX_FILE_LENGTH_DEFAULT
    this.index = new IndexState(opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT)
    this.segments = new Map()
    this.cur = null
    this.unsynced = false
    this.pending = []
    this.tasks = []
    this.failure = null
    this.pendingIds = new Map()
    this.readHandles = new Map()
    this.readers = new Map()
    this.ckpt = null
    this.ckptBytes = 0
    this.changesSinceCheckpoint = 0
    this.syncs = 0
    this.syncHist = SYNC_BUCKETS_MS.map(() => 0)
    this.syncSumMs = 0
    this.corruptAt = new Set()
    this.corruptList = []
    this.corruptCount = 0
    this.lastReport = null
    this.verification = 'not-needed'
    this.verifiedMessages = 0
    this.verifying = null
    this.recoveredFrom = null
    this.warmOpen = false
  }

  private path(name: string) {
    return `${this.dir}/${name}`
  }

  private async checkMarker(segmentNames: string[], names: string[]) {
    const raw = await this.io.readFile(this.path(MARKER_FILE))
    if (raw === null) {
      if (segmentNames.length > 0) {
        throw new BrokerError(
          'STORAGE_FORMAT',
          `store ${this.dir}: journal segments (${segmentNames[0]}, ...) but no ${MARKER_FILE}: not a store this broker wrote`,
          { details: { directory: this.dir } },
        )
      }
      if (names.includes('CURRENT') || names.includes('leveldb') || names.some((n) => /^MANIFEST-/.test(n))) {
        throw new BrokerError(
          'STORAGE_FORMAT',
          `store ${this.dir}: holds a LevelDB database (CURRENT/MANIFEST files or a leveldb/ folder), expected a ${this.kind} journal`,
          { details: { directory: this.dir } },
        )
      }
      const tmp = this.path(`${MARKER_FILE}.tmp`)
      await this.io.unlink(tmp)
      const h = await this.io.open(tmp, 'createExclusive')
      try {
        await h.write(
          Buffer.from(
            JSON.stringify({ format: MARKER_FORMAT, adapter: this.kind, version: JOURNAL_FORMAT_VERSION }) + '\n',
          ),
          0,
        )
        await h.sync()
      } finally {
        await h.close()
      }
      await this.io.rename(tmp, this.path(MARKER_FILE))
      await this.io.syncDir(this.dir)
      return
    }
    let m: { format?: unknown; adapter?: unknown; version?: unknown }
    try {
      m = JSON.parse(Buffer.from(raw).toString('utf8'))
    } catch {
      m = {}
    }
    if (m.format !== MARKER_FORMAT) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `store ${this.path(MARKER_FILE)}: format ${JSON.stringify(m.format)} is foreign, expected "${MARKER_FORMAT}"`,
        { details: { file: this.path(MARKER_FILE) } },
      )
    }
    if (typeof m.version !== 'number' || m.version > JOURNAL_FORMAT_VERSION) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `store ${this.path(MARKER_FILE)}: format version ${JSON.stringify(m.version)} is newer than this broker supports (${JOURNAL_FORMAT_VERSION})`,
        { details: { file: this.path(MARKER_FILE), version: m.version } },
      )
    }
    if (m.adapter !== this.kind) {
      // kahaDB deletes segments an amq replay would need, and amq has no checkpoint kahaDB could trust: no silent switch.
      throw new BrokerError(
        'STORAGE_FORMAT',
        `store ${this.dir}: written by the ${JSON.stringify(m.adapter)} adapter, opened as ${this.kind}; expected the same adapter`,
        { details: { directory: this.dir, adapter: m.adapter } },
      )
    }
  }

  private async recover(): Promise<RecoveredState> {
    const started = this.clock.now()
    const report: RecoveryReport = {
      durationMs: 0,
      recordsReplayed: 0,
      tornTail: null,
      corrupt: [],
      fencedRecordsIgnored: 0,
    }
    await this.io.mkdir(this.dir)
    // mkdir is durable only once its parent directory is synced (cheap; once per open).
    await this.io.syncDir(dirname(this.dir))
    const names = await this.io.readdir(this.dir)
    const segNames = names.filter((n) => parseSegmentName(n) !== null)
    await this.checkMarker(segNames, names)
    await this.io.mkdir(this.path(SEALS_DIR))
    await this.io.syncDir(this.dir)

    // 1. Segment headers (written and synced once at creation; reading them reads no record).
    const ids = segNames.map((n) => parseSegmentName(n)!).sort((a, b) => a - b)
    const unusable = new Set<number>()
    for (const id of ids) {
      const file = this.path(segmentName(id))
      const h = await this.io.open(file, 'read')
      try {
        const size = await h.size()
        const buf = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES))
        await h.read(buf, buf.length, 0)
        if (size < SEGMENT_HEADER_BYTES) {
          // A crash while creating the segment: no record can be in it.
          report.tornTail = { file, offset: 0, bytes: size }
          unusable.add(id)
          this.segments.set(id, { id, epoch: 0, size })
          continue
        }
        const hd = decodeSegmentHeader(buf, file)
        if (hd.id !== id)
          throw new BrokerError('STORAGE_CORRUPT_RECORD', `journal ${file}: header names segment ${hd.id}`, {
            details: { file, offset: 0 },
          })
        this.segments.set(id, { id, epoch: hd.epoch, size })
      } catch (e) {
        if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
        report.corrupt.push({
          file,
          offset: 0,
          reason: `segment header unreadable (${e.message}); segment not replayed`,
        })
        unusable.add(id)
        this.segments.set(id, { id, epoch: 0, size: 0 })
      } finally {
        await h.close()
      }
    }

    // 2. Fencing: refuse if a newer epoch exists, else seal every older segment before reading any record.
    let seals = await readSeals(this.io, this.dir)
    const newerSeal = maxSealEpoch(seals)
    const newerSeg = [...this.segments.values()].find((s) => s.epoch > this.epoch)
    if (newerSeal > this.epoch || newerSeg) {
      const what = newerSeg
        ? `segment ${segmentName(newerSeg.id)} of epoch ${newerSeg.epoch}`
        : `seal of epoch ${newerSeal}`
      throw new BrokerError(
        'STORAGE_FENCED',
        `store ${this.dir}: ${what} exists above our epoch ${this.epoch}; a newer primary owns this store`,
        { details: { epoch: this.epoch } },
      )
    }
    if (!seals.has(this.epoch)) {
      const seal: Seal = { epoch: this.epoch, segments: {}, createdAt: this.clock.now() }
      for (const s of this.segments.values()) {
        if (s.epoch < this.epoch && !unusable.has(s.id)) {
          const st = await this.io.stat(this.path(segmentName(s.id)))
          seal.segments[String(s.id)] = st?.size ?? 0
        }
      }
      await writeSeal(this.io, this.dir, seal)
      seals = new Map(seals).set(this.epoch, seal)
    }
    this.seals = seals

    // 3. A warm replica's index (see tail-reader.ts), else the checkpoint (kahaDB).
    let startFile = 0
    let startOffset = SEGMENT_HEADER_BYTES
    const warm = this.opts.standby ? this.adoptStandby(this.opts.standby, ids, unusable, report) : null
    if (warm) {
      startFile = warm.file
      startOffset = warm.offset
    } else if (this.checkpoints) {
      const ck = await this.loadCheckpoint(names, report)
      if (ck) {
        this.index = ck.state
        this.ckpt = ck.meta
        startFile = ck.meta.file
        startOffset = ck.meta.offset
        this.recoveredFrom = { file: startFile, offset: startOffset }
      }
    }

    // 4. Replay the journal (from the checkpoint position for kahaDB, everything for amq).
    for (const id of ids) {
      if (id < startFile || unusable.has(id)) continue
      const seg = this.segments.get(id)!
      await this.replaySegment(
        seg,
        id === startFile ? Math.max(startOffset, SEGMENT_HEADER_BYTES) : SEGMENT_HEADER_BYTES,
        report,
      )
    }

    // 5. Our own, new segment: never append to a file another epoch (or an earlier run) wrote.
    await this.createSegment((ids[ids.length - 1] ?? 0) + 1)
    this.changesSinceCheckpoint = report.recordsReplayed
    report.durationMs = this.clock.now() - started
    this.lastReport = report
    this.corruptCount = report.corrupt.length
    this.corruptList = report.corrupt.slice(0, CORRUPT_REPORT_MAX)
    if (report.corrupt.length > 0)
      log.error(`store ${this.dir}: ${report.corrupt.length} corrupt range(s) not recovered`, {
        corrupt: report.corrupt,
      })
    if (report.tornTail) log.warn(`store ${this.dir}: torn tail cut off`, { tornTail: report.tornTail })
    if (report.fencedRecordsIgnored > 0)
      log.warn(
        `store ${this.dir}: ${report.fencedRecordsIgnored} record(s) of a deposed primary written after its seal ignored`,
      )
    log.info(
      `store ${this.dir} (${this.kind}${this.warmOpen ? `, warm from a standby reader` : ``}) recovered ${this.index.messages} messages, replayed ${report.recordsReplayed} records in ${report.durationMs} ms`,
    )
    return {
      destinations: this.index.summaries(),
      subscriptions: [...this.index.subs.values()].map((s) => s.rec),
      report,
    }
  }

  /** Whether the last open() adopted a warm replica's index (stats, tests). */
  warmOpen = false

  /**
   * Take over a standby reader's index if it is ours and consistent with the store as sealed now; returns the
   * position to replay from, or null (with the reason logged) to recover cold. Called after our seal is written,
   * so everything after the reader's position is re-read and re-validated under it.
   */
  private adoptStandby(
    sb: StandbyReader,
    ids: number[],
    unusable: Set<number>,
    report: RecoveryReport,
  ): { file: number; offset: number } | null {
    const doubt = (why: string) => {
      log.info(`store ${this.dir}: warm standby index not used (${why}); recovering cold`)
      return null
    }
    if (!(sb instanceof JournalTailReader)) return doubt('not a journal standby reader')
    const h = sb.handOver()
    void sb.close()
    if (!h) return doubt('the reader had not caught up, or its last poll failed')
    if (h.kind !== this.kind) return doubt(`reader of a ${h.kind} store`)
    if (h.directory !== this.dir) return doubt(`reader of ${h.directory}`)
    const dedupeWindow = this.opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT
    if (h.dedupeWindow !== dedupeWindow) return doubt(`dedupe window ${h.dedupeWindow}, the store's is ${dedupeWindow}`)
    for (const id of ids) {
      const seg = this.segments.get(id)!
      const seen = h.segments.get(id)
      if (id > h.cursor.file) continue
      if (!seen) {
        if (id === h.cursor.file && h.cursor.offset === SEGMENT_HEADER_BYTES) continue
        return doubt(`${segmentName(id)} was never seen by the reader`)
      }
      if (seen.covered) continue
      if (seen.skipped !== unusable.has(id))
        return doubt(
          `${segmentName(id)} is ${unusable.has(id) ? 'unusable' : 'usable'} now, the reader found it otherwise`,
        )
      if (seen.skipped) continue
      if (seen.epoch !== seg.epoch)
        return doubt(`${segmentName(id)} has epoch ${seg.epoch}, the reader saw ${seen.epoch}`)
      const limit = Math.max(SEGMENT_HEADER_BYTES, sealLimit(this.seals, id, seg.epoch))
      if (seen.end > limit) return doubt(`it applied ${segmentName(id)} up to ${seen.end}, beyond the seal ${limit}`)
    }
    if (h.cursor.file > 0 && !this.segments.has(h.cursor.file) && ids.some((id) => id > h.cursor.file))
      return doubt(`${segmentName(h.cursor.file)} (its position) is gone`)
    this.index = h.index
    this.recoveredFrom = h.checkpointFrom
    this.warmOpen = true
    report.corrupt.push(...h.corrupt)
    report.fencedRecordsIgnored += h.fencedRecordsIgnored
    return h.cursor
  }

  /** A read-only reader that keeps this store's index current on a warm replica (pass it to open() as `standby`). */
  standby(opts: StandbyOptions): StandbyReader {
    return new JournalTailReader(this.kind, this.checkpoints, opts, {
      io: this.io,
      recordBytesMax: this.recordBytesMax,
    })
  }

  private seals = new Map<number, Seal>()
  /** The checkpoint position recovery started from (kahaDB): messages before it were not re-read. */
  private recoveredFrom: { file: number; offset: number } | null = null

  private async loadCheckpoint(
    names: string[],
    report: RecoveryReport,
  ): Promise<{ state: IndexState; meta: CheckpointMeta } | null> {
    const cks = names
      .map((n) => /^index-(\d+)\.ckpt$/.exec(n))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]))
      .sort((a, b) => b - a)
    if (cks.length === 0) return null
    if (cks[0] > this.epoch) {
      throw new BrokerError(
        'STORAGE_FENCED',
        `store ${this.dir}: index of epoch ${cks[0]} exists above our epoch ${this.epoch}`,
        { details: { epoch: this.epoch } },
      )
    }
    const file = this.path(`index-${cks[0]}.ckpt`)
    const raw = await this.io.readFile(file)
    if (!raw) return null
    let ck: { state: IndexState; meta: CheckpointMeta }
    try {
      ck = decodeCheckpoint(
        Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength),
        file,
        this.opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT,
      )
    } catch (e) {
      if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
      report.corrupt.push({ file, offset: 0, reason: `${e.message}; replaying the whole journal instead` })
      return null
    }
    // A checkpoint only covers durable, fence-confirmed records, so it lies inside every seal; check anyway.
    const seg = this.segments.get(ck.meta.file)
    if (seg) {
      const limit = sealLimit(this.seals, seg.id, seg.epoch)
      if (ck.meta.offset > limit) {
        report.corrupt.push({
          file,
          offset: 0,
          reason: `checkpoint position ${ck.meta.offset} in ${segmentName(seg.id)} lies beyond that segment's seal ${limit}; replaying the whole journal instead`,
        })
        return null
      }
    }
    this.ckptBytes = raw.length
    return ck
  }

  private async replaySegment(seg: SegmentInfo, from: number, report: RecoveryReport) {
    const file = this.path(segmentName(seg.id))
    const limit = sealLimit(this.seals, seg.id, seg.epoch)
    const h = await this.io.open(file, 'readWrite')
    try {
      const size = await h.size()
      seg.size = size
      if (from >= size) return
      const data = Buffer.allocUnsafe(size - from)
      const got = await h.read(data, data.length, from)
      const where = `journal ${file}`
      const res = scanSegment({
        file,
        data: data.subarray(0, got),
        base: from,
        epoch: seg.epoch,
        limit,
        recordBytesMax: this.recordBytesMax,
        onRecord: (type, ps, pe, offset) => {
          try {
            applyRecord(this.index, data, type, ps, pe, offset, seg.id, where)
            report.recordsReplayed++
          } catch (e) {
            if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
            report.corrupt.push({ file, offset, reason: e.message })
          }
        },
      })
      for (const c of res.corrupt) report.corrupt.push({ file, ...c })
      report.fencedRecordsIgnored += res.fenced
      if (res.torn) {
        if (report.tornTail) log.warn(`store ${this.dir}: earlier torn tail`, { tornTail: report.tornTail })
        report.tornTail = { file, offset: res.torn.offset, bytes: res.torn.bytes }
        // Cut it off: later opens must not see it again (nothing acknowledged is in it: acks follow fsync).
        await h.truncate(res.torn.offset)
        await h.sync()
        seg.size = res.torn.offset
      }
    } finally {
      await h.close()
    }
  }

  private async createSegment(firstId: number) {
    let id = firstId
    for (let attempt = 0; ; attempt++, id++) {
      if (attempt >= SEGMENT_CREATE_ATTEMPTS_MAX) {
        throw new BrokerError(
          'STORAGE_IO',
          `store ${this.dir}: could not create a new segment after ${attempt} attempts from ${segmentName(firstId)}`,
        )
      }
      const file = this.path(segmentName(id))
      let h: FileHandleIO
      try {
        h = await this.io.open(file, 'createExclusive')
      } catch (e) {
        if ((e as BrokerError).details?.errno === 'EEXIST') continue // another writer's file; it cannot be ours
        throw e
      }
      try {
        await h.write(
          encodeSegmentHeader({ version: JOURNAL_FORMAT_VERSION, epoch: this.epoch, id, createdAt: this.clock.now() }),
          0,
        )
        await this.timedSync(h)
        await this.io.syncDir(this.dir)
      } catch (e) {
        await h.close().catch(() => {})
        throw e
      }
      const old = this.cur
      this.cur = { id, h, size: SEGMENT_HEADER_BYTES }
      this.segments.set(id, { id, epoch: this.epoch, size: SEGMENT_HEADER_BYTES })
      if (old) await old.h.close()
      return
    }
  }

  // ---- write path --------------------------------------------------------------------------------------------

  private checkOpen(what: string) {
    if (this.state === 'open') return
    if (this.state === 'failed' && this.failure) throw this.failure
    throw new BrokerError(
      'STORAGE_CLOSED',
      `store ${this.dir || '(never opened)'}: ${what} on a ${this.state === 'new' ? 'store not yet opened' : 'closed store'}`,
    )
  }

  write(ops: StoreOp[]): Promise<WriteResult> {
    try {
      this.checkOpen('write()')
      validateOps(ops)
    } catch (e) {
      return Promise.reject(e)
    }
    if (ops.length === 0) return Promise.resolve({ seqs: [] })
    const seqs: number[] = []
    const ids: string[] = []
    for (const o of ops) {
      if (o.op === 'add') {
        seqs.push(this.index.nextSeq++)
        ids.push(o.message.messageId)
      }
    }
    // Encoded straight into the record buffer (header room first): one copy of each body, not two.
    const enc = encodeBatch(ops, seqs, { headerRoom: RECORD_HEADER_BYTES, deferBodies: true })
    if (enc.payload.length > this.recordBytesMax) {
      return Promise.reject(
        new BrokerError(
          'STORAGE_INVALID_OP',
          `store ${this.dir}: batch of ${enc.payload.length} bytes exceeds recordBytesMax ${this.recordBytesMax}`,
          { details: { bytes: enc.payload.length, limit: this.recordBytesMax } },
        ),
      )
    }
    const epoch = this.epoch
    for (const id of ids) this.pendingIds.set(id, (this.pendingIds.get(id) ?? 0) + 1)
    return new Promise<WriteResult>((resolve, reject) => {
      const p: Pending = { record: enc.buffer, ops, seqs, adds: enc.adds, ids, resolve, reject, ready: null }
      let deferredBytes = 0
      for (const d of enc.deferred) deferredBytes += d.body.length
      if (deferredBytes <= COPY_SLICE_BYTES) {
        for (const d of enc.deferred) enc.payload.set(d.body, d.at)
        finishDeferred(enc)
        frameRecordInPlace(RT_BATCH, epoch, enc.buffer)
      } else {
        // Its place in the queue (and seq order) is taken now; the commit loop waits for it to be filled, letting
        // small records of other destinations pass meanwhile (see overtakers).
        p.ready = fillInSlices(enc, RT_BATCH, epoch).then(() => {
          p.ready = null
          this.wakeCommit()
        })
      }
      this.pending.push(p)
      this.wakeCommit()
      this.kick()
    })
  }

  private kick() {
    if (!this.pumping) void this.pump()
  }

  private async pump() {
    this.pumping = true
    try {
      // Bounded by the work queued: every turn removes a task or at least one pending record.
      while (
        (this.state === 'open' || this.state === 'closing') &&
        (this.tasks.length > 0 || this.pending.length > 0)
      ) {
        const t = this.tasks.shift()
        if (t) {
          try {
            await t.run()
            t.resolve()
          } catch (e) {
            t.reject(e as Error)
            this.fail(e as Error)
          }
          continue
        }
        try {
          await this.commitNextGroup()
        } catch (e) {
          this.fail(e as Error)
        }
      }
      if (this.state === 'failed') {
        for (const t of this.tasks.splice(0)) t.reject(this.failure!)
      }
    } finally {
      this.pumping = false
      for (const w of this.idleWaiters.splice(0)) w()
    }
  }

  private whenIdle(): Promise<void> {
    if (!this.pumping) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  private enqueueTask(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tasks.push({ run, resolve, reject })
      this.kick()
    })
  }

  /** Wakes a commit loop waiting for a large record to be filled (a record arrived or got ready). */
  private commitWaiter: (() => void) | null = null

  private wakeCommit() {
    const w = this.commitWaiter
    this.commitWaiter = null
    w?.()
  }

  /**
   * Small, filled records that may be written before the large record at the head of the queue (issue #19: a small
   * persistent SEND waited behind the copy and write of a 90 MiB one). A record may pass only records that touch
   * none of its destinations and only add/remove ops, so each destination's records stay in seq order in the file
   * (replay requires it) and in the index; subscription, purge and carry records are barriers. A filled head record
   * is passed at most OVERTAKEN_MAX times, so a stream of small records cannot starve it.
   */
  private overtakers(cur: { size: number }): Pending[] {
    const head = this.pending[0]
    if (!head.ready && (head.record.length <= COPY_SLICE_BYTES || (head.overtaken ?? 0) >= OVERTAKEN_MAX)) return []
    const held = new Set<string>()
    const group: Pending[] = []
    let bytes = 0
    for (const p of this.pending) {
      if (p.carry || p.ops.some((o) => o.op !== 'add' && o.op !== 'remove')) break
      const n = p.record.length
      const free =
        !p.ready && n <= COPY_SLICE_BYTES && !p.ops.some((o) => held.has((o as { destination: string }).destination))
      if (!free) {
        for (const o of p.ops) held.add((o as { destination: string }).destination)
        continue
      }
      if (bytes + n > GROUP_COMMIT_BYTES_MAX || cur.size + bytes + n > this.maxFileLength) break
      group.push(p)
      bytes += n
    }
    return group
  }

  /** Take as many queued records as fit in one write, write them, sync per policy, assert the fence, then apply. */
  private async commitNextGroup() {
    const passing = this.overtakers(this.cur!)
    let group: Pending[] = []
    let bytes = 0
    if (passing.length > 0) {
      const head = this.pending[0]
      if (!head.ready) head.overtaken = (head.overtaken ?? 0) + 1
      const taken = new Set(passing)
      this.pending = this.pending.filter((p) => !taken.has(p))
      group = passing
      for (const p of group) bytes += p.record.length
    } else {
      if (this.pending[0].ready) {
        // Wait for it to be filled, or for a record that may pass it; then the pump loop comes back here.
        await Promise.race([this.pending[0].ready, new Promise<void>((r) => (this.commitWaiter = r))])
        this.commitWaiter = null
        return
      }
      const cur0 = this.cur!
      if (cur0.size > SEGMENT_HEADER_BYTES && cur0.size + this.pending[0].record.length > this.maxFileLength)
        await this.roll()
      const cur1 = this.cur!
      for (const p of this.pending) {
        const n = p.record.length
        // A record still being filled, or a large one (joining it would copy it once more), goes in a group of its own.
        if (
          group.length > 0 &&
          (p.ready ||
            n > COPY_SLICE_BYTES ||
            bytes + n > GROUP_COMMIT_BYTES_MAX ||
            cur1.size + bytes + n > this.maxFileLength)
        )
          break
        group.push(p)
        bytes += n
      }
      this.pending.splice(0, group.length)
    }
    const cur = this.cur!
    const base = cur.size
    try {
      const buf =
        group.length === 1
          ? group[0].record
          : Buffer.concat(
              group.map((p) => p.record),
              bytes,
            )
      if (this.syncPolicy === 'always' && !this.unsynced && cur.h.writeDurable) {
        // Everything before `base` is already durable, so one durable write (O_DSYNC) is the whole commit: one
        // system call and one thread-pool round trip instead of write + fdatasync. The size is updated only after
        // it succeeded, as below (a failed write leaves the segment's logical end where it was).
        await this.timedDurableWrite(cur.h, buf, base)
        cur.size += bytes
        this.segments.get(cur.id)!.size = cur.size
      } else {
        await cur.h.write(buf, base)
        cur.size += bytes
        this.segments.get(cur.id)!.size = cur.size
        this.unsynced = true
        if (this.syncPolicy === 'always') await this.syncCurrent()
      }
      await this.assertFence()
    } catch (e) {
      for (const p of group) this.settle(p, e as Error)
      throw e
    }
    let off = base
    for (const p of group) {
      this.apply(p, cur.id, off)
      off += p.record.length
      this.settle(p, null)
    }
  }

  private settle(p: Pending, err: Error | null) {
    for (const id of p.ids) {
      const n = (this.pendingIds.get(id) ?? 1) - 1
      if (n <= 0) this.pendingIds.delete(id)
      else this.pendingIds.set(id, n)
    }
    if (err) p.reject(err)
    else p.resolve({ seqs: p.seqs })
  }

  private apply(p: Pending, file: number, recordOffset: number) {
    const payload = recordOffset + RECORD_HEADER_BYTES
    if (p.carry) return
    let a = 0
    for (const o of p.ops) {
      switch (o.op) {
        case 'add': {
          const loc = p.adds[a]
          this.index.add(
            o.destination,
            p.seqs[a],
            o.message.messageId,
            { file, offset: payload + loc.offset, length: loc.length },
            loc.bodyBytes,
          )
          a++
          break
        }
        case 'remove':
          this.index.remove(o.destination, o.seq)
          break
        case 'purge':
          this.index.purge(o.destination)
          break
        case 'putSubscription':
          this.index.putSubscription({ ...o.subscription }, file)
          break
        case 'removeSubscription':
          this.index.removeSubscription(o.clientId, o.subscriptionName)
          break
      }
    }
    this.changesSinceCheckpoint++
  }

  private async timedSync(h: FileHandleIO) {
    const t0 = performance.now()
    await h.sync()
    const ms = performance.now() - t0
    this.syncs++
    this.syncSumMs += ms
    for (let i = 0; i < SYNC_BUCKETS_MS.length; i++) if (ms <= SYNC_BUCKETS_MS[i]) this.syncHist[i]++
  }

  /** A durable write counts as one sync in the stats (its time includes the write). */
  private async timedDurableWrite(h: FileHandleIO, buf: Uint8Array, position: number) {
    const t0 = performance.now()
    try {
      await h.writeDurable!(buf, position)
    } catch (e) {
      // Some of the bytes may have reached the file without being durable: the next commit must sync first.
      this.unsynced = true
      throw e
    }
    const ms = performance.now() - t0
    this.syncs++
    this.syncSumMs += ms
    for (let i = 0; i < SYNC_BUCKETS_MS.length; i++) if (ms <= SYNC_BUCKETS_MS[i]) this.syncHist[i]++
  }

  private async syncCurrent() {
    if (!this.cur || !this.unsynced) return
    this.unsynced = false
    try {
      await this.timedSync(this.cur.h)
    } catch (e) {
      this.unsynced = true
      throw e
    }
  }

  private async assertFence() {
    if (this.opts.fence) await this.opts.fence.assertCurrent()
  }

  /** Our own check of the directory (cheap readdir): used on rolls and before deleting anything. */
  private async assertNoNewerEpoch(what: string) {
    const seals = await readSeals(this.io, this.dir)
    const top = maxSealEpoch(seals)
    if (top > this.epoch) {
      throw new BrokerError(
        'STORAGE_FENCED',
        `store ${this.dir}: epoch ${top} sealed this store while we (epoch ${this.epoch}) were about to ${what}`,
        { details: { epoch: this.epoch, newer: top } },
      )
    }
  }

  private async roll() {
    await this.syncCurrent()
    await this.assertNoNewerEpoch('start a new segment')
    let max = 0
    for (const id of this.segments.keys()) max = Math.max(max, id)
    await this.createSegment(max + 1)
  }

  private fail(e: Error) {
    if (this.state === 'failed' || this.state === 'closed') return
    const err = isBrokerError(e) ? e : new BrokerError('STORAGE_IO', `store ${this.dir}: ${e.message}`, { cause: e })
    this.failure = err
    const wasClosing = this.state === 'closing'
    this.state = 'failed'
    for (const p of this.pending.splice(0)) this.settle(p, err)
    log.error(`store ${this.dir}: fatal${wasClosing ? ' while closing' : ''}, no further writes accepted`, err)
    try {
      this.opts.onFatalError?.(err)
    } catch (cbErr) {
      log.error('onFatalError callback threw', cbErr)
    }
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  async load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    this.checkOpen('load()')
    if (typeof destination !== 'string')
      throw new BrokerError('STORAGE_INVALID_OP', `load(): destination ${JSON.stringify(destination)} is not a string`)
    if (typeof afterSeq !== 'number' || Number.isNaN(afterSeq))
      throw new BrokerError(
        'STORAGE_INVALID_OP',
        `load(${destination}): afterSeq ${JSON.stringify(afterSeq)} is not a number`,
      )
    if (!Number.isInteger(limit) || limit < 1)
      throw new BrokerError(
        'STORAGE_INVALID_OP',
        `load(${destination}): limit ${JSON.stringify(limit)} is not a positive integer`,
      )
    const out: StoredMessage[] = []
    let after = afterSeq
    // Bounded: every turn moves `after` past at least one index entry (a corrupt one found is skipped next turn).
    while (out.length < limit) {
      const want = this.snapshot(destination, after, limit - out.length, null)
      if (want.length === 0) break
      await this.readLocations(destination, want, out)
      after = want[want.length - 1].seq
    }
    return out
  }

  /**
   * Locations of the live messages of `destination` with seq > afterSeq, at most `max`, known-corrupt ones left
   * out; with `before`, only those stored before that journal position. Taken synchronously: the index may change
   * while we read.
   */
  private snapshot(
    destination: string,
    afterSeq: number,
    max: number,
    before: { file: number; offset: number } | null,
  ): Want[] {
    const d = this.index.dests.get(destination)
    const want: Want[] = []
    if (!d) return want
    for (let i = d.upper(afterSeq); i < d.n && want.length < max; i++) {
      if (!d.alive[i]) continue
      const file = d.file[i]
      const off = d.off[i]
      if (before && (file > before.file || (file === before.file && off >= before.offset))) continue
      if (this.corruptAt.has(`${file}:${off}`)) continue
      want.push({ seq: d.seq[i], file, off, len: d.len[i] })
    }
    return want
  }

  /**
   * Read the messages at `want` (neighbours of one segment in one read). Intact ones are decoded into `out` (or,
   * with `out` null, only CRC-checked); corrupt ones are reported once and skipped. Returns how many were intact.
   */
  private async readLocations(destination: string, want: Want[], out: StoredMessage[] | null): Promise<number> {
    const files = [...new Set(want.map((w) => w.file))]
    for (const f of files) this.readers.set(f, (this.readers.get(f) ?? 0) + 1)
    let intact = 0
    try {
      let i = 0
      // Bounded: each turn consumes at least one entry.
      while (i < want.length) {
        const first = want[i]
        let j = i + 1
        let end = first.off + first.len
        while (
          j < want.length &&
          want[j].file === first.file &&
          want[j].off >= end &&
          want[j].off - end <= LOAD_GAP_BYTES_MAX &&
          want[j].off + want[j].len - first.off <= LOAD_SPAN_BYTES_MAX
        ) {
          end = want[j].off + want[j].len
          j++
        }
        const file = this.path(segmentName(first.file))
        const h = await this.readHandle(first.file)
        const buf = Buffer.allocUnsafe(end - first.off)
        const got = await h.read(buf, buf.length, first.off)
        for (let k = i; k < j; k++) {
          const w = want[k]
          const at = w.off - first.off
          if (at + w.len > got) {
            this.reportCorrupt(
              file,
              w,
              destination,
              `message cut short (segment ends ${w.off + w.len - (first.off + got)} bytes early)`,
            )
            continue
          }
          const b = buf.subarray(at, at + w.len)
          if (out === null) {
            const bad = verifyAddOp(b)
            if (bad !== null) this.reportCorrupt(file, w, destination, bad)
            else intact++
            continue
          }
          try {
            // A large message read alone: checksummed in slices and its body kept as a view of the read buffer.
            const alone = j === i + 1 && w.len > COPY_SLICE_BYTES
            const crc = alone ? await checksumInSlices(b, ADD_OP_CRC_FROM, b.length) : undefined
            const m = decodeAddOp(b, `journal ${file} offset ${w.off}`, { crc, bodyView: alone })
            m.seq = w.seq
            out.push(m)
            intact++
          } catch (e) {
            if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
            this.reportCorrupt(file, w, destination, e.message)
          }
        }
        i = j
      }
      return intact
    } finally {
      for (const f of files) {
        const n = (this.readers.get(f) ?? 1) - 1
        if (n <= 0) this.readers.delete(f)
        else this.readers.set(f, n)
      }
    }
  }

  /** A stored message failed its CRC: say so loudly, once per open, and never serve it (it stays in the store). */
  private reportCorrupt(file: string, w: Want, destination: string, reason: string) {
    const key = `${w.file}:${w.off}`
    if (this.corruptAt.has(key)) return
    this.corruptAt.add(key)
    const why = `message seq ${w.seq} of ${destination}: ${reason}; not delivered, kept in the store`
    this.corruptCount++
    if (this.corruptList.length < CORRUPT_REPORT_MAX) this.corruptList.push({ file, offset: w.off, reason: why })
    log.error(`store ${this.dir}: corrupt message at ${file}:${w.off}: ${why}`, {
      code: 'STORAGE_CORRUPT_RECORD',
      file,
      offset: w.off,
      destination,
      seq: w.seq,
    })
  }

  /**
   * kahaDB recovery trusts the checkpoint and does not re-read the messages before it, so after open this checks
   * each of them against its CRC in the background (paged, yielding between pages, stopped by close()), so rot
   * in a stopped broker's journal is reported at startup rather than when a consumer reaches the message.
   */
  private async verifyCheckpointed(before: { file: number; offset: number }) {
    const started = this.clock.now()
    const found0 = this.corruptCount
    let checked = 0
    try {
      for (const destination of [...this.index.dests.keys()]) {
        let after = -Infinity
        // Bounded: every page moves `after` forward; the destination's index is finite.
        for (;;) {
          if (this.state !== 'open') {
            this.verification = 'stopped'
            return
          }
          const want = this.snapshot(destination, after, VERIFY_PAGE_MESSAGES, before)
          if (want.length === 0) break
          checked += want.length
          this.verifiedMessages += await this.readLocations(destination, want, null)
          after = want[want.length - 1].seq
          await new Promise<void>((r) => setImmediate(r))
        }
      }
      this.verification = 'done'
      const found = this.corruptCount - found0
      const line = `store ${this.dir}: verified ${checked} checkpointed message(s) in ${this.clock.now() - started} ms, ${found} corrupt`
      if (found > 0) log.error(line)
      else log.info(line)
    } catch (e) {
      if (this.state !== 'open') {
        this.verification = 'stopped'
        return
      }
      this.verification = 'stopped'
      log.error(`store ${this.dir}: verification of checkpointed messages stopped: ${(e as Error).message}`)
    }
  }

  /** Resolves when the background verification started by open() has finished or stopped (tests, tools). */
  verified(): Promise<void> {
    return this.verifying ?? Promise.resolve()
  }

  private async readHandle(file: number): Promise<FileHandleIO> {
    let e = this.readHandles.get(file)
    if (!e) {
      if (this.readHandles.size >= READ_HANDLES_MAX) {
        let victim: number | null = null
        let oldest = Infinity
        for (const [f, x] of this.readHandles)
          if (!this.readers.has(f) && x.usedAt < oldest) (oldest = x.usedAt), (victim = f)
        if (victim !== null) this.closeReadHandle(victim)
      }
      e = { h: this.io.open(this.path(segmentName(file)), 'read'), users: 0, usedAt: 0 }
      e.h.catch(() => this.readHandles.delete(file))
      this.readHandles.set(file, e)
    }
    e.usedAt = performance.now()
    return e.h
  }

  private closeReadHandle(file: number) {
    const e = this.readHandles.get(file)
    if (!e) return
    this.readHandles.delete(file)
    e.h.then((h) => h.close()).catch(() => {})
  }

  isDuplicate(messageId: string): boolean {
    this.checkOpen('isDuplicate()')
    return this.index.dedupe.has(messageId) || this.pendingIds.has(messageId)
  }

  stats(): StoreStats {
    let bytes = this.ckptBytes
    for (const s of this.segments.values()) bytes += s.size
    // syncHist is kept cumulative (a sync counts in every bucket whose bound it is under).
    const syncLatencyMs = SYNC_BUCKETS_MS.map((le, i) => ({ le, count: this.syncHist[i] }))
    return {
      adapter: this.kind,
      directory: this.dir,
      bytes,
      messages: this.index.messages,
      destinations: this.index.summaries(),
      syncs: this.syncs,
      syncLatencyMs,
      syncLatencySumMs: this.syncSumMs,
      integrity: {
        corrupt: [...this.corruptList],
        corruptCount: this.corruptCount,
        tornTail: this.lastReport?.tornTail ?? null,
        fencedRecordsIgnored: this.lastReport?.fencedRecordsIgnored ?? 0,
        verification: this.verification,
        verifiedMessages: this.verifiedMessages,
      },
    }
  }

  // ---- checkpoint / GC ---------------------------------------------------------------------------------------

  checkpoint(): Promise<void> {
    try {
      this.checkOpen('checkpoint()')
    } catch (e) {
      return Promise.reject(e)
    }
    return this.enqueueTask(() => this.doCheckpoint(true))
  }

  /** kahaDB: write the index atomically; amq: only make the journal durable (it has no index file). */
  private async doCheckpoint(force: boolean) {
    await this.syncCurrent()
    if (!this.checkpoints) return
    if (!force && this.changesSinceCheckpoint === 0) return
    const cur = this.cur!
    const meta: CheckpointMeta = { epoch: this.epoch, file: cur.id, offset: cur.size, createdAt: this.clock.now() }
    const buf = encodeCheckpoint(this.index, meta)
    const name = `index-${this.epoch}.ckpt`
    const tmp = this.path(`${name}.tmp`)
    await this.io.unlink(tmp)
    const h = await this.io.open(tmp, 'createExclusive')
    try {
      await h.write(buf, 0)
      await this.timedSync(h)
    } finally {
      await h.close()
    }
    // Like a group commit: only a still-current primary may publish what recovery will trust.
    await this.assertFence()
    await this.io.rename(tmp, this.path(name))
    await this.io.syncDir(this.dir)
    this.ckpt = meta
    this.ckptBytes = buf.length
    this.changesSinceCheckpoint = 0
    // Older epochs' index files are superseded (recovery takes the highest epoch's).
    for (const n of await this.io.readdir(this.dir)) {
      const m = /^index-(\d+)\.ckpt$/.exec(n)
      if (m && Number(m[1]) < this.epoch) await this.io.unlink(this.path(n))
    }
  }

  /** Run GC now (also runs every cleanupIntervalMs). Resolves with the ids of the deleted segments. */
  async cleanup(): Promise<number[]> {
    this.checkOpen('cleanup()')
    let deleted: number[] = []
    await this.enqueueTask(async () => {
      deleted = await this.doCleanup()
    })
    return deleted
  }

  private async doCleanup(): Promise<number[]> {
    const cur = this.cur!
    const ids = [...this.segments.keys()].sort((a, b) => a - b)
    const free = (id: number) => id !== cur.id && !this.index.refs.has(id) && !this.readers.has(id)
    let doomed: number[]
    if (this.checkpoints) {
      const candidates = ids.filter(free)
      if (candidates.length === 0) return []
      // Segments at or after the checkpoint position are still needed for replay: move the checkpoint forward first.
      if (!this.ckpt || candidates.some((id) => id >= this.ckpt!.file)) await this.doCheckpoint(true)
      doomed = candidates.filter((id) => id < this.ckpt!.file)
    } else {
      doomed = []
      for (const id of ids) {
        if (!free(id)) break
        doomed.push(id)
      }
      if (doomed.length === 0) return []
      const set = new Set(doomed)
      // Always written: besides live records it carries nextSeq, so seqs keep growing when every old segment goes.
      const carry = {
        nextSeq: this.index.nextSeq,
        subscriptions: [...this.index.subs.values()].filter((s) => set.has(s.file)).map((s) => s.rec),
        dedupe: [...this.index.dedupe.entries()].filter(([, f]) => set.has(f)).map(([id]) => id),
      }
      await this.writeCarry(carry)
    }
    if (doomed.length === 0) return []
    // Never delete for a newer primary: it may still need these bytes.
    await this.assertFence()
    await this.assertNoNewerEpoch('delete journal segments')
    for (const id of doomed) {
      this.closeReadHandle(id)
      await this.io.unlink(this.path(segmentName(id)))
      this.segments.delete(id)
    }
    await this.io.syncDir(this.dir)
    await this.pruneSeals()
    log.debug(`store ${this.dir}: GC deleted ${doomed.length} segment(s)`, { segments: doomed })
    return doomed
  }

  /** amq GC: copy live subscriptions and dedupe ids forward before the segments holding them go. */
  private async writeCarry(carry: CarryPayload) {
    const record = frameRecord(RT_CARRY, this.epoch, encodeCarry(carry))
    if (this.cur!.size > SEGMENT_HEADER_BYTES && this.cur!.size + record.length > this.maxFileLength) await this.roll()
    const cur = this.cur!
    await cur.h.write(record, cur.size)
    cur.size += record.length
    this.segments.get(cur.id)!.size = cur.size
    this.unsynced = true
    await this.syncCurrent()
    await this.assertFence()
    for (const s of carry.subscriptions) this.index.putSubscription(s, cur.id)
    for (const id of carry.dedupe) this.index.dedupe.ids.set(id, cur.id)
  }

  /** A seal of epoch s may go once no segment of an epoch below s remains (it constrains nothing any more). */
  private async pruneSeals() {
    const top = maxSealEpoch(this.seals)
    let minEpoch = Infinity
    for (const s of this.segments.values()) minEpoch = Math.min(minEpoch, s.epoch)
    let changed = false
    for (const e of [...this.seals.keys()]) {
      if (e === top || e <= minEpoch) continue
      await this.io.unlink(this.path(`${SEALS_DIR}/${e}.json`))
      this.seals.delete(e)
      changed = true
    }
    if (changed) await this.io.syncDir(this.path(SEALS_DIR))
  }

  private startTimers() {
    const every = (name: string, ms: number, fn: () => void) => {
      const arm = () => {
        const h = this.clock.setTimeout(() => {
          if (this.state !== 'open') return
          fn()
          arm()
        }, ms)
        // A store's timers alone must not keep the process alive.
        ;(h as { unref?: () => void } | null)?.unref?.()
        this.timers.set(name, h)
      }
      arm()
    }
    const quiet = (p: Promise<unknown>) => p.catch(() => {}) // failures already went to fail()/onFatalError
    if (this.syncPolicy === 'periodic')
      every('sync', this.opts.syncIntervalMs ?? 1000, () => void quiet(this.enqueueTask(() => this.syncCurrent())))
    const ck = this.opts.checkpointIntervalMs ?? 5000
    if (this.checkpoints && ck > 0)
      every('checkpoint', ck, () => void quiet(this.enqueueTask(() => this.doCheckpoint(false))))
    const gc = this.opts.cleanupIntervalMs ?? 30_000
    if (gc > 0) every('cleanup', gc, () => void quiet(this.enqueueTask(async () => void (await this.doCleanup()))))
  }

  private stopTimers() {
    for (const t of this.timers.values()) this.clock.clearTimeout(t)
    this.timers.clear()
  }

  // ---- close -------------------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.state === 'new' || this.state === 'closed') return
    if (this.state === 'opening')
      throw new BrokerError('STORAGE_IO', `store ${this.dir}: close() called while open() is still running`)
    if (!this.closing) this.closing = this.doClose().finally(() => (this.closing = null))
    return this.closing
  }

  private closing: Promise<void> | null = null

  private async doClose() {
    this.stopTimers()
    if (this.state === 'open') {
      this.state = 'closing'
      // Pending writes complete (or fail with a code); new ones already get STORAGE_CLOSED.
      this.kick()
      await this.whenIdle()
      // The background verification sees 'closing' and stops after its current page (it holds read handles).
      this.verifyDelayEnd?.()
      await this.verifying
      if ((this.state as State) === 'closing') {
        try {
          await this.doCheckpoint(false)
        } catch (e) {
          // A node that is stepping down (even for a clean stop) no longer passes the epoch fence, so the final
          // checkpoint is refused by design: nothing is lost, the next open replays the journal since the last
          // periodic checkpoint. Only other failures are errors.
          if (isBrokerError(e, 'ELECTION_FENCED') || isBrokerError(e, 'STORAGE_FENCED')) {
            log.info(
              `store ${this.dir}: final checkpoint not written (${e.message}); the next open replays the journal since the last checkpoint`,
            )
          } else log.error(`store ${this.dir}: final checkpoint failed; the next open replays more journal`, e)
        }
      }
    }
    await this.closeHandles()
    this.state = 'closed'
  }

  private async closeHandles() {
    for (const f of [...this.readHandles.keys()]) this.closeReadHandle(f)
    const cur = this.cur
    this.cur = null
    if (cur) await cur.h.close().catch(() => {})
  }

  /** For tests and tools: segment ids on disk, oldest first, and the one being written. */
  segmentIds(): { ids: number[]; current: number | null } {
    return { ids: [...this.segments.keys()].sort((a, b) => a - b), current: this.cur?.id ?? null }
  }
}

function validateOptions(o: OpenOptions) {
  const bad = (field: string, v: unknown, want: string) =>
    new BrokerError('CONFIG_INVALID', `storage open ${field}: ${JSON.stringify(v)} is not ${want}`, {
      details: { field, value: v },
    })
  if (!o || typeof o.directory !== 'string' || o.directory === '')
    throw bad('directory', o?.directory, 'a non-empty path')
  if (!Number.isInteger(o.epoch) || o.epoch < 1 || o.epoch > 0xffffffff)
    throw bad('epoch', o.epoch, 'an integer in 1..4294967295')
  if (o.syncPolicy !== undefined && !['always', 'periodic', 'never'].includes(o.syncPolicy))
    throw bad('syncPolicy', o.syncPolicy, 'always, periodic or never')
  if (
    o.journalMaxFileLength !== undefined &&
    (!Number.isInteger(o.journalMaxFileLength) ||
      o.journalMaxFileLength < JOURNAL_MAX_FILE_LENGTH_MIN ||
      o.journalMaxFileLength > JOURNAL_MAX_FILE_LENGTH_MAX)
  ) {
    throw bad(
      'journalMaxFileLength',
      o.journalMaxFileLength,
      `an integer number of bytes in ${JOURNAL_MAX_FILE_LENGTH_MIN}..${JOURNAL_MAX_FILE_LENGTH_MAX}`,
    )
  }
  for (const f of ['syncIntervalMs', 'checkpointIntervalMs', 'cleanupIntervalMs'] as const) {
    const v = o[f]
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw bad(f, v, 'a non-negative number of milliseconds')
  }
  if (o.syncPolicy === 'periodic' && o.syncIntervalMs !== undefined && o.syncIntervalMs <= 0)
    throw bad('syncIntervalMs', o.syncIntervalMs, 'a positive number of milliseconds with syncPolicy periodic')
  if (o.dedupeWindow !== undefined && (!Number.isInteger(o.dedupeWindow) || o.dedupeWindow < 0))
    throw bad('dedupeWindow', o.dedupeWindow, 'a non-negative integer')
}

function validateOps(ops: StoreOp[]) {
  if (!Array.isArray(ops)) throw new BrokerError('STORAGE_INVALID_OP', `write(): ops ${typeof ops} is not an array`)
  ops.forEach((o, i) => {
    const bad = (what: string, v: unknown, want: string) =>
      new BrokerError(
        'STORAGE_INVALID_OP',
        `write() ops[${i}] (${o?.op}) ${what}: ${JSON.stringify(v)?.slice(0, 100)} is not ${want}`,
        { details: { index: i } },
      )
    const str = (what: string, v: unknown, nonEmpty = true) => {
      if (typeof v !== 'string' || (nonEmpty && v === ''))
        throw bad(what, v, nonEmpty ? 'a non-empty string' : 'a string')
    }
    switch (o?.op) {
      case 'add': {
        str('destination', o.destination)
        const m = o.message
        if (!m || typeof m !== 'object') throw bad('message', m, 'an object')
        str('message.messageId', m.messageId, false)
        if (!(m.body instanceof Uint8Array)) throw bad('message.body', typeof m.body, 'a Uint8Array')
        if (!m.headers || typeof m.headers !== 'object') throw bad('message.headers', m.headers, 'an object of strings')
        for (const [k, v] of Object.entries(m.headers))
          if (typeof v !== 'string') throw bad(`message.headers[${JSON.stringify(k)}]`, v, 'a string')
        break
      }
      case 'remove':
        str('destination', o.destination)
        if (typeof o.seq !== 'number' || !Number.isFinite(o.seq)) throw bad('seq', o.seq, 'a finite number')
        break
      case 'purge':
        str('destination', o.destination)
        break
      case 'putSubscription': {
        const s = o.subscription
        if (!s || typeof s !== 'object') throw bad('subscription', s, 'an object')
        str('subscription.clientId', s.clientId)
        str('subscription.subscriptionName', s.subscriptionName)
        str('subscription.destination', s.destination)
        str('subscription.storeKey', s.storeKey)
        break
      }
      case 'removeSubscription':
        str('clientId', o.clientId)
        str('subscriptionName', o.subscriptionName)
        break
      default:
        throw bad('op', (o as { op?: unknown })?.op, 'one of add, remove, purge, putSubscription, removeSubscription')
    }
  })
}
