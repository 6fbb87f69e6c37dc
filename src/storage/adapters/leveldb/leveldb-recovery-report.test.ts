/**
 * LevelDbAdapter's RecoveryReport: what LevelDB drops from its write-ahead log on open is reported (tornTail,
 * corrupt, stats().integrity), and the broker sees exactly the records LevelDB kept.
 *
 * Method: real LevelDB files. The adapter writes one awaited batch per message, so the log holds, in order, the
 * meta batch open() writes and then one logical record per message. LevelDB does not flush its memtable on close,
 * so after close the log file is still there (checked: the test fails loudly if not). The test walks the log's
 * record headers itself (LevelDB's documented format), damages the file (truncate, flip a byte, zero a header,
 * append zeros or blocks with bad CRCs, plant a stale log), reopens with a new adapter and compares report and loaded ids with what the
 * log format says LevelDB keeps. No timing, no mocks.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  existsSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDbAdapter, LEVELDB_SUBDIR } from './index.ts'
import { CORRUPT_REPORT_MAX } from './level-integrity.ts'
import { INFO_LOG_BYTES_MAX, WAL_FILES_MAX, readInfoLog, scanWriteAheadLogs } from './recovery-findings.ts'
import type { RecoveredState } from '../../types.ts'
import { msg, strProp } from '../../conformance/harness.ts'

const BLOCK = 32 * 1024
const HEADER = 7

interface Physical {
  offset: number
  length: number
  type: number
}

/** The physical records of a LevelDB log, by its format (no CRC check). */
function walk(buf: Buffer): Physical[] {
  const out: Physical[] = []
  let off = 0
  for (let i = 0; i < 100_000 && off + HEADER <= buf.length; i++) {
    const left = BLOCK - (off % BLOCK)
    if (left < HEADER) {
      off += left
      continue
    }
    const length = buf.readUInt16LE(off + 4)
    out.push({ offset: off, length, type: buf[off + 6] })
    off += HEADER + length
  }
  return out
}

/** Start offsets of logical records (FULL or FIRST). */
const starts = (recs: Physical[]): number[] => recs.filter((r) => r.type === 1 || r.type === 2).map((r) => r.offset)

