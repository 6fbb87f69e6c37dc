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
import { describe, test, expect, afterAll } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isBrokerError, type ErrorCode } from '../lib/errors.ts'
import type {
  DurableSubscriptionRecord,
  EpochFence,
  OpenOptions,
  PersistenceAdapter,
  RecoveredState,
  StoreOp,
  StoredMessage,
} from './types.ts'
import { BrokerError } from '../lib/errors.ts'
import { SeededRandom, seedFromEnv } from '../lib/random.ts'

/** What an adapter can do beyond the mandatory contract. A group whose capability is missing is skipped, saying why. */
export interface AdapterCapabilities {
  /** ≥ 16 MiB message round trip. Default true; a string disables it and is the stated reason. */
  largeMessages?: true | string
  /**
   * The adapter detects a newer or foreign on-disk format. `plant(dir, kind)` writes such a format into `dir`
   * (as a newer version of this adapter, or as a different program's store) so that the next open must fail
   * with STORAGE_FORMAT.
   */
  formatCheck?: { plant(dir: string, kind: 'newer' | 'foreign'): Promise<void> | void }
  /** open() with an epoch older than the one recorded in the store fails with STORAGE_FENCED. */
  refusesOlderEpochOnOpen?: true | string
  /** `dedupeWindow` evicts the oldest ids beyond the window. Default true. */
  dedupeWindow?: true | string
  /**
   * kill -9 group. `module` is an absolute path (or file URL) of a module exporting `exportName`: a class with a
   * no-argument constructor or a factory `(dir) => PersistenceAdapter`. The child cannot receive the harness's
   * closure, hence the module path.
   */
  crash?: { module: string; exportName: string; openOptions?: Partial<OpenOptions>; kills?: number } | string
  /**
   * Warm replica: `standby()` returns a read-only reader that follows a writer, and open({ standby }) recovers from
   * it exactly what a cold open recovers. A string is the stated reason it is not supported (cold open only).
   */
  standby?: true | string
}

export interface AdapterHarness {
  /** A fresh, not yet opened adapter for `dir`. */
  open: (dir: string, opts?: Partial<OpenOptions>) => PersistenceAdapter
  supports?: AdapterCapabilities
}

/** The generator and seed source live in lib (shared with the crash writer, fuzz tests and chaos); re-exported for adapter tests. */
export { SeededRandom }

/** The seed of this run: `SEED` from the environment, else random. Printed by the groups that use it. */
export const suiteSeed = seedFromEnv

const enc = new TextEncoder()
const dec = new TextDecoder()

function msg(
  messageId: string,
  body: string | Uint8Array,
  headers: Record<string, string> = {},
): Omit<StoredMessage, 'seq'> {
  return {
    messageId,
    headers: { 'message-id': messageId, ...headers },
    body: typeof body === 'string' ? enc.encode(body) : body,
  }
}

function add(destination: string, m: Omit<StoredMessage, 'seq'>): StoreOp {
  return { op: 'add', destination, message: m }
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  let err: unknown = null
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    err = e
  }
  if (!isBrokerError(err, code)) {
    throw new Error(
      `expected a BrokerError with code ${code}, got ${err === null ? 'success' : String((err as { code?: string }).code ?? err)}: ${String(err)}`,
    )
  }
}

/** Every message of `destination`, paging through load() (bounded: at most `max` messages). */
export async function loadAll(
  a: PersistenceAdapter,
  destination: string,
  pageSize = 1000,
  max = 1_000_000,
): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  let after = 0
  for (let pages = 0; out.length < max; pages++) {
    const page = await a.load(destination, after, pageSize)
    if (page.length === 0) break
    for (const m of page) {
      if (m.seq <= after) throw new Error(`load(${destination}, ${after}) returned seq ${m.seq} not above afterSeq`)
      after = m.seq
      out.push(m)
    }
    if (pages > max) throw new Error('loadAll: page loop bound exceeded')
  }
  return out
}

