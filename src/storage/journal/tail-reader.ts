/**
 * JournalTailReader: a warm replica's read-only view of a kahaDB or amq store that another node (the primary) is
 * writing. It builds the same in-memory index a cold open would (kahaDB: the newest checkpoint, then the journal
 * after its position; amq: every segment), then, on each poll(), reads only the journal bytes written since its last
 * position and applies them with the very code recovery uses (replay.ts). JournalStore.open({ standby }) adopts the
 * index and replays only what lies after the reader's position, so a takeover no longer depends on the store size.
 * Where a (re)build starts (marker, checkpoint) is tail-start.ts; segment headers are read by tail-segments.ts.
 *
 * Read-only, always: it never writes, syncs, truncates, creates or deletes a file (not even the seals directory).
 * A file is opened afresh on every poll (NFS close-to-open). Records are CRC-checked; the first record that is not
 * complete and valid stops the poll there (a torn tail, bytes not yet visible, or damage) and is retried next poll:
 * judging it (cut off as torn, or report as corrupt) is left to the open() that takes over, which re-reads every byte
 * after this reader's position with the full recovery rules. Records a newer epoch's seal excludes are never applied.
 *
 * When its view cannot be trusted any more (a segment deleted before it was read, one that appeared behind its
 * position, bytes applied past a seal that appeared later, a checkpoint or marker it cannot read) it throws its state
 * away and rebuilds from the store (a "resync"), and open() re-checks all of that again before adopting anything.
 *
 * Not promised: keeping up with a primary that writes faster than the reader applies (it then lags, and the takeover
 * replays the lag); verification of the message bodies the initial checkpoint covered (open() runs that as usual).
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { AdapterKind } from '../../config/types.ts'
import type { StandbyOptions, StandbyProgress, StandbyReader, StandbyStats } from '../types.ts'
import { nodeFileIO, type FileIO } from './file-io.ts'
import {
  parseSegmentName,
  RECORD_BYTES_MAX_DEFAULT,
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from './format.ts'
import { IndexState } from './index-state.ts'
import { readSeals, sealLimit, type Seal } from './seals.ts'
import { plausibleAt } from './segment-scanner.ts'
import { applyRecord } from './replay.ts'
import { readTailStart } from './tail-start.ts'
import { readSegmentEpoch, type TailSegment } from './tail-segments.ts'

export type { TailSegment } from './tail-segments.ts'

const log = logger('storage')

/** Bytes read from a segment per read (a record larger than this is read whole, alone). */
export const TAIL_READ_CHUNK_BYTES = 4 * 1024 * 1024
/** Rebuilds one poll() may do before it gives up until the next poll (the store keeps changing under it). */
const RESYNCS_PER_POLL_MAX = 2
/** Dedupe window default, as JournalStore's (kept here to avoid an import cycle). */
const DEDUPE_WINDOW_DEFAULT = 100_000

/** The state handed to JournalStore.open(): everything before `cursor` is applied to `index`. */
export interface TailHandOver {
  kind: AdapterKind
  directory: string
  dedupeWindow: number
  index: IndexState
  cursor: { file: number; offset: number }
  /** The checkpoint position the index was built from (its messages' bodies were not re-read), or null. */
  checkpointFrom: { file: number; offset: number } | null
  segments: Map<number, TailSegment>
  /** Records whose bytes were complete and CRC-valid but did not decode (recovery reports the same). */
  corrupt: { file: string; offset: number; reason: string }[]
  fencedRecordsIgnored: number
}

