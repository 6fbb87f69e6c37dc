/**
 * Goal: a warm replica's JournalTailReader follows a writer read-only, and JournalStore.open({ standby }) recovers
 * exactly what a cold open recovers. Method: a real writer in a temp directory (small segments, so rollover, GC and
 * checkpoints happen often), the reader polled at seeded random moments; at a seeded random crash point the writer is
 * abandoned (no close), sometimes with a torn record appended, the directory is copied, and a warm open of the
 * original is compared with a cold open of the copy (RecoveredState, every message, the report). Replay a failure
 * with the printed SEED.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import {
  mkdtempSync,
  rmSync,
  cpSync,
  appendFileSync,
  readdirSync,
  statSync,
  openSync,
  writeSync,
  closeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KahaDbAdapter } from '../adapters/kahadb/index.ts'
import { AmqAdapter } from '../adapters/amq/index.ts'
import { loadAll } from '../conformance.ts'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import type { JournalStore } from './journal-store.ts'
import type { RecoveredState, StandbyReader, StoreOp } from '../types.ts'
import { encodeBatch, frameRecord, RT_BATCH, segmentName } from './format.ts'
import { msg, strProp } from '../conformance/harness.ts'

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-tail-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const enc = new TextEncoder()
const add = (destination: string, id: string, body = 'x'): StoreOp => ({
  op: 'add',
  destination,
  message: msg(id, enc.encode(body), { id: id }),
})
const OPTS = { journalMaxFileLength: 4096, checkpointIntervalMs: 0, cleanupIntervalMs: 0, syncPolicy: 'never' as const }
const DESTS = ['Q0', 'Q1', 'Q2']

function norm(r: RecoveredState) {
  return {
    destinations: r.destinations.filter((d) => d.count > 0).sort((a, b) => a.destination.localeCompare(b.destination)),
    subscriptions: [...r.subscriptions].sort((a, b) =>
      `${a.clientId}:${a.subscriptionName}`.localeCompare(`${b.clientId}:${b.subscriptionName}`),
    ),
    corrupt: r.report.corrupt.length,
    tornTail: r.report.tornTail ? { offset: r.report.tornTail.offset, bytes: r.report.tornTail.bytes } : null,
  }
}

async function contents(a: JournalStore) {
  const out: Record<string, [number, string, string][]> = {}
  for (const d of DESTS)
    out[d] = (await loadAll(a, d)).map((m) => [m.seq, m.message.messageId, new TextDecoder().decode(m.message.body)])
  return out
}

/** A seeded workload: adds, removes, purges, subscriptions, checkpoints, GC; the reader polled now and then. */
async function workload(a: JournalStore, reader: StandbyReader, rnd: SeededRandom, steps: number) {
  const live: { d: string; seq: number }[] = []
  for (let i = 0; i < steps; i++) {
    const x = rnd.next()
    if (x < 0.3 && live.length > 0) {
      const [m] = live.splice(rnd.int(0, live.length - 1), 1)
      await a.write([{ op: 'remove', destination: m!.d, seq: m!.seq }])
    } else if (x < 0.32) {
      const d = rnd.pick(DESTS)
      await a.write([{ op: 'purge', destination: d }])
      for (let k = live.length - 1; k >= 0; k--) if (live[k]!.d === d) live.splice(k, 1)
    } else if (x < 0.35) {
      const name = `s${rnd.int(0, 2)}`
      if (rnd.next() < 0.7)
        await a.write([
          {
            op: 'putSubscription',
            subscription: {
              clientId: 'c',
              subscriptionName: name,
              destination: '/topic/T',
              selector: null,
              noLocal: false,
              storeKey: `durable://c:${name}`,
              createdAt: i,
            },
          },
        ])
      else await a.write([{ op: 'removeSubscription', clientId: 'c', subscriptionName: name }])
    } else {
      const n = rnd.int(1, 4)
      const ops = Array.from({ length: n }, (_, k) => add(rnd.pick(DESTS), `m-${i}-${k}`, 'b'.repeat(rnd.int(1, 300))))
      const r = await a.write(ops)
      r.seqs.forEach((seq, k) => live.push({ d: (ops[k] as { destination: string }).destination, seq }))
    }
    const y = rnd.next()
    if (y < 0.04) await a.checkpoint()
    else if (y < 0.07) await a.cleanup()
    if (rnd.next() < 0.15) await reader.poll()
  }
}

