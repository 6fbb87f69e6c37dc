/**
 * AmqAdapter: runs the shared conformance suite (incl. kill -9), then amq-specific cases: the index is rebuilt by
 * replaying every segment (no index file is ever written), and GC deletes only the oldest run of dead segments
 * after carrying live subscriptions, dedupe ids and the next seq forward.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import { mkdtempSync, rmSync, readdirSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeAdapter, loadAll } from '../../conformance.ts'
import { AmqAdapter } from './index.ts'
import { KahaDbAdapter } from '../kahadb/index.ts'
import { plantJournalFormat, plantUndecodableMessage } from '../../journal/plant-format.ts'
import { isBrokerError } from '../../../lib/errors.ts'
import { msg, strProp } from '../../conformance/harness.ts'

describeAdapter('AmqAdapter', {
  open: () => new AmqAdapter(),
  supports: {
    formatCheck: { plant: (dir, kind) => plantJournalFormat(dir, kind, 'amq') },
    corruptMessage: { plant: plantUndecodableMessage },
    refusesOlderEpochOnOpen: true,
    standby: true,
    crash: {
      module: fileURLToPath(new URL('./index.ts', import.meta.url)),
      exportName: 'AmqAdapter',
      openOptions: { journalMaxFileLength: 64 * 1024 },
    },
  },
})

const dirs: string[] = []
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-amq-'))
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
const sub = (clientId: string) => ({
  clientId,
  subscriptionName: 's',
  destination: '/topic/T',
  selector: null,
  noLocal: false,
  storeKey: `durable://${clientId}:s`,
  createdAt: 1,
})

describe('AmqAdapter replay and GC', () => {
  test('AmqAdapter writes no index file and replays every record on open', async () => {
    const dir = tmp()
    const a = new AmqAdapter()
    await a.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    for (let i = 0; i < 10; i++) await a.write([add('Q', `m${i}`)])
    await a.checkpoint()
    await a.close()
    expect(readdirSync(dir).some((n) => n.endsWith('.ckpt'))).toBe(false)
    const b = new AmqAdapter()
    const rec = await b.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    expect(rec.report.recordsReplayed).toBe(10)
    expect((await loadAll(b, 'Q')).length).toBe(10)
    await b.close()
  })

  test('AmqAdapter GC deletes only the oldest dead segments and carries subscriptions, dedupe ids and seqs forward', async () => {
    const dir = tmp()
    const a = new AmqAdapter()
    await a.open({ directory: dir, epoch: 1, journalMaxFileLength: 4096, cleanupIntervalMs: 0 })
    await a.write([{ op: 'putSubscription', subscription: sub('c1') }])
    const body = 'z'.repeat(1000)
    const seqs: number[] = []
    for (let i = 0; i < 12; i++) seqs.push(...(await a.write([add('G', `g${i}`, body)])).seqs)
    const keepSeq = seqs[8]
    // Ack everything but g8: segments after g8's stay (prefix rule), segments before it go.
    await a.write(seqs.filter((s) => s !== keepSeq).map((seq) => ({ op: 'remove' as const, destination: 'G', seq })))
    const first = a.segmentIds().ids[0]
    const deleted = await a.cleanup()
    expect(deleted.length).toBeGreaterThan(0)
    expect(deleted[0]).toBe(first)
    for (const id of deleted) expect(existsSync(join(dir, `db-${id}.log`))).toBe(false)
    const remaining = a.segmentIds().ids
    expect(remaining.length).toBeGreaterThan(1) // g8's segment and everything after it
    await a.close()
    const b = new AmqAdapter()
    const rec = await b.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    expect(rec.subscriptions.map((s) => s.clientId)).toEqual(['c1'])
    expect((await loadAll(b, 'G')).map((m) => m.message.messageId)).toEqual(['g8'])
    expect(b.isDuplicate('g0')).toBe(true)
    // Ack the last one and GC again: every old segment goes; seqs still grow after reopen.
    await b.write([{ op: 'remove', destination: 'G', seq: keepSeq }])
    await b.cleanup()
    await b.close()
    const c = new AmqAdapter()
    const rec2 = await c.open({ directory: dir, epoch: 1, cleanupIntervalMs: 0 })
    expect(rec2.subscriptions.map((s) => s.clientId)).toEqual(['c1'])
    expect(c.isDuplicate('g11')).toBe(true)
    const next = await c.write([add('G', 'after')])
    expect(next.seqs[0]).toBeGreaterThan(seqs[seqs.length - 1])
    await c.close()
  })

  test('AmqAdapter refuses a kahaDB store with STORAGE_FORMAT (no silent switch)', async () => {
    const dir = tmp()
    const k = new KahaDbAdapter()
    await k.open({ directory: dir, epoch: 1 })
    await k.close()
    const a = new AmqAdapter()
    const err = await a.open({ directory: dir, epoch: 1 }).catch((e) => e)
    expect(isBrokerError(err, 'STORAGE_FORMAT')).toBe(true)
  })
})