function nonEmpty(rec: RecoveredState): Map<string, number> {
  return new Map(rec.destinations.filter((d) => d.count > 0).map((d) => [d.destination, d.count]))
}

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

  describe(`${name} conformance`, () => {
    test(`${name} keeps per-destination order across reopen and assigns increasing seqs`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const seqs: number[] = []
      // Sequential writes, then concurrent ones: seqs follow call order either way.
      for (let i = 0; i < 10; i++)
        seqs.push(...(await a.write([add(`q${i % 3}`, msg(`s-${i}`, `body ${i}`, { n: String(i) }))])).seqs)
      const concurrent = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          a.write([add(`q${(10 + j) % 3}`, msg(`c-${j}`, `body c${j}`, { n: String(10 + j) }))]),
        ),
      )
      for (const r of concurrent) seqs.push(...r.seqs)
      expect(seqs.length).toBe(30)
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1])
      // Remove every third message of the first ten.
      const removed = new Set([seqs[0], seqs[3], seqs[6], seqs[9]])
      for (const s of removed) {
        const n = seqs.indexOf(s)
        await a.write([{ op: 'remove', destination: `q${n % 3}`, seq: s }])
      }
      await a.close()
      ;({ a } = await openAt(dir))
      const lastBefore = seqs[seqs.length - 1]
      for (let d = 0; d < 3; d++) {
        const got = await loadAll(a, `q${d}`)
        const want = seqs.map((s, n) => ({ s, n })).filter((x) => x.n % 3 === d && !removed.has(x.s))
        expect(got.map((m) => m.seq)).toEqual(want.map((x) => x.s))
        expect(got.map((m) => m.headers.n)).toEqual(want.map((x) => String(x.n)))
        for (const m of got) {
          const n = Number(m.headers.n)
          expect(m.messageId).toBe(n < 10 ? `s-${n}` : `c-${n - 10}`)
          expect(dec.decode(m.body)).toBe(n < 10 ? `body ${n}` : `body c${n - 10}`)
        }
      }
      const after = await a.write([add('q0', msg('after-reopen', 'x'))])
      expect(after.seqs[0]).toBeGreaterThan(lastBefore)
      await a.close()
    }, 30_000)

    test(`${name} applies a batch of adds and removes whole, across reopen`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const first = await a.write([add('A', msg('a1', '1')), add('A', msg('a2', '2')), add('B', msg('b1', '3'))])
      expect(first.seqs.length).toBe(3)
      expect(await a.write([])).toEqual({ seqs: [] })
      // One transaction: two sends and two acks.
      const tx = await a.write([
        add('A', msg('a3', '4')),
        { op: 'remove', destination: 'A', seq: first.seqs[0] },
        add('B', msg('b2', '5')),
        { op: 'remove', destination: 'B', seq: first.seqs[2] },
      ])
      expect(tx.seqs.length).toBe(2)
      expect(tx.seqs[0]).toBeGreaterThan(first.seqs[2])
      expect(tx.seqs[1]).toBeGreaterThan(tx.seqs[0])
      await a.close()
      ;({ a } = await openAt(dir))
      expect((await loadAll(a, 'A')).map((m) => m.messageId)).toEqual(['a2', 'a3'])
      expect((await loadAll(a, 'B')).map((m) => m.messageId)).toEqual(['b2'])
      await a.close()
    })

    test(`${name} stores, replaces, removes and recovers durable subscription records`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const sub = (clientId: string, subscriptionName: string, selector: string | null): DurableSubscriptionRecord => ({
        clientId,
        subscriptionName,
        destination: '/topic/PRICES',
        selector,
        noLocal: false,
        storeKey: `durable://${clientId}:${subscriptionName}`,
        createdAt: 1_700_000_000_000,
      })
      await a.write([
        { op: 'putSubscription', subscription: sub('c1', 's1', null) },
        { op: 'putSubscription', subscription: sub('c1', 's2', "color = 'red'") },
      ])
      await a.write([{ op: 'putSubscription', subscription: { ...sub('c2', 's1', null), noLocal: true } }])
      // Same clientId + name replaces the record.
      await a.write([{ op: 'putSubscription', subscription: sub('c1', 's2', "color = 'blue'") }])
      await a.write([
        { op: 'removeSubscription', clientId: 'c1', subscriptionName: 's1' },
        add('durable://c2:s1', msg('d1', 'x')),
      ])
      await a.close()
      let rec: RecoveredState
      ;({ a, rec } = await openAt(dir))
      const subs = [...rec.subscriptions].sort((x, y) =>
        (x.clientId + x.subscriptionName).localeCompare(y.clientId + y.subscriptionName),
      )
      expect(subs).toEqual([sub('c1', 's2', "color = 'blue'"), { ...sub('c2', 's1', null), noLocal: true }])
      expect((await loadAll(a, 'durable://c2:s1')).map((m) => m.messageId)).toEqual(['d1'])
      // Deleting a durable subscription: its record and its messages go in one batch.
      await a.write([
        { op: 'removeSubscription', clientId: 'c2', subscriptionName: 's1' },
        { op: 'purge', destination: 'durable://c2:s1' },
      ])
      await a.close()
      ;({ a, rec } = await openAt(dir))
      expect(rec.subscriptions.map((s) => `${s.clientId}:${s.subscriptionName}`)).toEqual(['c1:s2'])
      expect(await loadAll(a, 'durable://c2:s1')).toEqual([])
      await a.close()
    })

    test(`${name} keeps the producer-dedupe record across reopen, also after the message is acked`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const r = await a.write([add('Q', msg('ID:producer-1:1:1', 'x')), add('Q', msg('ID:producer-1:1:2', 'y'))])
      expect(a.isDuplicate('ID:producer-1:1:1')).toBe(true)
      expect(a.isDuplicate('ID:producer-1:1:3')).toBe(false)
      await a.write([{ op: 'remove', destination: 'Q', seq: r.seqs[0] }])
      await a.close()
      ;({ a } = await openAt(dir))
      expect(a.isDuplicate('ID:producer-1:1:1')).toBe(true)
      expect(a.isDuplicate('ID:producer-1:1:2')).toBe(true)
      expect(a.isDuplicate('ID:producer-1:1:3')).toBe(false)
      await a.close()
    })

    const dedupeSkip = skipReason(caps.dedupeWindow, true)
    ;(dedupeSkip ? test.skip : test)(
      `${name} evicts the oldest ids beyond dedupeWindow${dedupeSkip ? ` (skipped: ${dedupeSkip})` : ''}`,
      async () => {
        const dir = tmp()
        let { a } = await openAt(dir, { dedupeWindow: 3 })
        for (let i = 1; i <= 5; i++) await a.write([add('Q', msg(`w-${i}`, 'x'))])
        const seen = (): boolean[] => [1, 2, 3, 4, 5].map((i) => a.isDuplicate(`w-${i}`))
        expect(seen()).toEqual([false, false, true, true, true])
        await a.close()
        ;({ a } = await openAt(dir, { dedupeWindow: 3 }))
        expect(seen()).toEqual([false, false, true, true, true])
        await a.close()
      },
    )

    test(`${name} rejects every call after close with STORAGE_CLOSED, and before open`, async () => {
      const dir = tmp()
      const fresh = h.open(dir)
      await expectCode(fresh.write([add('Q', msg('m0', 'x'))]), 'STORAGE_CLOSED')
      const { a } = await openAt(dir)
      await a.write([add('Q', msg('m1', 'x'))])
      await a.close()
      await a.close() // idempotent
      await expectCode(a.write([add('Q', msg('m2', 'x'))]), 'STORAGE_CLOSED')
      await expectCode(a.load('Q', 0, 10), 'STORAGE_CLOSED')
      await expectCode(a.checkpoint(), 'STORAGE_CLOSED')
    })

    test(`${name} completes or rejects (with a code) writes pending at close, never loses a resolved one`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const pending = Array.from({ length: 20 }, (_, i) =>
        a.write([add('Q', msg(`p-${i}`, `v${i}`))]).then(
          (r) => ({ ok: true as const, i, seq: r.seqs[0] }),
          (e: unknown) => ({ ok: false as const, i, e }),
        ),
      )
      const closing = a.close()
      const results = await Promise.all(pending)
      await closing
      for (const r of results) if (!r.ok) expect(r.e instanceof BrokerError).toBe(true)
      ;({ a } = await openAt(dir))
      const got = new Set((await loadAll(a, 'Q')).map((m) => m.messageId))
      for (const r of results) if (r.ok) expect(got.has(`p-${r.i}`)).toBe(true)
      await a.close()
    })

    const largeSkip = skipReason(caps.largeMessages, true)
    ;(largeSkip ? test.skip : test)(
      `${name} round-trips a message over 16 MiB across reopen${largeSkip ? ` (skipped: ${largeSkip})` : ''}`,
      async () => {
        const dir = tmp()
        let { a } = await openAt(dir)
        const body = new Uint8Array(16 * 1024 * 1024 + 7)
        const rnd = new SeededRandom(42)
        for (let i = 0; i < body.length; i += 4096) body[i] = rnd.int(0, 255)
        body[body.length - 1] = 0xab
        await a.write([
          add('BIG', msg('big-1', body, { 'content-length': String(body.length) })),
          add('BIG', msg('small-after', 'x')),
        ])
        await a.close()
        ;({ a } = await openAt(dir))
        const got = await loadAll(a, 'BIG')
        expect(got.map((m) => m.messageId)).toEqual(['big-1', 'small-after'])
        expect(got[0].body.length).toBe(body.length)
        expect(Buffer.compare(Buffer.from(got[0].body), Buffer.from(body))).toBe(0)
        expect(got[0].headers['content-length']).toBe(String(body.length))
        await a.close()
      },
      60_000,
    )

    test(`${name} keeps 500 destinations apart across reopen`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const n = 500
      await a.write(Array.from({ length: n }, (_, i) => add(`queue://D.${i}`, msg(`d-${i}-a`, `a${i}`))))
      await Promise.all(Array.from({ length: n }, (_, i) => a.write([add(`queue://D.${i}`, msg(`d-${i}-b`, `b${i}`))])))
      await a.close()
      let rec: RecoveredState
      ;({ a, rec } = await openAt(dir))
      const counts = nonEmpty(rec)
      expect(counts.size).toBe(n)
      for (let i = 0; i < n; i += 37) {
        expect(counts.get(`queue://D.${i}`)).toBe(2)
        expect((await loadAll(a, `queue://D.${i}`)).map((m) => m.messageId)).toEqual([`d-${i}-a`, `d-${i}-b`])
      }
      await a.close()
    }, 30_000)

    test(`${name} reopens empty after every message was acked, and keeps seqs increasing`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      const r = await a.write(Array.from({ length: 50 }, (_, i) => add(`E${i % 5}`, msg(`e-${i}`, 'x'))))
      await a.write(r.seqs.map((seq, i) => ({ op: 'remove' as const, destination: `E${i % 5}`, seq })))
      await a.close()
      let rec: RecoveredState
      ;({ a, rec } = await openAt(dir))
      expect(nonEmpty(rec).size).toBe(0)
      expect(a.stats().messages).toBe(0)
      for (let d = 0; d < 5; d++) expect(await a.load(`E${d}`, 0, 100)).toEqual([])
      const next = await a.write([add('E0', msg('e-new', 'x'))])
      expect(next.seqs[0]).toBeGreaterThan(r.seqs[r.seqs.length - 1])
      await a.close()
    })

    test(`${name} pages load() by afterSeq and limit`, async () => {
      const dir = tmp()
      const { a } = await openAt(dir)
      const r = await a.write(Array.from({ length: 25 }, (_, i) => add('P', msg(`p-${i}`, 'x'))))
      await a.write([add('OTHER', msg('o', 'x'))])
      const p1 = await a.load('P', 0, 10)
      expect(p1.map((m) => m.seq)).toEqual(r.seqs.slice(0, 10))
      const p2 = await a.load('P', p1[9].seq, 10)
      expect(p2.map((m) => m.seq)).toEqual(r.seqs.slice(10, 20))
      const p3 = await a.load('P', p2[9].seq, 10)
      expect(p3.map((m) => m.seq)).toEqual(r.seqs.slice(20))
      expect(await a.load('P', r.seqs[24], 10)).toEqual([])
      // afterSeq between stored seqs, and an unknown destination.
      expect((await a.load('P', r.seqs[3] + 0.5, 2)).map((m) => m.seq)).toEqual(r.seqs.slice(4, 6))
      expect(await a.load('NOPE', 0, 10)).toEqual([])
      await a.close()
    })

    test(`${name} reports stats: counts and bytes per destination, syncs`, async () => {
      const dir = tmp()
      const { a } = await openAt(dir)
      const r = await a.write([
        add('S1', msg('x1', 'a'.repeat(100))),
        add('S1', msg('x2', 'b'.repeat(200))),
        add('S2', msg('x3', 'c'.repeat(300))),
      ])
      let st = a.stats()
      expect(st.adapter).toBe(a.kind)
      expect(st.directory).toBe(dir)
      expect(st.messages).toBe(3)
      const by = (d: string) => st.destinations.find((x) => x.destination === d)
      expect(by('S1')?.count).toBe(2)
      expect(by('S1')!.bytes).toBeGreaterThanOrEqual(300)
      expect(by('S2')?.count).toBe(1)
      expect(by('S2')!.bytes).toBeGreaterThanOrEqual(300)
      expect(st.bytes).toBeGreaterThan(0)
      expect(st.syncs).toBeGreaterThanOrEqual(1)
      expect(st.syncLatencyMs[st.syncLatencyMs.length - 1].le).toBe(Infinity)
      const bytesBefore = by('S1')!.bytes
      await a.write([{ op: 'remove', destination: 'S1', seq: r.seqs[1] }])
      st = a.stats()
      expect(st.messages).toBe(2)
      expect(by('S1')?.count).toBe(1)
      expect(by('S1')!.bytes).toBeLessThan(bytesBefore)
      await a.close()
    })

    test(`${name} purges a destination atomically with the rest of its batch`, async () => {
      const dir = tmp()
      let { a } = await openAt(dir)
      await a.write(Array.from({ length: 5 }, (_, i) => add('PA', msg(`pa-${i}`, 'x'))))
      await a.write([add('PB', msg('pb-0', 'x'))])
      await a.write([{ op: 'purge', destination: 'PA' }, add('PA', msg('pa-new', 'y'))])
      expect((await loadAll(a, 'PA')).map((m) => m.messageId)).toEqual(['pa-new'])
      // A purge after an add in the same batch drops that add too.
      await a.write([add('PB', msg('pb-1', 'x')), { op: 'purge', destination: 'PB' }])
      expect(a.stats().messages).toBe(1)
      await a.close()
      ;({ a } = await openAt(dir))
      expect((await loadAll(a, 'PA')).map((m) => m.messageId)).toEqual(['pa-new'])
      expect(await loadAll(a, 'PB')).toEqual([])
      await a.close()
    })

    test(`${name} calls the epoch fence per durable group and rejects the write when fenced`, async () => {
      const dir = tmp()
      let calls = 0
      let fenced = false
      const fence: EpochFence = {
        async assertCurrent() {
          calls++
          if (fenced) throw new BrokerError('ELECTION_FENCED', 'test fence: epoch 2 exists above our epoch 1')
        },
      }
      const { a } = await openAt(dir, { fence })
      await Promise.all(Array.from({ length: 5 }, (_, i) => a.write([add('F', msg(`f-${i}`, 'x'))])))
      expect(calls).toBeGreaterThanOrEqual(1)
      expect(calls).toBeLessThanOrEqual(5)
      fenced = true
      await expectCode(a.write([add('F', msg('f-late', 'x'))]), 'ELECTION_FENCED')
      await a.close()
    })

    const fmtSkip = caps.formatCheck ? null : 'adapter declares no formatCheck.plant helper'
    ;(fmtSkip ? test.skip : test)(
      `${name} refuses a newer or foreign on-disk format with STORAGE_FORMAT${fmtSkip ? ` (skipped: ${fmtSkip})` : ''}`,
      async () => {
        for (const kind of ['newer', 'foreign'] as const) {
          const dir = tmp()
          await caps.formatCheck!.plant(dir, kind)
          const a = h.open(dir)
          await expectCode(a.open({ directory: dir, epoch: 1, syncPolicy: 'always' }), 'STORAGE_FORMAT')
          await expectCode(a.write([add('Q', msg('m', 'x'))]), 'STORAGE_CLOSED')
        }
      },
    )

    const epochSkip = skipReason(caps.refusesOlderEpochOnOpen, false)
    ;(epochSkip ? test.skip : test)(
      `${name} refuses to open under an epoch older than the store's with STORAGE_FENCED${epochSkip ? ` (skipped: ${epochSkip})` : ''}`,
      async () => {
        const dir = tmp()
        let { a } = await openAt(dir, { epoch: 5 })
        await a.write([add('Q', msg('m5', 'x'))])
        await a.close()
        const old = h.open(dir)
        await expectCode(old.open({ directory: dir, epoch: 4, syncPolicy: 'always' }), 'STORAGE_FENCED')
        ;({ a } = await openAt(dir, { epoch: 5 }))
        expect((await loadAll(a, 'Q')).map((m) => m.messageId)).toEqual(['m5'])
        await a.close()
      },
    )

    const standbySkip = skipReason(caps.standby, false)
    ;(standbySkip ? test.skip : test)(
      `${name} standby reader follows a writer read-only and a warm open recovers what a cold open does${standbySkip ? ` (skipped: ${standbySkip})` : ''}`,
      async () => {
        const seed = suiteSeed()
        const rnd = new SeededRandom(seed)
        const dir = tmp()
        const opts = { journalMaxFileLength: 8192, checkpointIntervalMs: 0, cleanupIntervalMs: 0 }
        const { a } = await openAt(dir, opts)
        const reader = h.open(dir).standby!({ directory: dir })
        const live: { d: string; seq: number }[] = []
        const sub: DurableSubscriptionRecord = {
          clientId: 'c',
          subscriptionName: 's',
          destination: '/topic/T',
          selector: null,
          noLocal: false,
          storeKey: 'durable://c:s',
          createdAt: 1,
        }
        await a.write([{ op: 'putSubscription', subscription: sub }])
        for (let i = 0; i < 300; i++) {
          const d = `Q${rnd.int(0, 2)}`
          if (live.length > 0 && rnd.next() < 0.35) {
            const [m] = live.splice(rnd.int(0, live.length - 1), 1)
            await a.write([{ op: 'remove', destination: m.d, seq: m.seq }])
          } else {
            const r = await a.write([add(d, msg(`m-${i}`, 'x'.repeat(rnd.int(1, 200))))])
            live.push({ d, seq: r.seqs[0] })
          }
          if (rnd.next() < 0.05) await a.checkpoint()
          if (rnd.next() < 0.1) await reader.poll()
        }
        await reader.poll()
        expect(reader.stats().messages).toBe(live.length)
        // A crash (no close): the replica takes over. A copy of the directory gets a cold open for comparison.
        const { cpSync } = await import('node:fs')
        const cold = tmp()
        cpSync(dir, cold, { recursive: true })
        const w = await openAt(dir, { ...opts, epoch: 2, standby: reader })
        const c = await openAt(cold, { ...opts, epoch: 2 })
        const norm = (r: RecoveredState) => ({
          d: [...r.destinations].filter((x) => x.count > 0).sort((x, y) => x.destination.localeCompare(y.destination)),
          s: [...r.subscriptions].sort((x, y) => x.clientId.localeCompare(y.clientId)),
          corrupt: r.report.corrupt.length,
        })
        expect(norm(w.rec)).toEqual(norm(c.rec))
        for (const d of ['Q0', 'Q1', 'Q2']) {
          expect((await loadAll(w.a, d)).map((m) => [m.seq, m.messageId])).toEqual(
            (await loadAll(c.a, d)).map((m) => [m.seq, m.messageId]),
          )
        }
        await w.a.write([add('Q0', msg('after', 'y'))])
        await w.a.close()
        await c.a.close()
        await a.close().catch(() => {})
      },
    )

    describeCrash(name, caps.crash, openAt, tmp)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// kill -9 group

