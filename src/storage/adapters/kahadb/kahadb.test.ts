/**
 * KahaDbAdapter: runs the shared conformance suite (incl. the kill -9 group through src/testing/crash-writer.ts),
 * then kahaDB-specific cases: recovery from checkpoint + journal tail, GC keeping what replay needs.
 * Journal internals (framing, torn tails, fencing, group commit, faulty fs) are in src/storage/journal/*.test.ts.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeAdapter, loadAll } from '../../conformance.ts'
import { KahaDbAdapter } from './index.ts'
import { plantJournalFormat, plantUndecodableMessage } from '../../journal/plant-format.ts'
import { msg, strProp } from '../../conformance/harness.ts'

describeAdapter('KahaDbAdapter', {
  open: () => new KahaDbAdapter(),
  supports: {
    formatCheck: { plant: (dir, kind) => plantJournalFormat(dir, kind, 'kahaDB') },
    corruptMessage: { plant: plantUndecodableMessage },
    refusesOlderEpochOnOpen: true,
    standby: true,
    crash: {
      module: fileURLToPath(new URL('./index.ts', import.meta.url)),
      exportName: 'KahaDbAdapter',
      openOptions: { journalMaxFileLength: 64 * 1024 },
    },
  },
})

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-kahadb-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const enc = new TextEncoder()
const add = (destination: string, id: string, body = 'x') => ({
  op: 'add' as const,
  destination,
  message: msg(id, enc.encode(body), { id: id }),
})

describe('KahaDbAdapter checkpoint and GC', () => {
  test('KahaDbAdapter recovers from the checkpoint plus only the journal tail', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({ directory: dir, epoch: 1, checkpointIntervalMs: 0, cleanupIntervalMs: 0 })
    const r1 = await a.write(Array.from({ length: 100 }, (_, i) => add('Q', `a${i}`)))
    await a.checkpoint()
    // Tail after the checkpoint: 3 records.
    await a.write([add('Q', 'tail-1')])
    await a.write([{ op: 'remove', destination: 'Q', seq: r1.seqs[0] }])
    await a.write([add('R', 'tail-2')])
    // Simulate a crash: no close(), so no final checkpoint. Reopen a second instance under the next epoch.
    const b = new KahaDbAdapter()
    const rec = await b.open({ directory: dir, epoch: 2, cleanupIntervalMs: 0 })
    expect(rec.report.recordsReplayed).toBe(3)
    expect(rec.report.corrupt).toEqual([])
    const q = await loadAll(b, 'Q')
    expect(q.length).toBe(100)
    expect(q[0].message.messageId).toBe('a1')
    expect(q[99].message.messageId).toBe('tail-1')
    expect((await loadAll(b, 'R')).map((m) => m.message.messageId)).toEqual(['tail-2'])
    await b.close()
    await a.close().catch(() => {})
  })

  test('KahaDbAdapter GC deletes fully acked segments and keeps those with live messages', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({
      directory: dir,
      epoch: 1,
      journalMaxFileLength: 4096,
      checkpointIntervalMs: 0,
      cleanupIntervalMs: 0,
    })
    const body = 'y'.repeat(1000)
    const seqs: number[] = []
    for (let i = 0; i < 20; i++) seqs.push(...(await a.write([add('G', `g${i}`, body)])).seqs)
    const before = a.segmentIds().ids
    expect(before.length).toBeGreaterThan(4)
    // Ack all but the last 2 messages.
    await a.write(seqs.slice(0, 18).map((seq) => ({ op: 'remove' as const, destination: 'G', seq })))
    const deleted = await a.cleanup()
    expect(deleted.length).toBeGreaterThan(0)
    const after = a.segmentIds().ids
    for (const id of deleted) expect(existsSync(join(dir, `db-${id}.log`))).toBe(false)
    expect(after.length).toBeLessThan(before.length)
    await a.close()
    const b = new KahaDbAdapter()
    await b.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    expect((await loadAll(b, 'G')).map((m) => m.message.messageId)).toEqual(['g18', 'g19'])
    expect(b.isDuplicate('g0')).toBe(true)
    await b.close()
  })

  test('KahaDbAdapter without any checkpoint file replays the whole journal', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({ directory: dir, epoch: 1, checkpointIntervalMs: 0, cleanupIntervalMs: 0 })
    await a.write([add('Q', 'only')])
    // No close: no checkpoint was ever written.
    expect(readdirSync(dir).some((n) => n.endsWith('.ckpt'))).toBe(false)
    const b = new KahaDbAdapter()
    const rec = await b.open({ directory: dir, epoch: 2 })
    expect(rec.report.recordsReplayed).toBe(1)
    expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['only'])
    await b.close()
    await a.close().catch(() => {})
  })

  test('KahaDbAdapter reports a corrupt checkpoint and falls back to full replay', async () => {
    const dir = tmp()
    const a = new KahaDbAdapter()
    await a.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    await a.write([add('Q', 'm1')])
    await a.close()
    const ck = readdirSync(dir).find((n) => n.endsWith('.ckpt'))!
    const raw = readFileSync(join(dir, ck))
    raw[raw.length - 10] ^= 0xff
    writeFileSync(join(dir, ck), raw)
    const b = new KahaDbAdapter()
    const rec = await b.open({ directory: dir, epoch: 1 })
    expect(rec.report.corrupt.length).toBe(1)
    expect(rec.report.corrupt[0].file).toContain('.ckpt')
    expect((await loadAll(b, 'Q')).map((m) => m.message.messageId)).toEqual(['m1'])
    await b.close()
  })
})
