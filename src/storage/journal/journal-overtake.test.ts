/**
 * Goal: a small record of another destination does not wait for a large record being filled or written before it
 * (issue #19), while each destination's records keep their seq order, in the index and in the file. Method: a real
 * temp directory; a 24 MiB add to one queue, then small adds to another queue and to the same one; the order in
 * which the writes settle, then a reopen replaying the file.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KahaDbAdapter } from '../adapters/kahadb/index.ts'
import { loadAll } from '../conformance.ts'
import { configureLogging } from '../../lib/log.ts'
import type { StoreOp } from '../types.ts'
import { msg, strProp } from '../conformance/harness.ts'

configureLogging('silent', 'pretty')

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const add = (destination: string, id: string, body: Uint8Array): StoreOp => ({
  op: 'add',
  destination,
  message: msg(id, body, { id: id }),
})

describe('JournalStore overtaking', () => {
  test('JournalStore writes a small record of another destination before a large one being filled, keeping per-destination order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfbroker-overtake-'))
    dirs.push(dir)
    const s = new KahaDbAdapter()
    await s.open({ directory: dir, epoch: 1, checkpointIntervalMs: 0 })
    const big = new Uint8Array(24 << 20).fill(0x61)
    const order: string[] = []
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name))
    const done = Promise.all([
      track('big-a', s.write([add('q.a', 'big-a', big)])),
      track('small-b', s.write([add('q.b', 'small-b', new Uint8Array([1]))])),
      track('small-a', s.write([add('q.a', 'small-a', new Uint8Array([2]))])),
      track('small-b2', s.write([add('q.b', 'small-b2', new Uint8Array([3]))])),
    ])
    await done
    // q.b's records pass the large one; q.a's small one stays behind it (its seq is higher).
    expect(order.indexOf('small-b')).toBeLessThan(order.indexOf('big-a'))
    expect(order.indexOf('small-b2')).toBeLessThan(order.indexOf('big-a'))
    expect(order.indexOf('small-a')).toBeGreaterThan(order.indexOf('big-a'))
    await s.close()

    const r = new KahaDbAdapter()
    await r.open({ directory: dir, epoch: 2, checkpointIntervalMs: 0 })
    const a = await loadAll(r, 'q.a')
    const b = await loadAll(r, 'q.b')
    expect(a.map((m) => m.message.messageId)).toEqual(['big-a', 'small-a'])
    expect(a[0]!.message.body.length).toBe(big.length)
    expect(a[0]!.message.body.every((x: number) => x === 0x61)).toBe(true)
    expect(b.map((m) => m.message.messageId)).toEqual(['small-b', 'small-b2'])
    await r.close()
  }, 60_000)
})