/** Config handed to src/testing/crash-writer.ts as its one JSON argument. */
export interface CrashWriterConfig {
  module: string
  exportName: string
  dir: string
  epoch: number
  seed: number
  round: number
  destinations: number
  inflight: number
  maxBatches: number
  openOptions: Partial<OpenOptions>
}

/** Lines the writer prints (one JSON object each, written with a synchronous write so a kill cannot reorder them). */
export type CrashLine =
  | { t: 'ready'; present: number }
  | { t: 'issue'; b: number; adds: [id: string, destination: string][]; removes: string[] }
  | { t: 'durable'; b: number; seqs: number[] }
  | { t: 'error'; b: number; code: string; message: string }
  | { t: 'finished' }

const CRASH_WRITER = fileURLToPath(new URL('../testing/crash-writer.ts', import.meta.url))
const CRASH_DESTINATIONS = 4
const CRASH_READY_TIMEOUT_MS = 60_000
const CRASH_KILL_DELAY_MAX_MS = 600

interface Present {
  destination: string
  seq: number
}

/** `r<round>-<n>`: the writer's id scheme, ordered by issue. */
function idOrder(id: string): [number, number] {
  const m = /^r(\d+)-(\d+)$/.exec(id)
  if (!m) throw new Error(`crash check: message id "${id}" is not one the writer issues (r<round>-<n>)`)
  return [Number(m[1]), Number(m[2])]
}

