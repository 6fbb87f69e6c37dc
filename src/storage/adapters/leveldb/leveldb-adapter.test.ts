/**
 * LevelDbAdapter: the shared conformance suite (incl. kill -9 crash group), then levelDB-specific cases
 * (meta epoch, sync policies, group commit sharing one sync).
 */
import { describe, test, expect, afterAll } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeAdapter } from '../../conformance.ts'
import { LevelDbAdapter, plantLevelDbFormat } from './index.ts'
import { plantUndecodableLevelMessage } from './plant-format.ts'
import { msg, strProp } from '../../conformance/harness.ts'

describeAdapter('LevelDbAdapter', {
  open: () => new LevelDbAdapter(),
  supports: {
    formatCheck: { plant: plantLevelDbFormat },
    corruptMessage: { plant: plantUndecodableLevelMessage },
    refusesOlderEpochOnOpen: true,
    standby: 'not supported: cold open (a takeover rebuilds the index from the LevelDB log)',
    crash: { module: fileURLToPath(new URL('./index.ts', import.meta.url)), exportName: 'LevelDbAdapter' },
  },
})

describe('LevelDbAdapter specifics', () => {
  const dirs: string[] = []
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'sfbroker-lv-'))
    dirs.push(d)
    return d
  }
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const m = (id: string) => ({
    op: 'add' as const,
    destination: 'Q',
    message: msg(id, new Uint8Array([1, 2, 3])),
  })

  test('LevelDbAdapter shares one synced batch among writes issued together (group commit)', async () => {
    const a = new LevelDbAdapter()
    await a.open({ directory: tmp(), epoch: 1, syncPolicy: 'always' })
    const res = await Promise.all(Array.from({ length: 50 }, (_, i) => a.write([m(`g-${i}`)])))
    expect(res.map((r) => r.seqs[0])).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const st = a.stats()
    expect(st.syncs).toBeGreaterThanOrEqual(1)
    expect(st.syncs).toBeLessThan(5)
    expect(st.syncLatencyMs[st.syncLatencyMs.length - 1].count).toBe(st.syncs)
    await a.close()
  })

  test('LevelDbAdapter under periodic policy resolves unsynced and syncs on its timer', async () => {
    const a = new LevelDbAdapter()
    await a.open({ directory: tmp(), epoch: 1, syncPolicy: 'periodic', syncIntervalMs: 20 })
    await a.write([m('p-1')])
    // Bounded wait for the timer's sync (generous: loaded machine).
    for (let i = 0; i < 500 && a.stats().syncs === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(a.stats().syncs).toBeGreaterThanOrEqual(1)
    await a.close()
  })

  test('LevelDbAdapter under never policy syncs only on close, and the data survives reopen', async () => {
    const dir = tmp()
    const a = new LevelDbAdapter()
    await a.open({ directory: dir, epoch: 1, syncPolicy: 'never' })
    await a.write([m('n-1')])
    await a.write([m('n-2')])
    expect(a.stats().syncs).toBe(0)
    await a.close()
    const b = new LevelDbAdapter()
    await b.open({ directory: dir, epoch: 1 })
    expect((await b.load('Q', 0, 10)).map((x) => x.message.messageId)).toEqual(['n-1', 'n-2'])
    await b.close()
  })

  test('LevelDbAdapter refuses a directory another open adapter holds with STORAGE_IO', async () => {
    const dir = tmp()
    const a = new LevelDbAdapter()
    await a.open({ directory: dir, epoch: 1 })
    const b = new LevelDbAdapter({ lockedRetryMs: 0 })
    let code = ''
    try {
      await b.open({ directory: dir, epoch: 1 })
    } catch (e) {
      code = (e as { code: string }).code
    }
    expect(code).toBe('STORAGE_IO')
    await a.close()
  })

  test('LevelDbAdapter open waits for a holder of the LevelDB lock that closes within lockedRetryMs', async () => {
    const dir = tmp()
    const a = new LevelDbAdapter()
    await a.open({ directory: dir, epoch: 1 })
    await a.write([m('held-1')])
    const b = new LevelDbAdapter({ lockedRetryMs: 30_000 })
    const opening = b.open({ directory: dir, epoch: 2 })
    await new Promise((r) => setTimeout(r, 150))
    await a.close()
    const rec = await opening
    expect(rec.destinations).toEqual([{ destination: 'Q', count: 1, bytes: expect.any(Number) }])
    await b.close()
  })

  test("LevelDbAdapter keeps files in a leveldb/ subdirectory, apart from the shared dir's lock and epochs", async () => {
    const dir = tmp()
    const a = new LevelDbAdapter()
    await a.open({ directory: dir, epoch: 1 })
    await a.close()
    expect(readdirSync(dir)).toEqual(['leveldb'])
  })
})
