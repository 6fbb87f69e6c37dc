/**
 * Goal: the Scheduler works over real on-disk adapters, not only the MemoryStore: jobs written before a close are
 * recovered by a new adapter instance and a new Scheduler (remaining repeats kept, overdue jobs fire once), and the
 * dedupe record keeps a retried scheduled SEND from creating a second job. Method: each available adapter
 * (levelDB always; kahaDB once src/storage/index.ts provides createAdapter) in a temp dir, a hand-driven clock,
 * SENDs built through the STOMP mapping, and a recording broker that dedupes on the model's dedupeKey.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Scheduler } from './index.ts'
import { LevelDbAdapter } from '../../storage/adapters/leveldb/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { SendRequest } from '../types.ts'
import { RecordingBrokerBase, routedCopy, stompSendRequest, type RoutedCopy } from './scheduler-test-kit.ts'
import type { PersistenceAdapter } from '../../storage/types.ts'

class StepClock implements Clock {
  timers = new Map<number, { at: number; fn: () => void }>()
  private id = 0
  constructor(public t: number) {}
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.timers.set(++this.id, { at: this.t + ms, fn })
    return this.id
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number)
  }
  /** Advance to now+ms, running due timers; real I/O completes in between, so wait for it generously. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (let i = 0; i < 10_000; i++) {
      await idle()
      let first: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (!first || e[1].at < first[1].at)) first = e
      if (!first) break
      this.timers.delete(first[0])
      this.t = Math.max(this.t, first[1].at)
      first[1].fn()
    }
    this.t = end
    await idle()
  }
}

/** Let real disk writes finish: a few short sleeps (bounded). */
async function idle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setTimeout(r, 5))
}

class RecordingBroker extends RecordingBrokerBase {
  routed: RoutedCopy[] = []
  async route(req: SendRequest): Promise<void> {
    if (!this.duplicate(req)) this.routed.push(routedCopy(req))
  }
}

const adapters: { name: string; make: () => Promise<PersistenceAdapter> }[] = [
  { name: 'levelDB', make: async () => new LevelDbAdapter() },
]
if (fs.existsSync(path.join(import.meta.dir, '../../storage/index.ts'))) {
  const mod = (await import('../../storage/index.ts' as string)) as {
    createAdapter?: (k: string) => PersistenceAdapter
  }
  if (mod.createAdapter) {
    const create = mod.createAdapter
    adapters.push({ name: 'kahaDB', make: async () => create('kahaDB') })
  }
}

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})

const T0 = Date.parse('2025-06-01T08:00:00Z')

for (const a of adapters) {
  describe(`Scheduler over ${a.name}`, () => {
    test(`Scheduler over ${a.name} recovers jobs after reopen, keeps remaining repeats, fires overdue ones once`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sfb-sched-${a.name}-`))
      dirs.push(dir)
      const clock = new StepClock(T0)
      const broker = new RecordingBroker()

      const s1 = await a.make()
      const rec1 = await s1.open({ directory: dir, epoch: 1 })
      const sch1 = new Scheduler({ store: s1, broker, clock })
      await sch1.start(rec1)
      await sch1.accept(
        stompSendRequest(
          '/queue/R',
          { AMQ_SCHEDULED_DELAY: '1000', AMQ_SCHEDULED_PERIOD: '1000', AMQ_SCHEDULED_REPEAT: '3' },
          'r',
          clock.t,
        ),
        null,
      )
      await sch1.accept(
        stompSendRequest('/queue/D', { AMQ_SCHEDULED_DELAY: '5000', 'message-id': 'client-7' }, 'd', clock.t),
        null,
      )
      await clock.advance(1000)
      expect(broker.routed.filter((m) => m.destination === '/queue/R').length).toBe(1)
      await sch1.stop()
      await s1.close()

      // Down for a minute: both jobs are overdue at the next start.
      clock.t += 60_000
      const s2 = await a.make()
      const rec2 = await s2.open({ directory: dir, epoch: 2 })
      const sch2 = new Scheduler({ store: s2, broker, clock })
      await sch2.start(rec2)
      expect(sch2.stats().jobs).toBe(2)
      // A client retry of the already scheduled SEND (same message-id) must not create a second job.
      expect(
        await sch2.accept(
          stompSendRequest('/queue/D', { AMQ_SCHEDULED_DELAY: '5000', 'message-id': 'client-7' }, 'd', clock.t),
          null,
        ),
      ).toBe(true)
      expect(sch2.stats().jobs).toBe(2)
      await clock.advance(0)
      expect(broker.routed.filter((m) => m.destination === '/queue/D').length).toBe(1)
      expect(broker.routed.filter((m) => m.destination === '/queue/R').length).toBe(2)
      await clock.advance(10_000)
      const r = broker.routed.filter((m) => m.destination === '/queue/R')
      expect(r.length).toBe(4)
      expect(new Set(r.map((m) => m.headers['message-id'])).size).toBe(4)
      expect(sch2.stats()).toEqual({ jobs: 0, nextDueAt: null })
      // Even after the job fired and its record is gone, the dedupe record still knows the SEND.
      expect(
        await sch2.accept(
          stompSendRequest('/queue/D', { AMQ_SCHEDULED_DELAY: '5000', 'message-id': 'client-7' }, 'd', clock.t),
          null,
        ),
      ).toBe(true)
      expect(sch2.stats().jobs).toBe(0)
      await sch2.stop()
      await s2.close()

      // Nothing is left in the store after every job ended.
      const s3 = await a.make()
      const rec3 = await s3.open({ directory: dir, epoch: 3 })
      const sch3 = new Scheduler({ store: s3, broker, clock })
      await sch3.start(rec3)
      expect(sch3.stats().jobs).toBe(0)
      await sch3.stop()
      await s3.close()
    }, 60_000)
  })
}
