/**
 * JournalStore (through the kahaDB and amq adapters) under faults and races the conformance suite cannot stage:
 * every I/O call failing in turn (then a crash that keeps, drops, tears or flips unsynced data, then a reopen that
 * must hold every acknowledged write and invent nothing), torn tails, bit rot reported with its position, group
 * commit sharing fsyncs, two writers of different epochs on one directory, format refusals, ENOSPC, limits.
 * Method: the in-memory FaultyFs (src/testing/faulty-fs.ts) for faults, seeded so a failure replays; a real temp
 * directory for group commit and fencing.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import { mkdtempSync, rmSync, readFileSync, writeFileSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { FaultyFs, type CrashMode } from '../../testing/faulty-fs.ts'
import { KahaDbAdapter } from '../adapters/kahadb/index.ts'
import { AmqAdapter } from '../adapters/amq/index.ts'
import type { JournalStore, JournalStoreDeps } from './journal-store.ts'
import { loadAll } from '../conformance.ts'
import { configureLogging } from '../../lib/log.ts'
import { sealLimit, type Seal } from './seals.ts'
import type { StoreOp } from '../types.ts'
import { JOURNAL_FORMAT_VERSION } from './format.ts'
import { msg, strProp } from '../conformance/harness.ts'

// Injected faults log errors by design; keep the output to the test results.
configureLogging('silent', 'pretty')

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-journal-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const enc = new TextEncoder()
const dec = new TextDecoder()
const add = (destination: string, id: string, body = `body of ${id}`): StoreOp => ({
  op: 'add',
  destination,
  message: msg(id, enc.encode(body), { id: id }),
})
const KINDS = [
  ['kahaDB', (d?: JournalStoreDeps) => new KahaDbAdapter(d)],
  ['amq', (d?: JournalStoreDeps) => new AmqAdapter(d)],
] as const

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    return (e as BrokerError).code ?? String(e)
  }
}

describe('JournalStore fault injection', () => {
  for (const [kind, make] of KINDS) {
    test(`JournalStore (${kind}) keeps every acknowledged write when I/O call n fails, for n = 1, 2, 3, ...`, async () => {
      const modes: CrashMode[] = ['drop', 'tear', 'flip', 'keep']
      let n = 1
      let sawUntriggered = false
      // Bounded: the workload makes a few hundred calls; n past that injects nothing and ends the loop.
      for (; n <= 600 && !sawUntriggered; n++) {
        const seed = n * 7919
        const fs = new FaultyFs(seed)
        fs.failAt(n, n % 3 === 0 ? 'ENOSPC' : 'EIO')
        const fatal: Error[] = []
        const acked = new Map<string, number>() // id -> seq
        const ackedRemoved = new Set<string>()
        // A write that failed (e.g. EIO on fsync) may still be on disk: its removes may or may not apply.
        const removeIssued = new Set<string>()
        const issued = new Set<string>()
        const a = make({ io: fs })
        let opened = true
        try {
          await a.open({
            directory: '/store',
            epoch: 1,
            journalMaxFileLength: 4096,
            checkpointIntervalMs: 0,
            cleanupIntervalMs: 0,
            onFatalError: (e) => fatal.push(e),
          })
        } catch (e) {
          opened = false
          expect(isBrokerError(e, 'STORAGE_IO')).toBe(true)
        }
        const bodies = new Map<string, string>()
        const w = async (ops: StoreOp[]) => {
          for (const o of ops) if (o.op === 'add') bodies.set(o.message.messageId, dec.decode(o.message.body))
          for (const o of ops) if (o.op === 'add') issued.add(o.message.messageId)
          for (const o of ops) if (o.op === 'remove') for (const [id, s] of acked) if (s === o.seq) removeIssued.add(id)
          try {
            const r = await a.write(ops)
            let i = 0
            for (const o of ops) {
              if (o.op === 'add') acked.set(o.message.messageId, r.seqs[i++])
              if (o.op === 'remove') for (const [id, s] of acked) if (s === o.seq) ackedRemoved.add(id)
            }
          } catch (e) {
            expect(isBrokerError(e, 'STORAGE_IO')).toBe(true)
          }
        }
        if (opened) {
          const big = 'x'.repeat(900)
          for (let i = 0; i < 3; i++) await w([add('Q', `s${i}`, `${big}${i}`)])
          await Promise.all([0, 1, 2, 3].map((i) => w([add(`Q${i % 2}`, `c${i}`, `${big}c${i}`)])))
          const first = acked.get('s0')
          if (first !== undefined) await w([{ op: 'remove', destination: 'Q', seq: first }, add('Q', 'tx1')])
          await a.checkpoint().catch((e) => expect(isBrokerError(e, 'STORAGE_IO')).toBe(true))
          await w([add('Q', 'late1')])
          await a.cleanup().catch((e) => expect(isBrokerError(e, 'STORAGE_IO')).toBe(true))
          await w([add('Q', 'late2')])
          await a.close().catch((e) => expect(e instanceof BrokerError).toBe(true))
        }
        const injected = fs.failed.length > 0
        if (!injected) sawUntriggered = true
        if (injected && opened && issued.size > acked.size) expect(fatal.length).toBeGreaterThanOrEqual(1)
        fs.crash(modes[n % modes.length])
        fs.clearFaults()
        const b = make({ io: fs })
        const rec = await b.open({ directory: '/store', epoch: 2, cleanupIntervalMs: 0 })
        const present = new Map<string, number>()
        for (const d of ['Q', 'Q0', 'Q1'])
          for (const m of await loadAll(b, d)) {
            expect(dec.decode(m.message.body)).toBe(bodies.get(m.message.messageId)!)
            expect(strProp(m, 'id')).toBe(m.message.messageId)
            present.set(m.message.messageId, m.seq)
          }
        const ctx = `(seed ${seed}, n ${n}, mode ${modes[n % modes.length]}, failed ${JSON.stringify(fs.failed)}, report ${JSON.stringify(rec.report)})`
        for (const [id, seq] of acked) {
          if (ackedRemoved.has(id)) expect([id, present.has(id), ctx]).toEqual([id, false, ctx])
          else if (!removeIssued.has(id) || present.has(id)) expect([id, present.get(id), ctx]).toEqual([id, seq, ctx])
        }
        for (const id of present.keys()) expect([id, issued.has(id), ctx]).toEqual([id, true, ctx])
        // The transaction (remove s0 + add tx1) is whole or absent.
        if (issued.has('tx1')) expect(present.has('tx1')).toBe(!present.has('s0') || !acked.has('s0'))
        await b.close()
      }
      expect(sawUntriggered).toBe(true)
      expect(n).toBeGreaterThan(20)
    }, 120_000)
  }

  test('JournalStore cuts off a torn tail left by a crash and reports it once', async () => {
    const fs = new FaultyFs(11)
    const a = new AmqAdapter({ io: fs })
    await a.open({ directory: '/s', epoch: 1, syncPolicy: 'never', cleanupIntervalMs: 0 })
    for (let i = 0; i < 5; i++) await a.write([add('Q', `m${i}`, 'p'.repeat(200))])
    const seg = fs.list().find((p) => /db-\d+\.log$/.test(p))!
    const fullLength = fs.peek(seg)!.length
    fs.crash('tear')
    const tornLength = fs.peek(seg)!.length
    const b = new AmqAdapter({ io: fs })
    const rec = await b.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    const got = (await loadAll(b, 'Q')).map((m) => m.message.messageId)
    // Nothing was synced: what survives is a prefix of the writes, the last one cut.
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'].slice(0, got.length))
    expect(got.length).toBeLessThan(5)
    expect(tornLength).toBeLessThan(fullLength)
    if (rec.report.tornTail) {
      expect(rec.report.tornTail.file).toBe(seg)
      expect(fs.peek(seg)!.length).toBe(rec.report.tornTail.offset)
    }
    await b.close()
    const c = new AmqAdapter({ io: fs })
    const rec2 = await c.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    expect(rec2.report.tornTail).toBeNull()
    expect((await loadAll(c, 'Q')).map((m) => m.message.messageId)).toEqual(got)
    await c.close()
  })

  test('JournalStore reports a tear inside the last record as tornTail with file and offset', async () => {
    // Find a seed whose tear keeps part of the last write (a tear may also keep none of it).
    let found = false
    for (let seed = 1; seed <= 50 && !found; seed++) {
      const fs = new FaultyFs(seed)
      const a = new AmqAdapter({ io: fs })
      await a.open({ directory: '/s', epoch: 1, syncPolicy: 'never', cleanupIntervalMs: 0 })
      await a.write([add('Q', 'm0', 'p'.repeat(300))])
      const seg = fs.list().find((p) => /db-\d+\.log$/.test(p))!
      const before = fs.peek(seg)!.length
      await a.write([add('Q', 'm1', 'q'.repeat(300))])
      fs.crash((p) => (p === seg ? 'tear' : 'keep'))
      if (fs.peek(seg)!.length <= before) continue
      found = true
      const b = new AmqAdapter({ io: fs })
      const rec = await b.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
      expect(rec.report.tornTail).toEqual({ file: seg, offset: before, bytes: expect.any(Number) as unknown as number })
      expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['m0'])
      await b.close()
    }
    expect(found).toBe(true)
  })

  test('JournalStore reports bit rot in a synced middle record with file and offset and recovers the others', async () => {
    const fs = new FaultyFs(3)
    const a = new AmqAdapter({ io: fs })
    await a.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    for (const id of ['first', 'middle', 'last']) await a.write([add('Q', id, `<<${id}>>`)])
    await a.close()
    const seg = fs.list().find((p) => /db-\d+\.log$/.test(p))!
    const bytes = fs.peek(seg)!
    const at = bytes.indexOf('<<middle>>')
    fs.poke(seg, at + 3, Uint8Array.of(bytes[at + 3] ^ 0x01))
    const b = new AmqAdapter({ io: fs })
    const rec = await b.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    expect(rec.report.corrupt.length).toBe(1)
    expect(rec.report.corrupt[0].file).toBe(seg)
    expect(rec.report.corrupt[0].offset).toBeLessThan(at)
    expect(rec.report.corrupt[0].offset).toBeGreaterThan(bytes.indexOf('<<first>>'))
    expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['first', 'last'])
    await b.close()
  })

  test('JournalStore (kahaDB) reports rot in checkpointed bytes at open, skips that message and serves the rest', async () => {
    const fs = new FaultyFs(4)
    const a = new KahaDbAdapter({ io: fs })
    await a.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    for (const id of ['m1', 'rot', 'm3']) await a.write([add('Q', id, `<<${id}>>`)])
    await a.close() // checkpoint: the reopen will not replay these records
    const seg = fs.list().find((p) => /db-\d+\.log$/.test(p))!
    const at = fs.peek(seg)!.indexOf('<<rot>>')
    fs.poke(seg, at, Uint8Array.of(0))
    for (let round = 0; round < 2; round++) {
      const b = new KahaDbAdapter({ io: fs })
      const rec = await b.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
      expect(rec.report.recordsReplayed).toBe(0)
      // Found by the background verification, before any consumer asks for it (and again on every open).
      await b.verified()
      const it = b.stats().integrity!
      expect(it.verification).toBe('done')
      expect(it.verifiedMessages).toBe(2)
      expect(it.corruptCount).toBe(1)
      expect(it.corrupt[0]!.file).toBe(seg)
      expect(it.corrupt[0]!.offset).toBeLessThan(at)
      expect(it.corrupt[0]!.reason).toContain('seq 2 of Q')
      // Not served, not dropped: still counted in its destination.
      expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['m1', 'm3'])
      expect(b.stats().destinations).toEqual([{ destination: 'Q', count: 3, bytes: 3 * '<<m1>>'.length + 1 }])
      await b.close()
    }
  })

  test('JournalStore load() still returns `limit` messages when one of them is corrupt (a short page means the end)', async () => {
    const fs = new FaultyFs(6)
    const a = new KahaDbAdapter({ io: fs })
    await a.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0, checkpointIntervalMs: 0 })
    for (let i = 1; i <= 6; i++) await a.write([add('Q', `m${i}`, `<<m${i}>>`)])
    await a.close()
    const seg = fs.list().find((p) => /db-\d+\.log$/.test(p))!
    fs.poke(seg, fs.peek(seg)!.indexOf('<<m2>>'), Uint8Array.of(0))
    fs.poke(seg, fs.peek(seg)!.indexOf('<<m3>>'), Uint8Array.of(0))
    const b = new KahaDbAdapter({ io: fs })
    await b.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0 })
    // Asked before the background verification found them.
    const page = await b.load('Q', 0, 3)
    expect(page.map((m) => m.message.messageId)).toEqual(['m1', 'm4', 'm5'])
    expect((await b.load('Q', page[2]!.seq, 3)).map((m) => m.message.messageId)).toEqual(['m6'])
    await b.verified()
    expect(b.stats().integrity!.corruptCount).toBe(2)
    await b.close()
  })

  test('JournalStore rejects writes with STORAGE_IO on ENOSPC, calls onFatalError once, and reopens cleanly', async () => {
    const fs = new FaultyFs(5)
    const fatal: Error[] = []
    const a = new KahaDbAdapter({ io: fs })
    await a.open({ directory: '/s', epoch: 1, cleanupIntervalMs: 0, onFatalError: (e) => fatal.push(e) })
    await a.write([add('Q', 'ok')])
    fs.failWhen((call, path) => call === 'write' && path.includes('db-'), 'ENOSPC')
    const results = await Promise.allSettled([
      a.write([add('Q', 'x1')]),
      a.write([add('Q', 'x2')]),
      a.write([add('Q', 'x3')]),
    ])
    for (const r of results) {
      expect(r.status).toBe('rejected')
      const e = (r as PromiseRejectedResult).reason as BrokerError
      expect(e.code).toBe('STORAGE_IO')
      expect(e.details?.errno).toBe('ENOSPC')
    }
    expect(fatal.length).toBe(1)
    expect(await codeOf(a.write([add('Q', 'x4')]))).toBe('STORAGE_IO')
    await a.close()
    expect(await codeOf(a.write([add('Q', 'x5')]))).toBe('STORAGE_CLOSED')
    fs.clearFaults()
    const b = new KahaDbAdapter({ io: fs })
    await b.open({ directory: '/s', epoch: 2, cleanupIntervalMs: 0 })
    expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['ok'])
    await b.close()
  })
})

describe('JournalStore group commit, sync policies, limits', () => {
  test('JournalStore group commit: 64 concurrent writers share fsyncs and fence checks', async () => {
    const dir = tmp()
    let fenceCalls = 0
    const a = new KahaDbAdapter()
    await a.open({
      directory: dir,
      epoch: 1,
      cleanupIntervalMs: 0,
      checkpointIntervalMs: 0,
      fence: { assertCurrent: async () => void fenceCalls++ },
    })
    const before = a.stats().syncs
    const writes = 64
    const rs = await Promise.all(
      Array.from({ length: writes }, (_, i) => a.write([add('G', `g${i}`, 'z'.repeat(1024))])),
    )
    const syncs = a.stats().syncs - before
    expect(syncs).toBeGreaterThanOrEqual(1)
    expect(syncs).toBeLessThan(writes)
    expect(fenceCalls).toBeLessThan(writes)
    // Seqs still follow call order.
    for (let i = 1; i < rs.length; i++) expect(rs[i].seqs[0]).toBeGreaterThan(rs[i - 1].seqs[0])
    const st = a.stats()
    expect(st.syncLatencyMs[st.syncLatencyMs.length - 1].count).toBe(st.syncs)
    await a.close()
  })

  test('JournalStore periodic sync policy resolves writes before fsync and syncs on its interval', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({
      directory: dir,
      epoch: 1,
      syncPolicy: 'periodic',
      syncIntervalMs: 20,
      cleanupIntervalMs: 0,
      checkpointIntervalMs: 0,
    })
    const before = a.stats().syncs
    await a.write([add('P', 'p1')])
    expect(a.stats().syncs).toBe(before)
    for (let i = 0; i < 250 && a.stats().syncs === before; i++) await new Promise((r) => setTimeout(r, 20))
    expect(a.stats().syncs).toBeGreaterThan(before)
    await a.close()
  })

  test('JournalStore rejects a batch over recordBytesMax and malformed ops with STORAGE_INVALID_OP, bad options with CONFIG_INVALID', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter({ recordBytesMax: 2048 })
    expect(await codeOf(a.open({ directory: dir, epoch: 0 }))).toBe('CONFIG_INVALID')
    expect(await codeOf(a.open({ directory: dir, epoch: 1, journalMaxFileLength: 10 }))).toBe('CONFIG_INVALID')
    expect(await codeOf(a.open({ directory: dir, epoch: 1, syncPolicy: 'sometimes' as never }))).toBe('CONFIG_INVALID')
    await a.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    expect(await codeOf(a.write([add('Q', 'big', 'b'.repeat(2100))]))).toBe('STORAGE_INVALID_OP')
    expect(await codeOf(a.write([add('Q', 'fits', 'b'.repeat(1900))]))).toBe('resolved')
    expect(await codeOf(a.write([{ op: 'add', destination: '', message: msg('x', enc.encode('x')) }]))).toBe(
      'STORAGE_INVALID_OP',
    )
    expect(await codeOf(a.write([{ op: 'frobnicate' } as never]))).toBe('STORAGE_INVALID_OP')
    expect(
      await codeOf(
        a.write([
          {
            op: 'add',
            destination: 'Q',
            message: { ...msg('x', 'x'), properties: new Map([['n', { type: 'int', value: 1.5 }]]) } as never,
          },
        ]),
      ),
    ).toBe('STORAGE_INVALID_OP')
    expect(await codeOf(a.load('Q', 0, 0))).toBe('STORAGE_INVALID_OP')
    await a.close()
  })

  test('JournalStore refuses a newer segment format and a newer index format with STORAGE_FORMAT', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    await a.write([add('Q', 'm')])
    await a.close()
    const ck = join(dir, readdirSync(dir).find((n) => n.endsWith('.ckpt'))!)
    const ckRaw = readFileSync(ck)
    const patched = Buffer.from(ckRaw)
    patched.writeUInt32LE(99, 8)
    writeFileSync(ck, patched)
    expect(await codeOf(new KahaDbAdapter().open({ directory: dir, epoch: 1 }))).toBe('STORAGE_FORMAT')
    writeFileSync(ck, ckRaw)
    const seg = join(
      dir,
      readdirSync(dir)
        .filter((n) => /^db-\d+\.log$/.test(n))
        .sort()[0],
    )
    const s = readFileSync(seg)
    s.writeUInt32LE(JOURNAL_FORMAT_VERSION + 1, 8)
    s.writeUInt32LE(crc32(s.subarray(0, 60)) >>> 0, 60)
    writeFileSync(seg, s)
    expect(await codeOf(new KahaDbAdapter().open({ directory: dir, epoch: 1 }))).toBe('STORAGE_FORMAT')
  })
})

describe('JournalStore epoch fencing', () => {
  test('sealLimit: a segment a newer seal does not list yields nothing; the smallest newer seal wins', () => {
    const seals = new Map<number, Seal>([
      [2, { epoch: 2, segments: { '1': 500 }, createdAt: 0 }],
      [3, { epoch: 3, segments: { '1': 300, '4': 100 }, createdAt: 0 }],
    ])
    expect(sealLimit(seals, 1, 1)).toBe(300)
    expect(sealLimit(seals, 4, 2)).toBe(100)
    expect(sealLimit(seals, 5, 2)).toBe(0) // created by epoch 2 after epoch 3 sealed
    expect(sealLimit(seals, 6, 3)).toBe(Infinity)
  })

  for (const [kind, make] of KINDS) {
    test(`JournalStore (${kind}) two writers, epochs N and N+1, one directory: N's appends after N+1 opened are not recovered`, async () => {
      const dir = tmp()
      const A = make() as JournalStore
      await A.open({
        directory: dir,
        epoch: 4,
        journalMaxFileLength: 4096,
        checkpointIntervalMs: 0,
        cleanupIntervalMs: 0,
      })
      await A.write([add('Q', 'a-before-1')])
      await A.write([add('Q', 'a-before-2')])
      const B = make() as JournalStore
      const recB = await B.open({ directory: dir, epoch: 5, checkpointIntervalMs: 0, cleanupIntervalMs: 0 })
      expect((await loadAll(B, 'Q')).map((m) => m.message.messageId)).toEqual(['a-before-1', 'a-before-2'])
      expect(recB.report.fencedRecordsIgnored).toBe(0)
      // The deposed writer has no election fence here: its late append still "succeeds" locally...
      expect(await codeOf(A.write([add('Q', 'a-late-1')]))).toBe('resolved')
      // ...but it cannot start a new segment once it sees the newer seal.
      let code = 'resolved'
      for (let i = 0; i < 20 && code === 'resolved'; i++)
        code = await codeOf(A.write([add('Q', `a-late-big-${i}`, 'L'.repeat(1500))]))
      expect(code).toBe('STORAGE_FENCED')
      await B.write([add('Q', 'b-1')])
      // B crashes (no close, so no checkpoint): the next primary replays and must skip A's late bytes.
      const C = make() as JournalStore
      const recC = await C.open({ directory: dir, epoch: 6, cleanupIntervalMs: 0 })
      expect((await loadAll(C, 'Q')).map((m) => m.message.messageId)).toEqual(['a-before-1', 'a-before-2', 'b-1'])
      expect(recC.report.fencedRecordsIgnored).toBeGreaterThanOrEqual(1)
      // Opening under an epoch below the store's fails.
      expect(await codeOf((make() as JournalStore).open({ directory: dir, epoch: 5 }))).toBe('STORAGE_FENCED')
      await C.close()
      await A.close()
      await B.close()
    })
  }
})