export class JournalTailReader implements StandbyReader {
  readonly directory: string
  private readonly io: FileIO
  private readonly recordBytesMax: number
  private readonly dedupeWindow: number
  /** Whether 0.1.0 (format 1) segments may be followed: a legacy reader was given (StandbyOptions.legacyMessage). */
  private readonly legacy: boolean
  private state: 'open' | 'polling' | 'taken' | 'closed' = 'open'
  /** Why the next poll must rebuild first (null: the view is current). */
  private dirty: string | null = 'first poll'
  private built = false
  private index: IndexState
  private cursor = { file: 0, offset: SEGMENT_HEADER_BYTES }
  private checkpointFrom: { file: number; offset: number } | null = null
  private segs = new Map<number, TailSegment>()
  private corrupt: { file: string; offset: number; reason: string }[] = []
  private fenced = 0
  private seals = new Map<number, Seal>()
  private recordsApplied = 0
  private bytesRead = 0
  private resyncs = 0

  constructor(
    readonly kind: AdapterKind,
    private readonly checkpoints: boolean,
    opts: StandbyOptions,
    deps: { io?: FileIO; recordBytesMax?: number } = {},
  ) {
    this.directory = opts.directory.replace(/\/+$/, '') || '/'
    this.io = deps.io ?? nodeFileIO
    this.recordBytesMax = deps.recordBytesMax ?? RECORD_BYTES_MAX_DEFAULT
    this.dedupeWindow = opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT
    this.legacy = opts.legacyMessage !== undefined
    this.index = new IndexState(this.dedupeWindow)
  }

  private path(name: string) {
    return `${this.directory}/${name}`
  }

  async poll(signal: { aborted: boolean } = { aborted: false }): Promise<StandbyProgress> {
    if (this.state !== 'open')
      throw new BrokerError(
        'STORAGE_CLOSED',
        `standby reader ${this.directory}: poll() on a reader that is ${this.state}`,
      )
    this.state = 'polling'
    const progress: StandbyProgress = { recordsApplied: 0, bytesRead: 0, resynced: null, waitingAt: null }
    try {
      // Bounded: at most RESYNCS_PER_POLL_MAX rebuilds, then the rest waits for the next poll.
      for (let attempt = 0; ; attempt++) {
        if (this.dirty !== null) {
          if (attempt >= RESYNCS_PER_POLL_MAX) break
          const why = this.dirty
          await this.build()
          this.dirty = null
          if (this.built && why !== 'first poll') {
            this.resyncs++
            progress.resynced = why
            log.info(`standby ${this.directory}: rebuilt the index from the store (${why})`)
          }
          this.built = true
        }
        await this.follow(signal, progress)
        if (this.dirty === null || signal.aborted) break
      }
      return progress
    } catch (e) {
      // An I/O error or a store we cannot read: rebuild from scratch next time.
      this.dirty = `poll failed: ${(e as Error).message}`
      throw e
    } finally {
      if (this.state === 'polling') this.state = 'open'
    }
  }

  /** Throw the view away and build it again from the store as it is now (read-only). */
  private async build() {
    this.index = new IndexState(this.dedupeWindow)
    this.cursor = { file: 0, offset: SEGMENT_HEADER_BYTES }
    this.checkpointFrom = null
    this.segs = new Map()
    this.corrupt = []
    this.fenced = 0
    const start = await readTailStart(this.io, this.directory, this.kind, this.checkpoints, this.dedupeWindow)
    const names = start.names
    if (start.checkpoint) {
      this.index = start.checkpoint.index
      this.cursor = start.checkpoint.cursor
      this.checkpointFrom = start.checkpoint.from
    }
    // Segments the start position lies after are covered (kahaDB: the checkpoint holds their effect).
    for (const n of names) {
      const id = parseSegmentName(n)
      if (id !== null && id < this.cursor.file)
        this.segs.set(id, { id, epoch: -1, end: 0, covered: true, skipped: false })
    }
  }