function currentSegment(dir: string): string {
  const ids = readdirSync(dir)
    .map((n) => /^db-(\d+)\.log$/.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]))
  return join(dir, segmentName(Math.max(...ids)))
}

for (const [name, make] of [
  ['kahaDB', () => new KahaDbAdapter()],
  ['amq', () => new AmqAdapter()],
] as const) {
  describe(`JournalTailReader (${name})`, () => {
    test(`JournalTailReader (${name}) warm open recovers what a cold open recovers across seeded crash points`, async () => {
      const seed = seedFromEnv()
      console.log(`[tail-reader ${name}] seed=${seed} (replay: SEED=${seed})`)
      const rnd = new SeededRandom(seed)
      for (let round = 0; round < 12; round++) {
        const dir = tmp()
        const w: JournalStore = make()
        await w.open({ directory: dir, epoch: 1, ...OPTS })
        const reader = w.standby({ directory: dir })
        await workload(w, reader, rnd, rnd.int(20, 250))
        const shape = rnd.int(0, 3)
        if (shape === 1) {
          // A torn record: the start of a batch, cut by the crash.
          const rec = frameRecord(RT_BATCH, 1, encodeBatch([add('Q0', 'torn')], [999_999]).payload)
          appendFileSync(currentSegment(dir), rec.subarray(0, rnd.int(1, rec.length - 1)))
        } else if (shape === 2) {
          // A complete record the writer made durable but never applied in memory (crash before the ack).
          const rec = frameRecord(RT_BATCH, 1, encodeBatch([add('Q1', 'unacked')], [999_999]).payload)
          appendFileSync(currentSegment(dir), rec)
        }
        if (rnd.next() < 0.7) await reader.poll()
        const before = reader.stats()
        const cold = tmp()
        cpSync(dir, cold, { recursive: true })
        const warmStore: JournalStore = make()
        const coldStore: JournalStore = make()
        const rw = await warmStore.open({ directory: dir, epoch: 2, ...OPTS, standby: reader })
        const rc = await coldStore.open({ directory: cold, epoch: 2, ...OPTS })
        const ctx = `seed ${seed} round ${round} shape ${shape} reader ${JSON.stringify(before.position)}`
        expect(warmStore.warmOpen, ctx).toBe(before.ready)
        expect({ ctx, ...norm(rw) }).toEqual({ ctx, ...norm(rc) })
        expect(await contents(warmStore)).toEqual(await contents(coldStore))
        // Both continue alike.
        const a1 = await warmStore.write([add('Q2', 'next')])
        const a2 = await coldStore.write([add('Q2', 'next')])
        expect(a1.seqs).toEqual(a2.seqs)
        await warmStore.close()
        await coldStore.close()
        await w.close().catch(() => {})
      }
    }, 120_000)

    test(`JournalTailReader (${name}) treats a torn tail as not yet complete and never writes`, async () => {
      const dir = tmp()
      const w: JournalStore = make()
      await w.open({ directory: dir, epoch: 1, ...OPTS, journalMaxFileLength: 1024 * 1024 })
      const reader = w.standby({ directory: dir })
      await w.write([add('Q0', 'a')])
      await reader.poll()
      expect(reader.stats().messages).toBe(1)
      // Half a record, as a reader may see while the writer's write is in flight.
      const rec = frameRecord(RT_BATCH, 1, encodeBatch([add('Q0', 'b')], [2]).payload)
      const seg = currentSegment(dir)
      const sizeBefore = statSync(seg).size
      appendFileSync(seg, rec.subarray(0, 20))
      const mtime = statSync(seg).mtimeMs
      const p = await reader.poll()
      expect(p.waitingAt?.offset).toBe(sizeBefore)
      expect(reader.stats().messages).toBe(1)
      expect(statSync(seg).size).toBe(sizeBefore + 20) // not truncated
      expect(statSync(seg).mtimeMs).toBe(mtime)
      // The rest arrives: the record is applied.
      appendFileSync(seg, rec.subarray(20))
      const p2 = await reader.poll()
      expect(p2.waitingAt).toBeNull()
      expect(p2.recordsApplied).toBe(1)
      expect(reader.stats().messages).toBe(2)
      await reader.close()
      await w.close().catch(() => {})
    })

    test(`JournalTailReader (${name}) follows rollover, checkpoints and GC, and rebuilds when GC outruns it`, async () => {
      const dir = tmp()
      const w: JournalStore = make()
      await w.open({ directory: dir, epoch: 1, ...OPTS })
      const reader = w.standby({ directory: dir })
      await reader.poll()
      // Keep up: poll after every write; segments roll and GC deletes consumed ones.
      for (let i = 0; i < 200; i++) {
        const r = await w.write([add('Q0', `k${i}`, 'z'.repeat(100))])
        await w.write([{ op: 'remove', destination: 'Q0', seq: r.seqs[0]! }])
        if (i % 20 === 0) await w.checkpoint()
        if (i % 25 === 0) await w.cleanup()
        const p = await reader.poll()
        // kahaDB: nothing is deleted ahead of a reader that keeps up. amq's GC may delete the segment a reader
        // stands at the end of (it cannot know the segment got nothing more): it rebuilds, correctly, just slower.
        if (name === 'kahaDB') expect(p.resynced).toBeNull()
        expect(reader.stats().messages).toBe(w.stats().messages)
      }
      expect(w.segmentIds().ids[0]).toBeGreaterThan(1)
      // Fall behind: many segments written and GC'd between two polls.
      const ids0 = w.segmentIds().ids
      for (let i = 0; i < 300; i++) {
        const r = await w.write([add('Q1', `g${i}`, 'z'.repeat(100))])
        await w.write([{ op: 'remove', destination: 'Q1', seq: r.seqs[0]! }])
      }
      await w.checkpoint()
      await w.cleanup()
      expect(w.segmentIds().ids[0]).toBeGreaterThan(ids0[ids0.length - 1]!)
      const p = await reader.poll()
      if (name === 'kahaDB') expect(p.resynced).not.toBeNull()
      expect(reader.stats().messages).toBe(w.stats().messages)
      await reader.close()
      await w.close().catch(() => {})
    })
  })
}

