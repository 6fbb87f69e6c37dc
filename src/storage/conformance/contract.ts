/**
 * Conformance: the contract's observable promises every adapter keeps: order per destination across reopen,
 * atomic batches, durable subscription records, the producer-dedupe record, close semantics, large messages, many
 * destinations, paging, stats and purge.
 */
import { test, expect } from 'bun:test'
import { BrokerError } from '../../lib/errors.ts'
import type { DurableSubscriptionRecord, RecoveredState } from '../types.ts'
import { add, dec, expectCode, loadAll, msg, nonEmpty, SeededRandom, strProp, type SuiteContext } from './harness.ts'

export function describeContract({ name, h, caps, tmp, openAt, skipReason }: SuiteContext): void {
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
      expect(got.map((m) => strProp(m, 'n'))).toEqual(want.map((x) => String(x.n)))
      for (const m of got) {
        const n = Number(strProp(m, 'n'))
        expect(m.message.messageId).toBe(n < 10 ? `s-${n}` : `c-${n - 10}`)
        expect(dec.decode(m.message.body)).toBe(n < 10 ? `body ${n}` : `body c${n - 10}`)
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
    expect((await loadAll(a, 'A')).map((m) => m.message.messageId)).toEqual(['a2', 'a3'])
    expect((await loadAll(a, 'B')).map((m) => m.message.messageId)).toEqual(['b2'])
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
    expect((await loadAll(a, 'durable://c2:s1')).map((m) => m.message.messageId)).toEqual(['d1'])
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
    const got = new Set((await loadAll(a, 'Q')).map((m) => m.message.messageId))
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
      expect(got.map((m) => m.message.messageId)).toEqual(['big-1', 'small-after'])
      expect(got[0].message.body.length).toBe(body.length)
      expect(Buffer.compare(Buffer.from(got[0].message.body), Buffer.from(body))).toBe(0)
      expect(strProp(got[0], 'content-length')).toBe(String(body.length))
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
      expect((await loadAll(a, `queue://D.${i}`)).map((m) => m.message.messageId)).toEqual([`d-${i}-a`, `d-${i}-b`])
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
    expect((await loadAll(a, 'PA')).map((m) => m.message.messageId)).toEqual(['pa-new'])
    // A purge after an add in the same batch drops that add too.
    await a.write([add('PB', msg('pb-1', 'x')), { op: 'purge', destination: 'PB' }])
    expect(a.stats().messages).toBe(1)
    await a.close()
    ;({ a } = await openAt(dir))
    expect((await loadAll(a, 'PA')).map((m) => m.message.messageId)).toEqual(['pa-new'])
    expect(await loadAll(a, 'PB')).toEqual([])
    await a.close()
  })
}