describe('LevelDbAdapter recovery report', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** A store with messages m-0..m-(n-1) on queue Q, closed; returns its one write-ahead log. */
  async function store(
    n: number,
    bodyBytes: (i: number) => number,
  ): Promise<{ dir: string; log: string; ids: string[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'sfbroker-lvrr-'))
    dirs.push(dir)
    const a = new LevelDbAdapter()
    const rec = await a.open({ directory: dir, epoch: 1 })
    expect(rec.report.tornTail).toBeNull()
    expect(rec.report.corrupt).toEqual([])
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      ids.push(`m-${i}`)
      await a.write([
        {
          op: 'add',
          destination: 'Q',
          message: msg(`m-${i}`, new Uint8Array(bodyBytes(i)).fill(i & 0xff)),
        },
      ])
    }
    await a.close()
    const levelDir = join(dir, LEVELDB_SUBDIR)
    const logs = readdirSync(levelDir).filter((f) => /^\d+\.log$/.test(f))
    // Precondition: LevelDB kept our batches in its log (it compacts the memtable on open, not on close).
    expect(logs.length).toBe(1)
    const log = join(levelDir, logs[0])
    expect(starts(walk(readFileSync(log))).length).toBe(n + 1) // meta batch + one per message
    return { dir, log, ids }
  }

  async function reopen(dir: string): Promise<{ rec: RecoveredState; ids: string[]; a: LevelDbAdapter }> {
    const a = new LevelDbAdapter()
    const rec = await a.open({ directory: dir, epoch: 2 })
    const ids = (await a.load('Q', 0, 10_000)).map((m) => m.message.messageId)
    return { rec, ids, a }
  }

  test("LevelDbAdapter reports a log cut inside its last record's payload as tornTail and keeps every earlier record", async () => {
    const { dir, log, ids } = await store(10, () => 200)
    const last = walk(readFileSync(log)).at(-1)!
    expect(last.type).toBe(1)
    const cut = last.offset + HEADER + 50
    truncateSync(log, cut)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toEqual({ file: log, offset: last.offset, bytes: HEADER + 50 })
    expect(rec.report.corrupt).toEqual([]) // LevelDB itself says nothing about a torn tail
    expect(got).toEqual(ids.slice(0, 9))
    expect(a.stats().integrity?.tornTail).toEqual(rec.report.tornTail)
    await a.close()
  })

  test("LevelDbAdapter reports a log cut inside its last record's header as tornTail", async () => {
    const { dir, log, ids } = await store(10, () => 200)
    const last = walk(readFileSync(log)).at(-1)!
    truncateSync(log, last.offset + 3)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toEqual({ file: log, offset: last.offset, bytes: 3 })
    expect(rec.report.corrupt).toEqual([])
    expect(got).toEqual(ids.slice(0, 9))
    await a.close()
  })

  test("LevelDbAdapter reports a log ending after a multi-block record's first fragment as tornTail from that fragment", async () => {
    // m-1 is larger than a block: FIRST in block 0, then MIDDLE/LAST after. Cut at the end of block 0.
    const { dir, log, ids } = await store(2, (i) => (i === 1 ? 50_000 : 100))
    const recs = walk(readFileSync(log))
    const first = recs.find((r) => r.type === 2)!
    expect(first.offset).toBeLessThan(BLOCK)
    truncateSync(log, BLOCK)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toEqual({ file: log, offset: first.offset, bytes: BLOCK - first.offset })
    expect(rec.report.corrupt).toEqual([])
    expect(got).toEqual(ids.slice(0, 1))
    await a.close()
  })

  test('LevelDbAdapter reports a zero-filled log tail as tornTail and keeps every record before it', async () => {
    const { dir, log, ids } = await store(10, () => 200)
    const size = statSync(log).size
    appendFileSync(log, Buffer.alloc(100))
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toEqual({ file: log, offset: size, bytes: 100 })
    expect(rec.report.corrupt).toEqual([])
    expect(got).toEqual(ids)
    await a.close()
  })

  /** Messages LevelDB keeps when it drops the rest of block 0 from `from`: those whose record starts elsewhere. */
  function survivors(ids: string[], recordStarts: number[], from: number): string[] {
    // Logical record 0 is the meta batch; message i is record i + 1.
    return ids.filter((_, i) => !(recordStarts[i + 1] >= from && recordStarts[i + 1] < BLOCK))
  }

  test('LevelDbAdapter reports a checksum mismatch mid-log as corrupt (file, bytes dropped, reason) and serves the records LevelDB kept', async () => {
    // 60 records of ~1.1 KiB: three blocks. Damage record 5, in block 0: LevelDB drops the rest of block 0.
    const { dir, log, ids } = await store(60, () => 1000)
    const buf = readFileSync(log)
    const recs = walk(buf)
    const victim = recs[5]
    expect(victim.type).toBe(1)
    buf[victim.offset + HEADER + 20] ^= 0xff
    writeFileSync(log, buf)
    const want = survivors(ids, starts(recs), victim.offset)
    expect(want.length).toBeLessThan(ids.length) // records are lost ...
    expect(want.at(-1)).toBe(ids.at(-1)) // ... but later blocks survive
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toBeNull()
    expect(rec.report.corrupt).toContainEqual({
      file: log,
      offset: -1,
      reason: expect.stringContaining(`dropped ${BLOCK - victim.offset} bytes`),
    })
    const crc = rec.report.corrupt.find((c) => c.reason.includes('checksum mismatch'))
    expect(crc?.reason).toContain('offset unknown')
    expect(got).toEqual(want)
    expect(rec.destinations).toEqual([{ destination: 'Q', count: want.length, bytes: expect.any(Number) }])
    const it = a.stats().integrity!
    expect(it.corruptCount).toBe(rec.report.corrupt.length)
    expect(it.corrupt).toEqual(rec.report.corrupt)
    await a.close()
  })

  test('LevelDbAdapter reports a zero-filled header mid-log (which LevelDB skips silently) as corrupt with its offset', async () => {
    const { dir, log, ids } = await store(60, () => 1000)
    const buf = readFileSync(log)
    const recs = walk(buf)
    const victim = recs[5]
    buf.fill(0, victim.offset, victim.offset + HEADER)
    writeFileSync(log, buf)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toBeNull()
    expect(rec.report.corrupt).toContainEqual({
      file: log,
      offset: victim.offset,
      reason: expect.stringContaining(`skipped ${BLOCK - victim.offset} bytes`),
    })
    expect(got).toEqual(survivors(ids, starts(recs), victim.offset))
    await a.close()
  })

  test('LevelDbAdapter ignores a stale log LevelDB does not replay', async () => {
    const { dir, log, ids } = await store(3, () => 200)
    // A log numbered below the manifest's log number (a crash before LevelDB deleted it), ending mid-record.
    const stale = join(dir, LEVELDB_SUBDIR, '000001.log')
    const torn = Buffer.alloc(HEADER + 10)
    torn.writeUInt16LE(100, 4)
    torn[6] = 1
    writeFileSync(stale, torn)
    expect(log).not.toBe(stale)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toBeNull()
    expect(rec.report.corrupt).toEqual([])
    expect(got).toEqual(ids)
    await a.close()
    expect(existsSync(stale)).toBe(false) // LevelDB deleted it as obsolete: it was never part of the store
  })

  test('LevelDbAdapter counts every finding but lists the first CORRUPT_REPORT_MAX in stats().integrity', async () => {
    const { dir, log, ids } = await store(3, () => 200)
    // Append, after zero padding to the block end, 60 pairs (a block LevelDB rejects by CRC, a zero-filled block):
    // each rejected block is a LevelDB-reported drop, each zero run before one a silently skipped range.
    const size = statSync(log).size
    const bad = Buffer.alloc(BLOCK, 0x11)
    bad.writeUInt32LE(0x04030201, 0)
    bad.writeUInt16LE(BLOCK - HEADER, 4)
    bad[6] = 1
    const parts: Buffer[] = [Buffer.alloc(BLOCK - (size % BLOCK))]
    for (let i = 0; i < 60; i++) parts.push(bad, Buffer.alloc(BLOCK))
    parts.push(bad)
    appendFileSync(log, Buffer.concat(parts))
    const { rec, ids: got, a } = await reopen(dir)
    const it = a.stats().integrity!
    expect(rec.report.corrupt.filter((c) => c.reason.includes('checksum mismatch')).length).toBe(61)
    expect(rec.report.corrupt.filter((c) => c.reason.includes('zero-filled')).length).toBe(61)
    expect(it.corruptCount).toBe(122)
    expect(it.corrupt).toEqual(rec.report.corrupt.slice(0, CORRUPT_REPORT_MAX))
    expect(rec.report.tornTail).toBeNull()
    expect(got).toEqual(ids)
    await a.close()
  })

  test('LevelDbAdapter reports nothing for a clean store, new or reopened', async () => {
    const { dir, ids } = await store(5, () => 200)
    const { rec, ids: got, a } = await reopen(dir)
    expect(rec.report.tornTail).toBeNull()
    expect(rec.report.corrupt).toEqual([])
    expect(got).toEqual(ids)
    expect(a.stats().integrity).toEqual({
      corrupt: [],
      corruptCount: 0,
      tornTail: null,
      fencedRecordsIgnored: 0,
      verification: 'not-needed',
      verifiedMessages: 0,
    })
    await a.close()
  })
})

