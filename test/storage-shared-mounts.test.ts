/**
 * Goal: the journal reads what another host wrote a moment ago, through a share whose client caches file sizes.
 * Two bindfs mounts of one directory stand in for two hosts: FUSE keeps a file's size for its attr_timeout (1 s),
 * through stat, fstat and a fresh open alike, as an NFS client does for acregmin. Before sizes were asked of the
 * server (src/storage/fresh-size.ts), a warm replica moved on to the next segment with the tail of the last one
 * unread (scheduled jobs a primary had acknowledged were lost at the next takeover, found by the chaos run), and a
 * new primary's seal could cut the deposed one's acknowledged records.
 * Method: real bindfs mounts (root + /dev/fuse; skipped with a note otherwise); the writer works through mount A,
 * readers through mount B within the attribute cache's lifetime; every acknowledged record must be recovered.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { KahaDbAdapter } from '../src/storage/adapters/kahadb/index.ts'
import { AmqAdapter } from '../src/storage/adapters/amq/index.ts'
import { LevelDbAdapter } from '../src/storage/adapters/leveldb/index.ts'
import { nodeFileIO } from '../src/storage/journal/file-io.ts'
import { msg } from '../src/storage/conformance/harness.ts'
import type { JournalStore } from '../src/storage/journal/journal-store.ts'
import type { PersistenceAdapter, StoreOp } from '../src/storage/types.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'

const hasBindfs = spawnSync('sh', ['-c', 'command -v bindfs && test -c /dev/fuse && test "$(id -u)" = 0']).status === 0
if (!hasBindfs) console.log('storage-shared-mounts: bindfs, /dev/fuse and root are needed; the tests are skipped')

const mounts: string[] = []
const roots: string[] = []
afterAll(() => {
  for (const m of mounts) if (spawnSync('fusermount3', ['-u', m]).status !== 0) spawnSync('umount', ['-l', m])
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

/** A real directory and two bindfs mounts of it ("host A" and "host B"). */
function lab(): { a: string; b: string } {
  const root = makeTempDir('sfbroker-shared-mounts-').path
  roots.push(root)
  const real = path.join(root, 'real')
  fs.mkdirSync(real)
  const out = { a: path.join(root, 'a'), b: path.join(root, 'b') }
  for (const m of [out.a, out.b]) {
    fs.mkdirSync(m)
    const r = spawnSync('bindfs', [real, m], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`bindfs ${real} ${m}: ${r.stderr}`)
    mounts.push(m)
  }
  return out
}

const add = (id: string): StoreOp => ({
  op: 'add',
  destination: 'queue://Q',
  message: msg(id, `${id} ${'x'.repeat(200)}`, { id }),
})
const OPTS = { journalMaxFileLength: 4096, checkpointIntervalMs: 0, cleanupIntervalMs: 0 }

async function ids(s: PersistenceAdapter): Promise<string[]> {
  const out: string[] = []
  let after = 0
  for (;;) {
    const page = await s.load('queue://Q', after, 500)
    for (const m of page) {
      after = m.seq
      out.push(m.message.messageId)
    }
    if (page.length < 500) return out
  }
}

describe.skipIf(!hasBindfs)('storage on a share that caches sizes', () => {
  test('FileIO gives the size another mount wrote a moment ago (stat, a handle, readFile)', async () => {
    const { a, b } = lab()
    const fa = path.join(a, 'f')
    fs.writeFileSync(fa, 'x'.repeat(100))
    // Read once through B, so B's cache holds the size; then every append through A must show through B at once.
    expect((await nodeFileIO.stat(path.join(b, 'f')))?.size).toBe(100)
    for (let i = 1; i <= 10; i++) {
      fs.appendFileSync(fa, 'y'.repeat(10))
      const want = 100 + 10 * i
      expect((await nodeFileIO.stat(path.join(b, 'f')))?.size).toBe(want)
      const h = await nodeFileIO.open(path.join(b, 'f'), 'read')
      expect(await h.size()).toBe(want)
      const buf = new Uint8Array(1000)
      expect(await h.read(buf, 1000, 0)).toBe(want)
      await h.close()
      fs.appendFileSync(fa, 'z'.repeat(5))
      expect((await nodeFileIO.readFile(path.join(b, 'f')))?.length).toBe(want + 5)
      fs.truncateSync(fa, want)
    }
  })

  for (const [name, make] of [
    ['kahaDB', () => new KahaDbAdapter()],
    ['amq', () => new AmqAdapter()],
  ] as const) {
    test(`${name}: a replica on another mount follows every segment to its end, and a takeover recovers every acknowledged write`, async () => {
      const { a, b } = lab()
      const w: JournalStore = make()
      await w.open({ directory: a, epoch: 1, ...OPTS })
      const reader = make().standby({ directory: b })
      const written: string[] = []
      // Small segments (about 14 records each). Each round: one write, a poll (the reader reads the segment as it is
      // now, so B caches that size), then a burst that fills the segment and rolls over into the next ones, then a
      // poll that meets the new segments: it must read the old one to its true end first.
      for (let round = 0, n = 0; round < 8; round++) {
        for (const burst of [1, 20 + round]) {
          for (let k = 0; k < burst; k++) {
            const id = `m${n++}`
            await w.write([add(id)])
            written.push(id)
          }
          await reader.poll()
        }
      }
      // The writer dies (no close): a warm takeover through B at once, inside the size cache's lifetime.
      const warm: JournalStore = make()
      await warm.open({ directory: b, epoch: 2, ...OPTS, standby: reader })
      expect(await ids(warm)).toEqual(written)
      // And a cold takeover by a third broker after the warm one's writes: its seal must not cut them either.
      await warm.write([add('after')])
      const cold: JournalStore = make()
      await cold.open({ directory: a, epoch: 3, ...OPTS })
      expect(await ids(cold)).toEqual([...written, 'after'])
      await cold.close()
      // The "dead" ones still hold descriptors: close them now that the checks are done.
      await warm.close().catch(() => undefined)
      await w.close().catch(() => undefined)
    }, 60_000)
  }

  test('levelDB: a takeover on another mount right after the writer died recovers every acknowledged write', async () => {
    const { a, b } = lab()
    const w = new LevelDbAdapter()
    await w.open({ directory: a, epoch: 1 })
    const written: string[] = []
    for (let i = 0; i < 200; i++) {
      const id = `m${i}`
      // Read the store's files through B before every write, so B's cache holds sizes the write outdates.
      for (const f of fs.readdirSync(path.join(b, 'leveldb'))) fs.statSync(path.join(b, 'leveldb', f))
      await w.write([add(id)])
      written.push(id)
    }
    // The writer dies without closing (LevelDB's own LOCK does not cross bindfs mounts without lock forwarding).
    const next = new LevelDbAdapter()
    await next.open({ directory: b, epoch: 2 })
    expect(await ids(next)).toEqual(written)
    await next.close()
    await w.close().catch(() => undefined)
  }, 60_000)
})