test('JournalTailReader never applies bytes a deposed primary wrote after a newer seal', async () => {
  const dir = tmp()
  const a = new KahaDbAdapter()
  await a.open({ directory: dir, epoch: 1, ...OPTS, journalMaxFileLength: 1024 * 1024 })
  const reader = a.standby({ directory: dir })
  await a.write([add('Q0', 'before')])
  await reader.poll()
  // Epoch 2 takes over (seals epoch 1's segment), then the paused epoch-1 writer appends one more record.
  const b = new KahaDbAdapter()
  const cold = tmp()
  await b.open({ directory: dir, epoch: 2, ...OPTS, journalMaxFileLength: 1024 * 1024 })
  const late = frameRecord(RT_BATCH, 1, encodeBatch([add('Q0', 'late')], [50]).payload)
  const seg1 = join(dir, segmentName(1))
  const fd = openSync(seg1, 'a')
  writeSync(fd, late)
  closeSync(fd)
  await b.write([add('Q0', 'after')])
  await reader.poll()
  expect(reader.stats().messages).toBe(2) // before, after: not late
  cpSync(dir, cold, { recursive: true })
  const w = new KahaDbAdapter()
  const c = new KahaDbAdapter()
  const rw = await w.open({ directory: dir, epoch: 3, ...OPTS, standby: reader })
  const rc = await c.open({ directory: cold, epoch: 3, ...OPTS })
  expect(w.warmOpen).toBe(true)
  expect(norm(rw)).toEqual(norm(rc))
  expect((await loadAll(w, 'Q0')).map((m) => m.message.messageId)).toEqual(['before', 'after'])
  await w.close()
  await c.close()
  await a.close().catch(() => {})
  await b.close().catch(() => {})
})
