/**
 * Goal: show the kill -9 crash check (src/storage/conformance.ts runCrashRounds) has teeth, and run it on the
 * levelDB adapter under the unsynced policy too. Method: real child processes (src/testing/crash-writer.ts)
 * killed with SIGKILL at seeded random moments (`SEED=<n>` replays); a lying adapter that acknowledges a write it
 * never stored must be caught; LevelDB's `never` sync policy must still keep every acknowledged write across a
 * process kill (the OS keeps written pages; only a machine crash could lose them).
 */
import { describe, test, expect, afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCrashRounds, suiteSeed } from '../src/storage/conformance.ts'
import { LevelDbAdapter } from '../src/storage/adapters/leveldb/index.ts'
import type { OpenOptions } from '../src/storage/types.ts'

const dirs: string[] = []
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-crash-'))
  dirs.push(d)
  return d
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const openAt = async (dir: string, opts: Partial<OpenOptions> = {}) => {
  const a = new LevelDbAdapter()
  await a.open({ directory: dir, epoch: 1, syncPolicy: 'always', ...opts })
  return { a }
}

describe('kill -9 crash check', () => {
  test('crash check flags an adapter that acknowledges a write it never stored', async () => {
    const seed = suiteSeed()
    console.log(`[lying adapter] seed=${seed}`)
    const lying = fileURLToPath(new URL('../src/testing/crash-lying-adapter.ts', import.meta.url))
    let err: unknown = null
    try {
      await runCrashRounds({
        name: 'LyingLevelDbAdapter',
        module: lying,
        exportName: 'LyingLevelDbAdapter',
        kills: 3,
        seed,
        dir: tmp(),
        openAt,
      })
    } catch (e) {
      err = e
    }
    expect(String(err)).toMatch(/reported durable but lost/)
  }, 120_000)

  test('LevelDbAdapter with syncPolicy never keeps every acknowledged write across kill -9', async () => {
    const seed = suiteSeed()
    console.log(`[leveldb never] seed=${seed}`)
    const mod = fileURLToPath(new URL('../src/storage/adapters/leveldb/index.ts', import.meta.url))
    const r = await runCrashRounds({
      name: 'LevelDbAdapter(never)',
      module: mod,
      exportName: 'LevelDbAdapter',
      openOptions: { syncPolicy: 'never' },
      kills: 3,
      seed,
      dir: tmp(),
      openAt,
    })
    console.log(
      `[leveldb never] ${r.batchesIssued} issued, ${r.batchesDurable} acknowledged, ${r.messagesAtEnd} at the end`,
    )
    expect(r.batchesDurable).toBeGreaterThan(0)
  }, 120_000)
})
