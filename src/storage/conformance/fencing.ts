/**
 * Conformance: what an adapter refuses or checks with another writer in mind: the epoch fence per durable group,
 * a newer or foreign on-disk format, an older epoch on open, and (if supported) a warm standby reader that recovers
 * exactly what a cold open does.
 */
import { test, expect } from 'bun:test'
import { BrokerError } from '../../lib/errors.ts'
import type { DurableSubscriptionRecord, EpochFence, RecoveredState } from '../types.ts'
import { add, expectCode, loadAll, msg, SeededRandom, suiteSeed, type SuiteContext } from './harness.ts'

export function describeFencing({ name, h, caps, tmp, openAt, skipReason }: SuiteContext): void {
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
      expect((await loadAll(a, 'Q')).map((m) => m.message.messageId)).toEqual(['m5'])
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
        expect((await loadAll(w.a, d)).map((m) => [m.seq, m.message.messageId])).toEqual(
          (await loadAll(c.a, d)).map((m) => [m.seq, m.message.messageId]),
        )
      }
      await w.a.write([add('Q0', msg('after', 'y'))])
      await w.a.close()
      await c.a.close()
      await a.close().catch(() => {})
    },
  )
}
