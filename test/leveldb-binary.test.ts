/**
 * Goal: prove the levelDB adapter works inside a `bun build --compile` executable on a host WITHOUT node_modules,
 * i.e. that the LevelDB native addon is embedded in the binary (see src/storage/adapters/leveldb/native.ts).
 * Method: copy src/ and only the packages the adapter's import graph needs (consola, node-gyp-build and
 * classic-level's package.json + linux-x64 prebuilds) into a temp project, compile a tiny entry there, DELETE the
 * temp project (so no node_modules the binary could fall back to exists), then run the binary from an empty
 * directory: it opens a LevelDbAdapter, writes a message, reopens and reads it back.
 */
import { describe, test, expect } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync, writeFileSync, existsSync, copyFileSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tempDir } from '../src/testing/temp-dir.ts'

const root = resolve(import.meta.dir, '..')
const work = tempDir('sfbroker-lvbin-')

const ENTRY = `
import { LevelDbAdapter } from './src/storage/adapters/leveldb/index.ts'
import { createMessage, prop } from './src/model/index.ts'
const dir = process.argv[2]
const a = new LevelDbAdapter()
await a.open({ directory: dir, epoch: 1, syncPolicy: 'always' })
const { seqs } = await a.write([{ op: 'add', destination: 'queue://BIN', message: createMessage({ messageId: 'bin-1', destination: { kind: 'queue', name: 'BIN' }, timestamp: 1, properties: new Map([['k', prop.string('v')]]), bodyKind: 'text', body: new TextEncoder().encode('hello from the binary'), producer: { id: 'bin-1', seq: null } }) }])
await a.close()
const b = new LevelDbAdapter()
const rec = await b.open({ directory: dir, epoch: 2, syncPolicy: 'always' })
const got = await b.load('queue://BIN', 0, 10)
console.log(JSON.stringify({ seqs, recovered: rec.destinations, got: got.map((m) => ({ seq: m.seq, id: m.message.messageId, h: Object.fromEntries([...m.message.properties].map(([k, v]) => [k, v.value])), body: new TextDecoder().decode(m.message.body) })), dup: b.isDuplicate('bin-1') }))
await b.close()
`

const supported = process.platform === 'linux' && process.arch === 'x64'

describe('levelDB in a compiled binary', () => {
  ;(supported ? test : test.skip)(
    'LevelDbAdapter writes and reads back inside a compiled executable with no node_modules on the host',
    () => {
      const proj = join(work, 'proj')
      mkdirSync(join(proj, 'node_modules', 'classic-level', 'prebuilds'), { recursive: true })
      cpSync(join(root, 'src'), join(proj, 'src'), { recursive: true })
      for (const pkg of ['consola', 'node-gyp-build'])
        cpSync(join(root, 'node_modules', pkg), join(proj, 'node_modules', pkg), { recursive: true })
      copyFileSync(
        join(root, 'node_modules/classic-level/package.json'),
        join(proj, 'node_modules/classic-level/package.json'),
      )
      cpSync(
        join(root, 'node_modules/classic-level/prebuilds/linux-x64'),
        join(proj, 'node_modules/classic-level/prebuilds/linux-x64'),
        { recursive: true },
      )
      writeFileSync(join(proj, 'entry.ts'), ENTRY)
      const exe = join(work, 'lvbin')
      const build = spawnSync(process.execPath, ['build', '--compile', 'entry.ts', '--outfile', exe], {
        cwd: proj,
        encoding: 'utf8',
        timeout: 180_000,
      })
      expect(build.status, `bun build failed: ${build.stderr}`).toBe(0)
      // The host has no node_modules now: only the binary.
      rmSync(proj, { recursive: true, force: true })
      expect(existsSync(proj)).toBe(false)
      const run = join(work, 'empty')
      mkdirSync(run)
      copyFileSync(exe, join(run, 'lvbin'))
      rmSync(exe)
      expect(readdirSync(run)).toEqual(['lvbin'])
      const out = spawnSync(join(run, 'lvbin'), [join(run, 'store')], {
        cwd: run,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NODE_PATH: '' },
      })
      expect(out.status, `binary failed: ${out.stderr}`).toBe(0)
      const line = out.stdout.trim().split('\n').pop()!
      const res = JSON.parse(line) as {
        seqs: number[]
        recovered: { destination: string; count: number }[]
        got: { seq: number; id: string; h: Record<string, string>; body: string }[]
        dup: boolean
      }
      expect(res.seqs).toEqual([1])
      expect(res.recovered.map((d) => [d.destination, d.count])).toEqual([['queue://BIN', 1]])
      expect(res.got).toEqual([{ seq: 1, id: 'bin-1', h: { k: 'v' }, body: 'hello from the binary' }])
      expect(res.dup).toBe(true)
      expect(existsSync(join(run, 'store', 'leveldb', 'CURRENT'))).toBe(true)
    },
    240_000,
  )
})
