/**
 * Journal framing and the segment scanner, without any file: header and record round trips, CRC coverage, and the
 * recovery policy for damaged bytes — torn tail at every split point of the last record, a flipped byte anywhere
 * in a middle record (reported with its offset, later records still recovered), fenced records beyond a seal.
 */
import { describe, test, expect } from 'bun:test'
import { isBrokerError } from '../../lib/errors.ts'
import {
  decodeAddOp,
  decodeBatchForReplay,
  decodeSegmentHeader,
  encodeBatch,
  encodeSegmentHeader,
  frameRecord,
  JOURNAL_FORMAT_VERSION,
  RECORD_HEADER_BYTES,
  RT_BATCH,
  SEGMENT_HEADER_BYTES,
} from './format.ts'
import { scanSegment } from './segment-scanner.ts'
import type { StoreOp } from '../types.ts'
import { msg } from '../conformance/harness.ts'

const enc = new TextEncoder()
const add = (d: string, id: string, body: string): StoreOp => ({
  op: 'add',
  destination: d,
  message: msg(id, enc.encode(body), { k: 'v', ü: 'ß' }),
})

function threw(fn: () => unknown): unknown {
  try {
    fn()
  } catch (e) {
    return e
  }
  return null
}

describe('journal format', () => {
  test('segment header round-trips and refuses foreign magic, newer version, bad CRC with stable codes', () => {
    const h = encodeSegmentHeader({ version: JOURNAL_FORMAT_VERSION, epoch: 7, id: 3, createdAt: 123 })
    expect(h.length).toBe(SEGMENT_HEADER_BYTES)
    expect(decodeSegmentHeader(h, 'db-3.log')).toEqual({
      version: JOURNAL_FORMAT_VERSION,
      epoch: 7,
      id: 3,
      createdAt: 123,
    })
    const foreign = Buffer.from(h)
    foreign.write('KAHADB!!', 0, 'latin1')
    expect(
      isBrokerError(
        threw(() => decodeSegmentHeader(foreign, 'f')),
        'STORAGE_FORMAT',
      ),
    ).toBe(true)
    const newer = encodeSegmentHeader({ version: JOURNAL_FORMAT_VERSION + 1, epoch: 7, id: 3, createdAt: 123 })
    expect(
      isBrokerError(
        threw(() => decodeSegmentHeader(newer, 'n')),
        'STORAGE_FORMAT',
      ),
    ).toBe(true)
    const bad = Buffer.from(h)
    bad[20] ^= 1
    expect(
      isBrokerError(
        threw(() => decodeSegmentHeader(bad, 'b')),
        'STORAGE_CORRUPT_RECORD',
      ),
    ).toBe(true)
  })

  test('batch encoding round-trips every op kind and add ops decode alone with their own CRC', () => {
    const ops: StoreOp[] = [
      add('queue://A', 'id-1', 'hello'),
      { op: 'remove', destination: 'queue://A', seq: 5 },
      {
        op: 'putSubscription',
        subscription: {
          clientId: 'c',
          subscriptionName: 's',
          destination: '/topic/T',
          selector: "x = 'ü'",
          noLocal: true,
          storeKey: 'durable://c:s',
          createdAt: 9,
        },
      },
      { op: 'removeSubscription', clientId: 'c', subscriptionName: 's' },
      { op: 'purge', destination: 'queue://B' },
      add('queue://Ω', 'id-2', ''),
    ]
    const e = encodeBatch(ops, [10, 11])
    const rec = frameRecord(RT_BATCH, 1, e.payload)
    const decoded = decodeBatchForReplay(rec, RECORD_HEADER_BYTES, rec.length, 'test')
    expect(decoded.map((o) => o.op)).toEqual(['add', 'remove', 'putSubscription', 'removeSubscription', 'purge', 'add'])
    expect(decoded[0]).toMatchObject({ destination: 'queue://A', seq: 10, dedupe: 'id-1', bodyBytes: 5 })
    expect(decoded[5]).toMatchObject({ destination: 'queue://Ω', seq: 11, dedupe: 'id-2', bodyBytes: 0 })
    expect(decoded[2]).toEqual({
      op: 'putSubscription',
      subscription: (ops[2] as Extract<StoreOp, { op: 'putSubscription' }>).subscription,
    })
    const a = e.adds[0]
    const m = decodeAddOp(e.payload.subarray(a.offset, a.offset + a.length), 'test')
    expect(m).toEqual({ seq: 10, message: msg('id-1', enc.encode('hello'), { k: 'v', ü: 'ß' }) })
    const flipped = Buffer.from(e.payload.subarray(a.offset, a.offset + a.length))
    flipped[flipped.length - 1] ^= 0x40
    expect(
      isBrokerError(
        threw(() => decodeAddOp(flipped, 'test')),
        'STORAGE_CORRUPT_RECORD',
      ),
    ).toBe(true)
  })
})