  /** One pass over the journal from the cursor; sets `dirty` when the view cannot be trusted any more. */
  private async follow(signal: { aborted: boolean }, progress: StandbyProgress) {
    // Listing first, seals second: a segment of epoch E exists only after E's seal was written, so every segment
    // listed here is judged against every seal that constrains it.
    const ids = (await this.io.readdir(this.directory))
      .map(parseSegmentName)
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b)
    this.seals = await readSeals(this.io, this.directory)
    const present = new Set(ids)
    for (const s of this.segs.values()) {
      if (!s.covered && !s.skipped && s.end > Math.max(SEGMENT_HEADER_BYTES, sealLimit(this.seals, s.id, s.epoch)))
        return void (this.dirty = `applied bytes of ${segmentName(s.id)} beyond a seal written since`)
      if (present.has(s.id)) continue
      if (s.id >= this.cursor.file)
        return void (this.dirty = `${segmentName(s.id)} was deleted before it was read to its end`)
      this.segs.delete(s.id) // GC'd after we were done with it
    }
    for (const id of ids) {
      if (id < this.cursor.file && !this.segs.has(id))
        return void (this.dirty = `${segmentName(id)} appeared behind the reader's position`)
    }
    const ahead = ids.filter((id) => id >= this.cursor.file)
    if (ahead.length === 0) return
    // The checkpoint's segment must still be there, else what it held after the checkpoint position is gone.
    if (ahead[0] !== this.cursor.file && this.cursor.offset > SEGMENT_HEADER_BYTES)
      return void (this.dirty = `${segmentName(this.cursor.file)} (the start position) is gone`)
    for (let i = 0; i < ahead.length; i++) {
      const id = ahead[i]
      const isLast = i === ahead.length - 1
      if (i > 0 && id !== ahead[i - 1] + 1)
        return void (this.dirty = `segments ${segmentName(ahead[i - 1] + 1)}..${segmentName(id - 1)} are missing`)
      if (signal.aborted) return
      if (id !== this.cursor.file) this.cursor = { file: id, offset: SEGMENT_HEADER_BYTES }
      let seg = this.segs.get(id)
      if (!seg) {
        const hd = await readSegmentEpoch(this.io, this.directory, id, this.legacy)
        if (hd === 'short') {
          // Being created (header not yet written), or a crash while creating it: recovery skips it then.
          if (isLast) return
          seg = { id, epoch: 0, end: 0, covered: false, skipped: true }
        } else if (hd === 'gone') {
          return void (this.dirty = `${segmentName(id)} was deleted before it was read`)
        } else if (hd === 'bad') {
          seg = { id, epoch: 0, end: 0, covered: false, skipped: true }
        } else {
          seg = {
            id,
            epoch: hd,
            end: id === this.cursor.file ? this.cursor.offset : SEGMENT_HEADER_BYTES,
            covered: false,
            skipped: false,
          }
        }
        this.segs.set(id, seg)
      }
      if (seg.skipped) continue
      const done = await this.readSegment(seg, signal, progress)
      if (done === 'gone') return void (this.dirty = `${segmentName(id)} was deleted while it was read`)
      // Move on only when the segment can get no more records of ours: a later segment exists (its writer finished
      // this one first) and we read it to its end (or to its seal).
      if (isLast || done !== 'end') return
    }
  }

  /**
   * Apply the complete, valid records of `seg` after `seg.end`. 'end': read to its end (or its seal); 'wait': stopped
   * at a record not (yet) complete and valid, or aborted; 'gone': deleted meanwhile.
   */
  private async readSegment(
    seg: TailSegment,
    signal: { aborted: boolean },
    progress: StandbyProgress,
  ): Promise<'end' | 'wait' | 'gone'> {
    const file = this.path(segmentName(seg.id))
    const limit = sealLimit(this.seals, seg.id, seg.epoch)
    let h
    try {
      h = await this.io.open(file, 'read')
    } catch (e) {
      if ((e as BrokerError).details?.errno === 'ENOENT') return 'gone'
      throw e
    }
    try {
      const size = await h.size()
      let need = 0
      // Bounded: every turn consumes at least one record or returns.
      while (seg.end < size) {
        if (seg.end >= limit) {
          // Bytes a deposed primary wrote after the seal: never ours (recovery counts them).
          return 'end'
        }
        if (signal.aborted) return 'wait'
        const want = Math.min(size - seg.end, Math.max(TAIL_READ_CHUNK_BYTES, need))
        const buf = Buffer.allocUnsafe(want)
        const got = await h.read(buf, want, seg.end)
        const data = buf.subarray(0, got)
        this.bytesRead += got
        progress.bytesRead += got
        let p = 0
        let stop: string | null = null
        need = 0
        while (p < data.length) {
          if (data.length - p < RECORD_HEADER_BYTES && seg.end + got < size) {
            need = RECORD_HEADER_BYTES
            break
          }
          const n = plausibleAt(data, p, seg.epoch, this.recordBytesMax)
          if (n === -2 && got === want && seg.end + got < size) {
            // The record runs past this chunk but maybe not past the file: read it whole next turn.
            const len = data.length - p >= RECORD_HEADER_BYTES ? data.readUInt32LE(p) : 0
            need = RECORD_HEADER_BYTES + len
            break
          }
          if (n <= 0) {
            stop =
              n === -2
                ? 'incomplete record (not yet written or not yet visible)'
                : n === -3
                  ? 'checksum mismatch (incomplete, not yet visible, or damaged)'
                  : 'no valid record header (not yet visible, or damaged)'
            break
          }
          const off = seg.end + p
          if (off + n > limit) {
            this.fenced++
            stop = 'sealed'
            break
          }
          try {
            applyRecord(this.index, data, data[p + 8], p + RECORD_HEADER_BYTES, p + n, off, seg.id, `journal ${file}`)
            this.recordsApplied++
            progress.recordsApplied++
          } catch (e) {
            if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
            // Complete and CRC-valid but undecodable: recovery reports and skips the same record the same way.
            this.corrupt.push({ file, offset: off, reason: e.message })
            log.error(`standby ${this.directory}: corrupt record at ${file}:${off}: ${e.message}`)
          }
          p += n
        }
        seg.end += p
        this.cursor = { file: seg.id, offset: seg.end }
        if (stop === 'sealed') return 'end'
        if (stop !== null) {
          progress.waitingAt = { file, offset: seg.end, reason: stop }
          return 'wait'
        }
        if (p === 0 && need === 0) return 'wait'
        // Let the election's timers and heartbeats run between chunks.
        await new Promise<void>((r) => setImmediate(r))
      }
      return 'end'
    } finally {
      await h.close()
    }
  }

  /** @internal JournalStore.open(): take the state over. The reader cannot poll afterwards. Null if never built. */
  handOver(): TailHandOver | null {
    if (this.state === 'polling') throw new Error('assertion failed: handOver() while a poll is running')
    const ready = this.state === 'open' && this.built && this.dirty === null
    this.state = 'taken'
    if (!ready) return null
    return {
      kind: this.kind,
      directory: this.directory,
      dedupeWindow: this.dedupeWindow,
      index: this.index,
      cursor: { ...this.cursor },
      checkpointFrom: this.checkpointFrom,
      segments: this.segs,
      corrupt: this.corrupt,
      fencedRecordsIgnored: this.fenced,
    }
  }

  stats(): StandbyStats {
    let indexBytes = 0
    for (const d of this.index.dests.values()) indexBytes += d.cap * 29
    // A Map entry plus a short string: about 100 bytes per remembered message id.
    indexBytes += this.index.dedupe.size * 100
    return {
      adapter: this.kind,
      directory: this.directory,
      ready: this.built && this.dirty === null,
      messages: this.index.messages,
      destinations: this.index.dests.size,
      position: this.built ? { ...this.cursor } : null,
      recordsApplied: this.recordsApplied,
      bytesRead: this.bytesRead,
      resyncs: this.resyncs,
      indexBytes,
    }
  }

  async close(): Promise<void> {
    if (this.state === 'taken') return
    this.state = 'closed'
    this.index = new IndexState(0)
    this.segs = new Map()
  }
}
