/**
 * LogTailScanner and parseInfoLog, on bytes built in memory.
 *
 * Method: a small copy of LevelDB's log writer (leveldb-1.20 db/log_writer.cc: fragments across 32 KiB blocks,
 * zero trailers under 7 bytes) lays out records chosen to hit every layout case (trailer, a zero-length FIRST
 * fragment, MIDDLE fragments, an empty FULL record); the log is cut at every byte and the scanner's verdict is
 * compared with the definition: clean exactly at the end of a complete logical record (or in the trailer after
 * one), else torn from the start of the logical record the cut falls in. Then the zero-header cases, and LOG lines
 * as leveldb-1.20 writes them.
 */
import { describe, test, expect } from 'bun:test'
import { BLOCK_BYTES, HEADER_BYTES, RecordType, scanLogTail } from './log-tail-scanner.ts'
import { parseInfoLog } from './info-log.ts'

interface Laid {
  start: number
  end: number
}

/** LevelDB's writer, minus the CRC (the scanner does not check it; a non-zero value keeps headers non-zero). */
class LogWriter {
  private chunks: Buffer[] = []
  pos = 0
  readonly records: Laid[] = []
  readonly types = new Set<number>()
  trailers = 0

  add(payloadBytes: number): void {
    let left = payloadBytes
    let begin = true
    let start = -1
    do {
      const leftover = BLOCK_BYTES - (this.pos % BLOCK_BYTES)
      if (leftover < HEADER_BYTES) {
        this.push(Buffer.alloc(leftover))
        this.trailers++
      }
      const avail = BLOCK_BYTES - (this.pos % BLOCK_BYTES) - HEADER_BYTES
      const n = Math.min(left, avail)
      const end = n === left
      const type = begin && end ? RecordType.Full : begin ? RecordType.First : end ? RecordType.Last : RecordType.Middle
      this.types.add(type)
      if (begin) start = this.pos
      const h = Buffer.alloc(HEADER_BYTES)
      h.writeUInt32LE(0xdeadbeef, 0)
      h.writeUInt16LE(n, 4)
      h[6] = type
      this.push(h)
      this.push(Buffer.alloc(n, 0x5a))
      left -= n
      begin = false
    } while (left > 0)
    this.records.push({ start, end: this.pos })
  }

  /** Bytes left in the current block. */
  left(): number {
    return BLOCK_BYTES - (this.pos % BLOCK_BYTES)
  }

  data(): Buffer {
    return Buffer.concat(this.chunks)
  }

  private push(b: Buffer): void {
    this.chunks.push(b)
    this.pos += b.length
  }
}

function layout(): LogWriter {
  const w = new LogWriter()
  w.add(100)
  w.add(w.left() - HEADER_BYTES - 3) // ends 3 bytes before the block end: a 3-byte trailer follows
  w.add(200)
  w.add(w.left() - HEADER_BYTES - HEADER_BYTES) // leaves exactly one header's room ...
  w.add(50) // ... so this one starts with a FIRST fragment of 0 bytes
  w.add(70_000) // FIRST, MIDDLE, LAST
  w.add(0) // an empty FULL record
  w.add(10)
  return w
}

