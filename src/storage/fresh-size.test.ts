/**
 * Goal: freshSize asks the kernel for a file's size past its attribute cache, under Bun here and under Deno in a
 * child process (the two runtime modules), and gives null for a file that is not there. The cross-mount case it
 * exists for (a size another host changed a moment ago) is test/storage-shared-mounts.test.ts, on bindfs.
 */
import { expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { freshSize } from './fresh-size.ts'
import { tempDir } from '../testing/temp-dir.ts'

test('freshSize gives the size of a file under Bun, and null for a missing one', async () => {
  const dir = tempDir('sfbroker-fresh-size-')
  const f = path.join(dir, 'f')
  fs.writeFileSync(f, 'x'.repeat(1234))
  expect(await freshSize(f)).toBe(1234)
  fs.appendFileSync(f, 'y'.repeat(10))
  expect(await freshSize(f)).toBe(1244)
  expect(await freshSize(path.join(dir, 'missing'))).toBeNull()
})

test('freshSize gives the size of a file under Deno (Deno.dlopen, nonblocking statx)', () => {
  const dir = tempDir('sfbroker-fresh-size-deno-')
  const f = path.join(dir, 'f')
  fs.writeFileSync(f, 'z'.repeat(4321))
  const deno = path.join(import.meta.dir, '../../node_modules/.bin/deno')
  const script = `import { freshSize } from ${JSON.stringify(path.join(import.meta.dir, 'fresh-size.ts'))}
console.log(JSON.stringify([await freshSize(${JSON.stringify(f)}), await freshSize(${JSON.stringify(`${f}.missing`)})]))`
  const r = spawnSync(deno, ['eval', '--quiet', '-A', script], { encoding: 'utf8', timeout: 60_000 })
  expect(r.stderr).toBe('')
  expect(JSON.parse(r.stdout.trim())).toEqual([4321, null])
}, 90_000)
