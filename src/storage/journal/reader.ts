/**
 * JournalReader: reads of stored messages from the journal. load() pages a destination by seq through the index
 * and reads neighbouring messages of one segment in one read; each message is CRC-checked, and one that fails is
 * reported once (log, integrity list) and skipped, never served, while it stays in the store. It also keeps the
 * read handles (a bounded LRU) and pins the segments being read so GC leaves them alone.
 */
import { isBrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { LegacyMessageReader, StoredMessage } from '../types.ts'
import type { FileHandleIO } from './file-io.ts'
import { ADD_OP_CRC_FROM, decodeAddOp, segmentName, verifyAddOp } from './format.ts'
import type { IndexState } from './index-state.ts'
import type { Journal } from './journal.ts'
import { checksumInSlices, COPY_SLICE_BYTES } from './slices.ts'

const log = logger('storage')

/** A load() reads neighbouring messages of one segment in one read when the gap is below this and the span... */
const LOAD_GAP_BYTES_MAX = 64 * 1024
/** ...stays below this. */
const LOAD_SPAN_BYTES_MAX = 4 * 1024 * 1024
/** Read handles kept open for load(); least recently used ones beyond are closed. */
const READ_HANDLES_MAX = 64
/** Corrupt findings listed in stats().integrity (all are logged and counted). */
export const CORRUPT_REPORT_MAX = 100

/** Where one stored message lies in the journal. */
export interface Want {
  seq: number
  file: number
  off: number
  len: number
}

export type Finding = { file: string; offset: number; reason: string }

export class JournalReader {
  private readonly readHandles = new Map<number, { h: Promise<FileHandleIO>; usedAt: number }>()
  /** Segments being read now: id -> readers. */
  private readonly pins = new Map<number, number>()
  /** Corrupt messages found since open ("file:offset"), and the report of them (see StoreIntegrity). */
  private readonly corruptAt = new Set<string>()
  readonly corruptList: Finding[]
  corruptCount: number

  constructor(
    private readonly journal: Journal,
    private readonly index: IndexState,
    /** What recovery found corrupt. */
    recovered: Finding[],
    /** Reader of 0.1.0 (format 1) add ops, from OpenOptions.legacyMessage. */
    private readonly legacy?: LegacyMessageReader,
  ) {
    this.corruptCount = recovered.length
    this.corruptList = recovered.slice(0, CORRUPT_REPORT_MAX)
  }

  /** Whether a load() or verification is reading segment `id` now. */
  pinned(id: number): boolean {
    return this.pins.has(id)
  }

  async load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
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
  snapshot(
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
  async readLocations(destination: string, want: Want[], out: StoredMessage[] | null): Promise<number> {
    const files = [...new Set(want.map((w) => w.file))]
    for (const f of files) this.pins.set(f, (this.pins.get(f) ?? 0) + 1)
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
        const file = this.journal.path(segmentName(first.file))
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
            const m = decodeAddOp(b, `journal ${file} offset ${w.off}`, { crc, bodyView: alone, legacy: this.legacy })
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
        const n = (this.pins.get(f) ?? 1) - 1
        if (n <= 0) this.pins.delete(f)
        else this.pins.set(f, n)
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
    log.error(`store ${this.journal.dir}: corrupt message at ${file}:${w.off}: ${why}`, {
      code: 'STORAGE_CORRUPT_RECORD',
      file,
      offset: w.off,
      destination,
      seq: w.seq,
    })
  }

  private async readHandle(file: number): Promise<FileHandleIO> {
    let e = this.readHandles.get(file)
    if (!e) {
      if (this.readHandles.size >= READ_HANDLES_MAX) {
        let victim: number | null = null
        let oldest = Infinity
        for (const [f, x] of this.readHandles)
          if (!this.pins.has(f) && x.usedAt < oldest) (oldest = x.usedAt), (victim = f)
        if (victim !== null) this.closeHandle(victim)
      }
      e = { h: this.journal.io.open(this.journal.path(segmentName(file)), 'read'), usedAt: 0 }
      e.h.catch(() => this.readHandles.delete(file))
      this.readHandles.set(file, e)
    }
    e.usedAt = performance.now()
    return e.h
  }

  /** Close the read handle of segment `file`, if open (before GC deletes it, and on close). */
  closeHandle(file: number): void {
    const e = this.readHandles.get(file)
    if (!e) return
    this.readHandles.delete(file)
    e.h.then((h) => h.close()).catch(() => {})
  }

  closeAll(): void {
    for (const f of [...this.readHandles.keys()]) this.closeHandle(f)
  }
}
