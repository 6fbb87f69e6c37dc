/**
 * Journal: the log mechanics of one open store's journal directory. It owns the segment table (id, epoch, size
 * of every `db-<id>.log`), the segment being written, appends (one durable O_DSYNC write when everything before is
 * durable, else write then fdatasync per the sync policy), rolls to a new segment, replay of a segment into the
 * index with its torn tail cut off, deletion of segments, and the sync latency stats.
 *
 * Not owned here: what a record means (format.ts, replay.ts), which records go together (group-commit.ts), the
 * fence (asserted by the callers after an append is durable), and which segments may go (maintenance.ts).
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import type { Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { SyncPolicy } from '../../config/types.ts'
import type { RecoveryReport } from '../types.ts'
import { SyncLatency } from '../sync-latency.ts'
import type { FileHandleIO, FileIO } from './file-io.ts'
import { encodeSegmentHeader, JOURNAL_FORMAT_VERSION, SEGMENT_HEADER_BYTES, segmentName } from './format.ts'
import type { IndexState } from './index-state.ts'
import { applyRecord } from './replay.ts'
import { maxSealEpoch, readSeals, sealLimit, type Seal } from './seals.ts'
import { scanSegment } from './segment-scanner.ts'

const log = logger('storage')

/** Segment ids tried when a create collides with another writer's file. */
const SEGMENT_CREATE_ATTEMPTS_MAX = 100
const SYNC_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, Infinity]

export interface SegmentInfo {
  id: number
  epoch: number
  size: number
}

export interface JournalConfig {
  io: FileIO
  clock: Clock
  /** The store directory, without a trailing slash. */
  dir: string
  epoch: number
  syncPolicy: SyncPolicy
  maxFileLength: number
}

export class Journal {
  readonly io: FileIO
  readonly dir: string
  readonly epoch: number
  readonly syncPolicy: SyncPolicy
  readonly maxFileLength: number
  readonly segments = new Map<number, SegmentInfo>()
  readonly syncLatency = new SyncLatency(SYNC_BUCKETS_MS)
  /** The segment being written (null before recovery created it and after close). */
  cur: { id: number; h: FileHandleIO; size: number } | null = null
  /** Bytes were written to `cur` that are not known durable. */
  private unsynced = false
  private readonly clock: Clock

  constructor(c: JournalConfig) {
    this.io = c.io
    this.clock = c.clock
    this.dir = c.dir
    this.epoch = c.epoch
    this.syncPolicy = c.syncPolicy
    this.maxFileLength = c.maxFileLength
  }

  path(name: string): string {
    return `${this.dir}/${name}`
  }

  /** Whether `bytes` more would overflow the current segment (an empty segment takes any record). */
  wouldOverflow(bytes: number): boolean {
    const cur = this.cur!
    return cur.size > SEGMENT_HEADER_BYTES && cur.size + bytes > this.maxFileLength
  }

  /** Create our own segment at the first free id from `firstId` (never append to a file another run wrote). */
  async createSegment(firstId: number): Promise<void> {
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

  /** Make the current segment durable, check no newer epoch sealed the store, and start the next segment. */
  async roll(): Promise<void> {
    await this.syncCurrent()
    await this.assertNoNewerEpoch('start a new segment')
    let max = 0
    for (const id of this.segments.keys()) max = Math.max(max, id)
    await this.createSegment(max + 1)
  }

  /**
   * Append `buf` (whole records) to the current segment; under syncPolicy always it is durable on return. Returns
   * the offset it was written at. The segment's logical end moves only after the write succeeded.
   */
  async append(buf: Uint8Array): Promise<number> {
    const cur = this.cur!
    const base = cur.size
    if (this.syncPolicy === 'always' && !this.unsynced && cur.h.writeDurable) {
      // Everything before `base` is already durable, so one durable write (O_DSYNC) is the whole commit: one
      // system call and one thread-pool round trip instead of write + fdatasync.
      await this.timedDurableWrite(cur.h, buf, base)
      this.grow(cur, buf.length)
    } else {
      await cur.h.write(buf, base)
      this.grow(cur, buf.length)
      this.unsynced = true
      if (this.syncPolicy === 'always') await this.syncCurrent()
    }
    return base
  }

  /** Append and make durable whatever the sync policy (GC's carry records). Returns the offset written at. */
  async appendDurable(buf: Uint8Array): Promise<number> {
    const cur = this.cur!
    const base = cur.size
    await cur.h.write(buf, base)
    this.grow(cur, buf.length)
    this.unsynced = true
    await this.syncCurrent()
    return base
  }

  private grow(cur: { id: number; size: number }, bytes: number) {
    cur.size += bytes
    this.segments.get(cur.id)!.size = cur.size
  }

  async syncCurrent(): Promise<void> {
    if (!this.cur || !this.unsynced) return
    this.unsynced = false
    try {
      await this.timedSync(this.cur.h)
    } catch (e) {
      this.unsynced = true
      throw e
    }
  }

  async timedSync(h: FileHandleIO): Promise<void> {
    const t0 = performance.now()
    await h.sync()
    this.syncLatency.record(performance.now() - t0)
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
    this.syncLatency.record(performance.now() - t0)
  }

  /** Our own check of the directory (cheap readdir): used on rolls and before deleting anything. */
  async assertNoNewerEpoch(what: string): Promise<void> {
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

  /**
   * Replay `seg` from byte `from` into `index` up to its seal, reporting corrupt and fenced records, and cut a torn
   * tail off for good (nothing acknowledged is in it: acks follow the sync).
   */
  async replaySegment(
    seg: SegmentInfo,
    from: number,
    seals: Map<number, Seal>,
    index: IndexState,
    recordBytesMax: number,
    report: RecoveryReport,
  ): Promise<void> {
    const file = this.path(segmentName(seg.id))
    const limit = sealLimit(seals, seg.id, seg.epoch)
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
        recordBytesMax,
        onRecord: (type, ps, pe, offset) => {
          try {
            applyRecord(index, data, type, ps, pe, offset, seg.id, where)
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
        await h.truncate(res.torn.offset)
        await h.sync()
        seg.size = res.torn.offset
      }
    } finally {
      await h.close()
    }
  }

  /** Delete a segment file (the caller made sure nothing needs it). */
  async deleteSegment(id: number): Promise<void> {
    await this.io.unlink(this.path(segmentName(id)))
    this.segments.delete(id)
  }

  /** Bytes of every segment on disk. */
  bytes(): number {
    let n = 0
    for (const s of this.segments.values()) n += s.size
    return n
  }

  /** Close the segment being written (idempotent). */
  async closeCurrent(): Promise<void> {
    const cur = this.cur
    this.cur = null
    if (cur) await cur.h.close().catch(() => {})
  }
}
