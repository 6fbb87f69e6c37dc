/**
 * The storage conformance suite: one set of bun:test cases every PersistenceAdapter runs, like abstract-level's
 * shared suite. It owns the contract's observable promises (order per destination across reopen, atomic batches,
 * durable subscription records, the producer-dedupe record, close semantics, large messages, many destinations,
 * paging, stats, purge, format and epoch refusals) and the kill -9 crash group, which runs src/testing/crash-writer.ts
 * in a child process, kills it with SIGKILL at seeded random moments and checks the recovered store against what
 * the child reported durable. It does not test adapter internals (journal segments, GC, checkpoints): each adapter's
 * own test file adds those after calling `describeAdapter`.
 *
 * Usage (an adapter's whole test file):
 *   import { describeAdapter } from '../../conformance.ts'
 *   import { LevelDbAdapter } from './index.ts'
 *   describeAdapter('LevelDbAdapter', { open: () => new LevelDbAdapter(), supports: { ... } })
 *
 * `open(dir, opts)` returns a fresh adapter that is NOT yet opened; the suite then calls its `open()` with
 * `{ directory: dir, epoch: 1, syncPolicy: 'always', ...opts }` (dir and opts are passed to the factory too, in
 * case it wraps a file layer per directory). Unsupported groups are skipped with the reason in the test name.
 *
 * Randomness comes from a seeded generator: the crash group prints its seed, `SEED=<n> bun test ...` replays it.
 */
import { afterAll, describe } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { OpenOptions, PersistenceAdapter, RecoveredState } from './types.ts'
import { describeContract } from './conformance/contract.ts'
import { describeCrash } from './conformance/crash.ts'
import { describeFencing } from './conformance/fencing.ts'
import { describeFront } from './conformance/front.ts'
import { describeMessageModel } from './conformance/message-model.ts'
import type { AdapterHarness, SuiteContext } from './conformance/harness.ts'

export {
  SeededRandom,
  suiteSeed,
  loadAll,
  type AdapterCapabilities,
  type AdapterHarness,
} from './conformance/harness.ts'
export {
  runCrashRounds,
  type CrashLine,
  type CrashRoundsOptions,
  type CrashRoundsResult,
  type CrashWriterConfig,
} from './conformance/crash.ts'

export function describeAdapter(name: string, h: AdapterHarness): void {
  const caps = h.supports ?? {}
  const dirs: string[] = []
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'sfbroker-conf-'))
    dirs.push(d)
    return d
  }
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  async function openAt(
    dir: string,
    opts: Partial<OpenOptions> = {},
  ): Promise<{ a: PersistenceAdapter; rec: RecoveredState }> {
    const a = h.open(dir, opts)
    const rec = await a.open({ directory: dir, epoch: 1, syncPolicy: 'always', ...opts })
    return { a, rec }
  }

  const skipReason = (v: true | string | undefined | object, dflt: boolean): string | null => {
    if (v === undefined) return dflt ? null : 'adapter does not declare this capability'
    return typeof v === 'string' ? v : null
  }

  const ctx: SuiteContext = { name, h, caps, tmp, openAt, skipReason }
  describe(`${name} conformance`, () => {
    describeContract(ctx)
    describeFront(ctx)
    describeMessageModel(ctx)
    describeFencing(ctx)
    describeCrash(name, caps.crash, openAt, tmp)
  })
}
