/**
 * Recovery of a journal store on open: the marker, every segment header, fencing (refuse a newer epoch, else seal
 * every older segment before reading any record), then the index: from a warm replica's reader, else the
 * checkpoint (kahaDB), then replay of the journal after that position (everything for amq), and finally our own new
 * segment. Not owned here: the record encodings (format.ts, replay.ts) and the background verification of the
 * checkpointed messages recovery did not re-read (maintenance.ts).
 */
import { dirname } from 'node:path'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import type { Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { AdapterKind } from '../../config/types.ts'
import type { RecoveryReport, StandbyReader } from '../types.ts'
import {
  decodeSegmentHeader,
  JOURNAL_FORMAT_VERSION,
  parseSegmentName,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from './format.ts'
import { decodeCheckpoint, IndexState, type CheckpointMeta } from './index-state.ts'
import type { Journal } from './journal.ts'
import { checkMarker, writeMarker } from './marker.ts'
import { maxSealEpoch, readSeals, SEALS_DIR, sealLimit, writeSeal, type Seal } from './seals.ts'
import { JournalTailReader } from './tail-reader.ts'

/** Segment headers (and sizes for a seal) read at once during recovery. */
const HEADER_READS_PARALLEL = 16

const log = logger('storage')

export interface RecoveryInput {
  journal: Journal
  kind: AdapterKind
  /** kahaDB: load the newest checkpoint; amq: replay every segment. */
  checkpoints: boolean
  clock: Clock
  dedupeWindow: number
  recordBytesMax: number
  standby?: StandbyReader
  /** Whether a reader of 0.1.0 records was given (OpenOptions.legacyMessage): without one, v1 segments refuse. */
  legacy: boolean
}

export interface Recovered {
  index: IndexState
  seals: Map<number, Seal>
  report: RecoveryReport
  /** The checkpoint recovery started from (kahaDB), else null. */
  ckpt: CheckpointMeta | null
  ckptBytes: number
  /** The position before which messages were not re-read (checkpoint or warm reader's), else null. */
  recoveredFrom: { file: number; offset: number } | null
  /** Whether a warm replica's index was adopted. */
  warmOpen: boolean
}

export async function recoverJournal(r: RecoveryInput): Promise<Recovered> {
  const { journal: j } = r
  const dir = j.dir
  const started = r.clock.now()
  const report: RecoveryReport = {
    durationMs: 0,
    recordsReplayed: 0,
    tornTail: null,
    corrupt: [],
    fencedRecordsIgnored: 0,
  }
  const out: Recovered = {
    index: new IndexState(r.dedupeWindow),
    seals: new Map(),
    report,
    ckpt: null,
    ckptBytes: 0,
    recoveredFrom: null,
    warmOpen: false,
  }
  if ((await j.io.stat(dir)) === null) {
    await j.io.mkdir(dir)
    // mkdir is durable only once its parent directory is synced (a directory that was there needs no sync: a
    // takeover's open skips that fsync).
    await j.io.syncDir(dirname(dir))
  }
  const names = await j.io.readdir(dir)
  const segNames = names.filter((n) => parseSegmentName(n) !== null)
  const markerVersion = await checkMarker(j.io, dir, r.kind, segNames, names)

  // 1. Segment headers (written and synced once at creation; reading them reads no record).
  const ids = segNames.map((n) => parseSegmentName(n)!).sort((a, b) => a - b)
  const unusable = new Set<number>()
  const older: number[] = []
  // Read at once (bounded), applied in id order: a takeover's open is a string of thread-pool round trips, four
  // per segment when read one after the other.
  const headers = await mapBounded(ids, HEADER_READS_PARALLEL, (id) => readSegmentHeaderBytes(j, id))
  for (const [i, id] of ids.entries()) {
    const version = applySegmentHeader(j, id, headers[i]!, unusable, report)
    if (version !== null && version < JOURNAL_FORMAT_VERSION) older.push(id)
  }
  if (older.length > 0 && !r.legacy) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `store ${dir}: ${segmentName(older[0])}${older.length > 1 ? ` and ${older.length - 1} more` : ''} hold format 1 records (sfbroker 0.1.0) and no legacy message reader was given; expected format ${JOURNAL_FORMAT_VERSION} segments or OpenOptions.legacyMessage`,
      { details: { directory: dir, file: segmentName(older[0]) } },
    )
  }
  // From here on this broker can read the store: mark it as this version's so a 0.1.0 broker refuses it.
  if (markerVersion < JOURNAL_FORMAT_VERSION) {
    await writeMarker(j.io, dir, r.kind)
    log.info(
      `store ${dir}: upgraded from journal format ${markerVersion} (${older.length} format 1 segment(s) read as is)`,
    )
  }
  if (!names.includes(SEALS_DIR)) {
    await j.io.mkdir(j.path(SEALS_DIR))
    await j.io.syncDir(dir)
  }

  // 2. Fencing: refuse if a newer epoch exists, else seal every older segment before reading any record.
  let seals = await readSeals(j.io, dir)
  const newerSeal = maxSealEpoch(seals)
  const newerSeg = [...j.segments.values()].find((s) => s.epoch > j.epoch)
  if (newerSeal > j.epoch || newerSeg) {
    const what = newerSeg
      ? `segment ${segmentName(newerSeg.id)} of epoch ${newerSeg.epoch}`
      : `seal of epoch ${newerSeal}`
    throw new BrokerError(
      'STORAGE_FENCED',
      `store ${dir}: ${what} exists above our epoch ${j.epoch}; a newer primary owns this store`,
      { details: { epoch: j.epoch } },
    )
  }
  if (!seals.has(j.epoch)) {
    const seal: Seal = { epoch: j.epoch, segments: {}, createdAt: r.clock.now() }
    const sealed = [...j.segments.values()].filter((s) => s.epoch < j.epoch && !unusable.has(s.id))
    const sizes = await mapBounded(sealed, HEADER_READS_PARALLEL, (s) => j.io.stat(j.path(segmentName(s.id))))
    for (const [i, s] of sealed.entries()) seal.segments[String(s.id)] = sizes[i]?.size ?? 0
    await writeSeal(j.io, dir, seal)
    seals = new Map(seals).set(j.epoch, seal)
  }
  out.seals = seals

  // 3. A warm replica's index (see tail-reader.ts), else the checkpoint (kahaDB).
  let startFile = 0
  let startOffset = SEGMENT_HEADER_BYTES
  const warm = r.standby ? adoptStandby(r, out, ids, unusable) : null
  if (warm) {
    startFile = warm.file
    startOffset = warm.offset
  } else if (r.checkpoints) {
    const ck = await loadCheckpoint(r, out, names)
    if (ck) {
      out.index = ck.state
      out.ckpt = ck.meta
      startFile = ck.meta.file
      startOffset = ck.meta.offset
      out.recoveredFrom = { file: startFile, offset: startOffset }
    }
  }

  // 4. Replay the journal (from the checkpoint position for kahaDB, everything for amq).
  for (const id of ids) {
    if (id < startFile || unusable.has(id)) continue
    const from = id === startFile ? Math.max(startOffset, SEGMENT_HEADER_BYTES) : SEGMENT_HEADER_BYTES
    await j.replaySegment(j.segments.get(id)!, from, seals, out.index, r.recordBytesMax, report)
  }

  // 5. Our own, new segment: never append to a file another epoch (or an earlier run) wrote.
  await j.createSegment((ids[ids.length - 1] ?? 0) + 1)
  report.durationMs = r.clock.now() - started
  if (report.corrupt.length > 0)
    log.error(`store ${dir}: ${report.corrupt.length} corrupt range(s) not recovered`, { corrupt: report.corrupt })
  if (report.tornTail) log.warn(`store ${dir}: torn tail cut off`, { tornTail: report.tornTail })
  if (report.fencedRecordsIgnored > 0)
    log.warn(
      `store ${dir}: ${report.fencedRecordsIgnored} record(s) of a deposed primary written after its seal ignored`,
    )
  log.info(
    `store ${dir} (${r.kind}${out.warmOpen ? `, warm from a standby reader` : ``}) recovered ${out.index.messages} messages, replayed ${report.recordsReplayed} records in ${report.durationMs} ms`,
  )
  return out
}