describe('recovery-findings limits', () => {
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'sfbroker-lvrf-'))
    dirs.push(d)
    return d
  }

  test('scanWriteAheadLogs scans the newest WAL_FILES_MAX logs, oldest first', async () => {
    const dir = tmp()
    for (let i = 1; i <= WAL_FILES_MAX + 1; i++)
      writeFileSync(join(dir, `${String(i).padStart(6, '0')}.log`), Buffer.alloc(0))
    writeFileSync(join(dir, 'MANIFEST-000002'), Buffer.alloc(10))
    const scans = await scanWriteAheadLogs(dir)
    expect(scans.length).toBe(WAL_FILES_MAX)
    expect(scans[0].number).toBe(2)
    expect(scans.at(-1)!.file).toBe(join(dir, `${String(WAL_FILES_MAX + 1).padStart(6, '0')}.log`))
  })

  test("readInfoLog reads LevelDB's LOG up to INFO_LOG_BYTES_MAX", async () => {
    const dir = tmp()
    const line = (n: number) =>
      `2026/11/22-22:13:15.362046 7f5c9d3ef6c0 (ignoring error) ${dir}/000003.log: dropping ${n} bytes; Corruption: checksum mismatch\n`
    const filler = 'x'.repeat(99) + '\n'
    const head = line(1) + filler.repeat(Math.floor((INFO_LOG_BYTES_MAX - 2 * line(1).length) / filler.length))
    writeFileSync(join(dir, 'LOG'), head + line(2) + filler.repeat(100) + line(3))
    expect(head.length + line(2).length).toBeLessThanOrEqual(INFO_LOG_BYTES_MAX) // line 2 fits, line 3 lies beyond
    expect((await readInfoLog(dir))?.drops.map((d) => d.bytes)).toEqual([1, 2])
    expect(await readInfoLog(join(dir, 'missing'))).toBeNull()
  })
})