function describeCrash(
  name: string,
  cap: AdapterCapabilities['crash'],
  openAt: (dir: string, opts?: Partial<OpenOptions>) => Promise<{ a: PersistenceAdapter; rec: RecoveredState }>,
  tmp: () => string,
): void {
  const reason = cap === undefined ? 'adapter declares no crash module' : typeof cap === 'string' ? cap : null
  if (reason !== null || typeof cap !== 'object') {
    test.skip(`${name} recovers every durable write after kill -9 (skipped: ${reason})`, () => {})
    return
  }
  const kills = Number(process.env.CRASH_KILLS ?? '') || cap.kills || 5
  test(
    `${name} recovers every durable write after kill -9 (${kills} kills)`,
    async () => {
      const seed = suiteSeed()
      console.log(`[${name} crash] seed=${seed} kills=${kills} (replay: SEED=${seed})`)
      const r = await runCrashRounds({
        name,
        module: cap.module,
        exportName: cap.exportName,
        openOptions: cap.openOptions,
        kills,
        seed,
        dir: tmp(),
        openAt,
      })
      console.log(
        `[${name} crash] ${kills} kills: ${r.batchesIssued} batches issued, ${r.batchesDurable} reported durable, ${r.messagesAtEnd} messages at the end`,
      )
      expect(r.batchesDurable).toBeGreaterThan(0)
    },
    60_000 + kills * 30_000,
  )
}