describe('LogTailScanner', () => {
  test('LogTailScanner reports a torn tail exactly when a cut falls inside a logical record, at every cut point', () => {
    const w = layout()
    const data = w.data()
    expect([...w.types].sort()).toEqual([1, 2, 3, 4])
    expect(w.trailers).toBeGreaterThanOrEqual(1)
    // Verdict by definition, per cut n: the logical record the cut falls in (start < n < end), if any.
    const expected = (n: number): { offset: number; bytes: number } | null => {
      const r = w.records.find((x) => x.start < n && n < x.end)
      return r ? { offset: r.start, bytes: n - r.start } : null
    }
    let torn = 0
    for (let n = 0; n <= data.length; n++) {
      const got = scanLogTail(data.subarray(0, n))
      const want = expected(n)
      if (want) torn++
      const g = got.torn ? { offset: got.torn.offset, bytes: got.torn.bytes } : null
      if (JSON.stringify(g) !== JSON.stringify(want))
        throw new Error(`cut at ${n}: scanner says ${JSON.stringify(got.torn)}, expected ${JSON.stringify(want)}`)
      expect(got.skipped).toEqual([])
    }
    expect(torn).toBeGreaterThan(data.length / 2)
    expect(scanLogTail(data).records).toBe(w.records.length)
  })

  test('LogTailScanner names why a tail is torn (header, payload, missing last fragment)', () => {
    const w = layout()
    const data = w.data()
    const big = w.records[5]
    expect(scanLogTail(data.subarray(0, w.records[1].start + 3)).torn?.reason).toContain('inside a record header')
    expect(scanLogTail(data.subarray(0, w.records[0].end - 1)).torn?.reason).toContain("inside a record's payload")
    // Cut at a block boundary inside the 70 000-byte record: the file ends after its FIRST (and MIDDLE) fragments.
    const boundary = Math.ceil(big.start / BLOCK_BYTES) * BLOCK_BYTES + BLOCK_BYTES
    expect(boundary).toBeLessThan(big.end)
    const t = scanLogTail(data.subarray(0, boundary)).torn
    expect(t).toEqual({
      offset: big.start,
      bytes: boundary - big.start,
      reason: expect.stringContaining('last fragment never came'),
    })
  })

  test('LogTailScanner reports a zero-filled tail as torn from its first zero header', () => {
    const w = new LogWriter()
    for (let i = 0; i < 5; i++) w.add(300)
    const clean = w.data()
    const data = Buffer.concat([clean, Buffer.alloc(BLOCK_BYTES)]) // zeros past a block boundary too
    const r = scanLogTail(data)
    expect(r.torn).toEqual({ offset: clean.length, bytes: BLOCK_BYTES, reason: expect.stringContaining('zero-filled') })
    expect(r.records).toBe(5)
  })

  test('LogTailScanner reports a zero header before later records as skipped mid-log bytes, not a torn tail', () => {
    const w = new LogWriter()
    for (let i = 0; i < 40; i++) w.add(1000) // about 1.2 blocks
    const data = w.data()
    const victim = w.records[3]
    data.fill(0, victim.start, victim.start + HEADER_BYTES)
    const r = scanLogTail(data)
    expect(r.torn).toBeNull()
    expect(r.skipped).toEqual([
      { offset: victim.start, bytes: BLOCK_BYTES - victim.start, reason: expect.stringContaining('without reporting') },
    ])
  })

  test('LogTailScanner follows LevelDB past a length overflowing a full block (LevelDB reports that itself)', () => {
    const w = new LogWriter()
    for (let i = 0; i < 40; i++) w.add(1000)
    const data = w.data()
    data.writeUInt16LE(0xffff, w.records[2].start + 4)
    const r = scanLogTail(data)
    expect(r.torn).toBeNull()
    expect(r.skipped).toEqual([])
  })

  test('LogTailScanner finds nothing in an empty log', () => {
    expect(scanLogTail(new Uint8Array(0))).toEqual({ torn: null, skipped: [], records: 0 })
  })
})

describe('parseInfoLog', () => {
  test('parseInfoLog reads replayed log numbers and dropped ranges from leveldb-1.20 LOG lines', () => {
    const text = [
      '2026/11/22-22:13:15.361944 7f5c9d3ef6c0 Recovering log #3',
      '2026/11/22-22:13:15.362046 7f5c9d3ef6c0 (ignoring error) /tmp/x y/leveldb/000003.log: dropping 28115 bytes; Corruption: checksum mismatch',
      '2026/11/22-22:13:15.362064 7f5c9d3ef6c0 /tmp/x y/leveldb/000003.log: dropping 298 bytes; Corruption: missing start of fragmented record(2)',
      '2026/11/22-22:13:15.362254 7f5c9d3ef6c0 Level-0 table #5: started',
      '2026/11/22-22:13:15.365348 7f5c9d3ef6c0 Delete type=0 #3',
      '',
    ].join('\n')
    expect(parseInfoLog(text)).toEqual({
      recoveredLogs: [3],
      drops: [
        { file: '/tmp/x y/leveldb/000003.log', bytes: 28115, reason: 'Corruption: checksum mismatch' },
        {
          file: '/tmp/x y/leveldb/000003.log',
          bytes: 298,
          reason: 'Corruption: missing start of fragmented record(2)',
        },
      ],
    })
  })
})