/** One segment's size and its first bytes (at most SEGMENT_HEADER_BYTES). */
type HeaderBytes = { size: number; buf: Buffer }

async function readSegmentHeaderBytes(j: Journal, id: number): Promise<HeaderBytes> {
  const h = await j.io.open(j.path(segmentName(id)), 'read')
  try {
    const size = await h.size()
    const buf = Buffer.alloc(Math.min(size, SEGMENT_HEADER_BYTES))
    await h.read(buf, buf.length, 0)
    return { size, buf }
  } finally {
    await h.close()
  }
}

/**
 * Register segment `id` with its header's epoch, or as unusable (torn at creation, or an unreadable header). Returns
 * its format version, or null when unusable.
 */
function applySegmentHeader(
  j: Journal,
  id: number,
  { size, buf }: HeaderBytes,
  unusable: Set<number>,
  report: RecoveryReport,
): number | null {
  const file = j.path(segmentName(id))
  if (size < SEGMENT_HEADER_BYTES) {
    // A crash while creating the segment: no record can be in it.
    report.tornTail = { file, offset: 0, bytes: size }
    unusable.add(id)
    j.segments.set(id, { id, epoch: 0, size })
    return null
  }
  try {
    const hd = decodeSegmentHeader(buf, file)
    if (hd.id !== id)
      throw new BrokerError('STORAGE_CORRUPT_RECORD', `journal ${file}: header names segment ${hd.id}`, {
        details: { file, offset: 0 },
      })
    j.segments.set(id, { id, epoch: hd.epoch, size })
    return hd.version
  } catch (e) {
    if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
    report.corrupt.push({ file, offset: 0, reason: `segment header unreadable (${e.message}); segment not replayed` })
    unusable.add(id)
    j.segments.set(id, { id, epoch: 0, size: 0 })
    return null
  }
}