export interface CrashRoundsOptions {
  name: string
  /** Module and export the child writer constructs (see AdapterCapabilities.crash). */
  module: string
  exportName: string
  openOptions?: Partial<OpenOptions>
  kills: number
  seed: number
  /** An empty directory the rounds share (each round reopens what the previous one left). */
  dir: string
  /** Opens the store in the parent for verification (a fresh adapter, already opened). */
  openAt: (dir: string, opts?: Partial<OpenOptions>) => Promise<{ a: PersistenceAdapter }>
}

export interface CrashRoundsResult {
  batchesIssued: number
  batchesDurable: number
  messagesAtEnd: number
}

/**
 * The kill -9 check, usable outside describeAdapter: `kills` rounds of (spawn writer, let it write a random
 * while, SIGKILL, reopen, verify). Throws an Error naming seed, round and the broken promise on the first
 * violation. Every child is killed before this returns or throws.
 */
export async function runCrashRounds(o: CrashRoundsOptions): Promise<CrashRoundsResult> {
  const children = new Set<ChildProcess>()
  try {
    return await crashRounds(o, children)
  } finally {
    for (const c of children) c.kill('SIGKILL')
  }
}

async function crashRounds(o: CrashRoundsOptions, children: Set<ChildProcess>): Promise<CrashRoundsResult> {
  const { name, seed, dir, kills } = o
  const rnd = new SeededRandom(seed)
  const dests = Array.from({ length: CRASH_DESTINATIONS }, (_, i) => `q${i}`)
  let state = new Map<string, Present>()
  let epoch = 1
  let totalDurable = 0
  let totalIssued = 0
  const fail = (round: number, what: string): never => {
    throw new Error(`[${name} crash] seed=${seed} round=${round}: ${what}`)
  }

  for (let round = 0; round < kills; round++) {
    const cfg: CrashWriterConfig = {
      module: o.module,
      exportName: o.exportName,
      dir,
      epoch: epoch++,
      seed: seed + round,
      round,
      destinations: CRASH_DESTINATIONS,
      inflight: 8,
      maxBatches: 20_000,
      openOptions: o.openOptions ?? {},
    }
    const lines = await runAndKill(cfg, rnd.int(0, CRASH_KILL_DELAY_MAX_MS), children)
    // Expectations of this round.
    const issuedAdd = new Map<string, { b: number; destination: string }>()
    const issuedRemove = new Map<string, number>()
    const batches = new Map<number, { adds: string[]; removes: string[] }>()
    const durable = new Map<number, number[]>()
    for (const l of lines) {
      if (l.t === 'issue') {
        batches.set(l.b, { adds: l.adds.map((x) => x[0]), removes: l.removes })
        for (const [id, destination] of l.adds) issuedAdd.set(id, { b: l.b, destination })
        for (const id of l.removes) issuedRemove.set(id, l.b)
      } else if (l.t === 'durable') durable.set(l.b, l.seqs)
      else if (l.t === 'error') fail(round, `writer reported a failed write: batch ${l.b} ${l.code} ${l.message}`)
    }
    totalIssued += batches.size
    totalDurable += durable.size

    const { a } = await o.openAt(dir, { epoch: epoch++, ...(o.openOptions ?? {}) })
    const actual = new Map<string, Present>()
    let maxPrevSeq = 0
    for (const p of state.values()) maxPrevSeq = Math.max(maxPrevSeq, p.seq)
    for (const d of dests) {
      const got = await loadAll(a, d)
      let prev: [number, number] = [-1, -1]
      for (const m of got) {
        const ord = idOrder(m.messageId)
        if (ord[0] < prev[0] || (ord[0] === prev[0] && ord[1] <= prev[1]))
          fail(round, `order broken in ${d}: ${m.messageId} (seq ${m.seq}) after r${prev[0]}-${prev[1]}`)
        prev = ord
        if (dec.decode(m.body.subarray(0, m.messageId.length + 1)) !== `${m.messageId}|`)
          fail(round, `body of ${m.messageId} is not the one written`)
        if (m.headers['x-dest'] !== d)
          fail(round, `${m.messageId} recovered in ${d} but written to ${m.headers['x-dest']}`)
        actual.set(m.messageId, { destination: d, seq: m.seq })
      }
    }
    await a.close()

    // Nothing invented: every message was present before or issued this round.
    for (const [id, p] of actual) {
      const before = state.get(id)
      if (before) {
        if (before.seq !== p.seq || before.destination !== p.destination)
          fail(round, `${id} moved: ${JSON.stringify(before)} -> ${JSON.stringify(p)}`)
      } else if (!issuedAdd.has(id)) fail(round, `${id} recovered but never written`)
      else if (p.seq <= maxPrevSeq) fail(round, `${id} got seq ${p.seq}, not above the previous maximum ${maxPrevSeq}`)
    }
    // Earlier messages stay unless a remove was issued; a durable remove is applied.
    for (const [id] of state) {
      const rb = issuedRemove.get(id)
      if (rb === undefined && !actual.has(id)) fail(round, `${id} lost: present before the kill, never removed`)
      if (rb !== undefined && durable.has(rb) && actual.has(id))
        fail(round, `${id} present although its remove (batch ${rb}) was reported durable`)
    }
    // Every add reported durable is present (with its reported seq) unless a remove was issued.
    for (const [b, seqs] of durable) {
      const batch = batches.get(b)
      if (!batch) fail(round, `durable line for batch ${b} without its issue line`)
      batch!.adds.forEach((id, i) => {
        const rb = issuedRemove.get(id)
        const p = actual.get(id)
        if (rb === undefined && !p) fail(round, `${id} (batch ${b}) reported durable but lost`)
        if (p && p.seq !== seqs[i]) fail(round, `${id} recovered with seq ${p.seq}, reported ${seqs[i]}`)
        if (rb !== undefined && durable.has(rb) && p)
          fail(round, `${id} present although its remove (batch ${rb}) was reported durable`)
      })
    }
    // Batches not reported durable are whole or absent.
    for (const [b, batch] of batches) {
      if (durable.has(b)) continue
      const applied = [...batch.adds.map((id) => actual.has(id)), ...batch.removes.map((id) => !actual.has(id))]
      if (applied.some((x) => x !== applied[0]))
        fail(
          round,
          `batch ${b} applied in part: adds ${JSON.stringify(batch.adds)} removes ${JSON.stringify(batch.removes)}`,
        )
    }
    state = actual
  }
  return { batchesIssued: totalIssued, batchesDurable: totalDurable, messagesAtEnd: state.size }
}