function records(n: number, epoch = 1): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    frameRecord(RT_BATCH, epoch, encodeBatch([add('Q', `m${i}`, `body-${i}-`.repeat(i + 1))], [i + 1]).payload),
  )
}

function scan(data: Buffer, limit = Infinity) {
  const seen: number[] = []
  const r = scanSegment({
    file: 'db-1.log',
    data,
    base: SEGMENT_HEADER_BYTES,
    epoch: 1,
    limit,
    recordBytesMax: 1 << 20,
    onRecord: (_t, ps, pe) => seen.push((decodeBatchForReplay(data, ps, pe, 't')[0] as { seq: number }).seq),
  })
  return { ...r, seen }
}

describe('segment scanner', () => {
  test('segment scanner reads back every record of an intact segment', () => {
    const r = scan(Buffer.concat(records(5)))
    expect(r.seen).toEqual([1, 2, 3, 4, 5])
    expect(r.torn).toBeNull()
    expect(r.corrupt).toEqual([])
  })

  test('segment scanner reports a torn tail at every split point of the last record and keeps the others', () => {
    const recs = records(3)
    const full = Buffer.concat(recs)
    const lastStart = recs[0].length + recs[1].length
    for (let cut = lastStart + 1; cut < full.length; cut++) {
      const r = scan(full.subarray(0, cut))
      expect(r.seen).toEqual([1, 2])
      expect(r.torn).toEqual({ offset: SEGMENT_HEADER_BYTES + lastStart, bytes: cut - lastStart })
      expect(r.corrupt).toEqual([])
    }
  })

  test('segment scanner reports a flipped byte anywhere in a middle record with its offset and recovers the rest', () => {
    const recs = records(3)
    const full = Buffer.concat(recs)
    const start = recs[0].length
    for (let i = start; i < start + recs[1].length; i++) {
      const d = Buffer.from(full)
      d[i] ^= 0x10
      const r = scan(d)
      expect(r.seen).toEqual([1, 3])
      expect(r.corrupt.length).toBe(1)
      expect(r.corrupt[0].offset).toBe(SEGMENT_HEADER_BYTES + start)
      expect(r.torn).toBeNull()
    }
  })

  test('segment scanner reports a complete last record with a bad CRC as corrupt, not torn', () => {
    const d = Buffer.concat(records(2))
    d[d.length - 1] ^= 1
    const r = scan(d)
    expect(r.seen).toEqual([1])
    expect(r.torn).toBeNull()
    expect(r.corrupt.length).toBe(1)
  })

  test('segment scanner counts records ending beyond the seal as fenced and applies none of them', () => {
    const recs = records(4)
    const d = Buffer.concat(recs)
    const limit = SEGMENT_HEADER_BYTES + recs[0].length + recs[1].length + 3 // the seal cuts into record 3
    const r = scan(d, limit)
    expect(r.seen).toEqual([1, 2])
    expect(r.fenced).toBe(2)
    expect(r.torn).toBeNull()
  })

  test('segment scanner ignores records of another epoch in a segment (resync on epoch)', () => {
    const d = Buffer.concat([...records(1), ...records(1, 2), ...records(1)])
    const r = scan(d)
    expect(r.seen).toEqual([1, 1])
    expect(r.corrupt.length).toBe(1)
  })
})