/**
 * `f` over `items` with at most `limit` calls pending at once; results in the order of `items`. Every call settles
 * before this does (no file call is left running behind a failed open); then the first failure in item order is
 * thrown, as a loop over the items would have.
 */
async function mapBounded<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const settled = new Array<{ ok: true; v: R } | { ok: false; e: unknown }>(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    // Bounded: each turn takes one item.
    while (next < items.length) {
      const i = next++
      settled[i] = await f(items[i]!).then(
        (v) => ({ ok: true as const, v }),
        (e: unknown) => ({ ok: false as const, e }),
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return settled.map((r) => {
    if (!r.ok) throw r.e
    return r.v
  })
}

/**
 * Take over a standby reader's index if it is ours and consistent with the store as sealed now; returns the
 * position to replay from, or null (with the reason logged) to recover cold. Called after our seal is written,
 * so everything after the reader's position is re-read and re-validated under it.
 */
function adoptStandby(
  r: RecoveryInput,
  out: Recovered,
  ids: number[],
  unusable: Set<number>,
): { file: number; offset: number } | null {
  const j = r.journal
  const sb = r.standby!
  const doubt = (why: string) => {
    log.info(`store ${j.dir}: warm standby index not used (${why}); recovering cold`)
    return null
  }
  if (!(sb instanceof JournalTailReader)) return doubt('not a journal standby reader')
  const h = sb.handOver()
  void sb.close()
  if (!h) return doubt('the reader had not caught up, or its last poll failed')
  if (h.kind !== r.kind) return doubt(`reader of a ${h.kind} store`)
  if (h.directory !== j.dir) return doubt(`reader of ${h.directory}`)
  if (h.dedupeWindow !== r.dedupeWindow)
    return doubt(`dedupe window ${h.dedupeWindow}, the store's is ${r.dedupeWindow}`)
  for (const id of ids) {
    const seg = j.segments.get(id)!
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
    const limit = Math.max(SEGMENT_HEADER_BYTES, sealLimit(out.seals, id, seg.epoch))
    if (seen.end > limit) return doubt(`it applied ${segmentName(id)} up to ${seen.end}, beyond the seal ${limit}`)
  }
  if (h.cursor.file > 0 && !j.segments.has(h.cursor.file) && ids.some((id) => id > h.cursor.file))
    return doubt(`${segmentName(h.cursor.file)} (its position) is gone`)
  out.index = h.index
  out.recoveredFrom = h.checkpointFrom
  out.warmOpen = true
  out.report.corrupt.push(...h.corrupt)
  out.report.fencedRecordsIgnored += h.fencedRecordsIgnored
  return h.cursor
}

/** The newest checkpoint, if it is ours to trust (not newer than our epoch, readable, inside its segment's seal). */
async function loadCheckpoint(
  r: RecoveryInput,
  out: Recovered,
  names: string[],
): Promise<{ state: IndexState; meta: CheckpointMeta } | null> {
  const j = r.journal
  const report = out.report
  const cks = names
    .map((n) => /^index-(\d+)\.ckpt$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a)
  if (cks.length === 0) return null
  if (cks[0] > j.epoch) {
    throw new BrokerError(
      'STORAGE_FENCED',
      `store ${j.dir}: index of epoch ${cks[0]} exists above our epoch ${j.epoch}`,
      {
        details: { epoch: j.epoch },
      },
    )
  }
  const file = j.path(`index-${cks[0]}.ckpt`)
  const raw = await j.io.readFile(file)
  if (!raw) return null
  let ck: { state: IndexState; meta: CheckpointMeta }
  try {
    ck = decodeCheckpoint(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength), file, r.dedupeWindow)
  } catch (e) {
    if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
    report.corrupt.push({ file, offset: 0, reason: `${e.message}; replaying the whole journal instead` })
    return null
  }
  // A checkpoint only covers durable, fence-confirmed records, so it lies inside every seal; check anyway.
  const seg = j.segments.get(ck.meta.file)
  if (seg) {
    const limit = sealLimit(out.seals, seg.id, seg.epoch)
    if (ck.meta.offset > limit) {
      report.corrupt.push({
        file,
        offset: 0,
        reason: `checkpoint position ${ck.meta.offset} in ${segmentName(seg.id)} lies beyond that segment's seal ${limit}; replaying the whole journal instead`,
      })
      return null
    }
  }
  out.ckptBytes = raw.length
  return ck
}