/** Spawn the writer, wait until it is ready, let it write `delayMs`, SIGKILL it, return its complete lines. */
async function runAndKill(cfg: CrashWriterConfig, delayMs: number, children: Set<ChildProcess>): Promise<CrashLine[]> {
  const child = spawn(process.execPath, [CRASH_WRITER, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8')
  child.stderr!.setEncoding('utf8')
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`crash writer not ready after ${CRASH_READY_TIMEOUT_MS} ms; stderr: ${err}`)),
      CRASH_READY_TIMEOUT_MS,
    )
    child.stdout!.on('data', (d: string) => {
      out += d
      if (out.includes('"t":"ready"')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on('data', (d: string) => (err += d))
    exited.then((code) => {
      clearTimeout(timer)
      if (!out.includes('"t":"ready"'))
        reject(new Error(`crash writer exited with ${code} before ready; stderr: ${err}`))
      else resolve()
    })
  })
  await new Promise((r) => setTimeout(r, delayMs))
  child.kill('SIGKILL')
  await exited
  children.delete(child)
  // Streams may still hold buffered data after exit: wait for their end (bounded).
  await Promise.race([new Promise((r) => child.stdout!.once('close', r)), new Promise((r) => setTimeout(r, 2000))])
  if (err.trim() !== '') console.log(`[crash writer stderr] ${err.trim().slice(0, 2000)}`)
  const lines: CrashLine[] = []
  const parts = out.split('\n')
  parts.pop() // the last piece is incomplete (or empty)
  for (const p of parts) if (p.trim() !== '') lines.push(JSON.parse(p) as CrashLine)
  return lines
}
