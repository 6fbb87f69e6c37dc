/**
 * Goal: Scheduler.list() (for the admin console, #18) gives the jobs due first, in due order, with their next due
 * time, bounded by `max`, and the total; removed jobs drop out. Method: a MemoryStore, a BrokerCore that only
 * records, and a clock whose timers never fire, so nothing is due during the test.
 */
import { expect, test } from 'bun:test'
import { Scheduler } from './index.ts'
import { MemoryStore } from '../../testing/memory-store.ts'
import type { Clock } from '../../lib/clock.ts'
import type { SendRequest } from '../types.ts'
import { RecordingBrokerBase, stompSendRequest } from './scheduler-test-kit.ts'

const T0 = Date.parse('2025-03-14T10:00:00Z')
const clock: Clock = { now: () => T0, setTimeout: () => 0, clearTimeout: () => {} } as unknown as Clock
const broker = new (class extends RecordingBrokerBase {
  async route(_r: SendRequest): Promise<void> {}
})()

test('Scheduler.list gives the first max jobs in due order with nextDueAt, and the total', async () => {
  const store = new MemoryStore()
  const sched = new Scheduler({ store, broker, clock })
  await sched.start(await store.open({ directory: ':memory:', epoch: 1 }))
  const delays = [5000, 1000, 9000, 3000, 7000, 2000]
  for (const [i, d] of delays.entries()) {
    await sched.accept(
      stompSendRequest(
        `/queue/q${i}`,
        {
          AMQ_SCHEDULED_DELAY: String(d),
          ...(i === 1 ? { AMQ_SCHEDULED_PERIOD: '500', AMQ_SCHEDULED_REPEAT: '3' } : {}),
        },
        'x'.repeat(i),
        T0,
      ),
      null,
    )
  }
  const all = sched.list(100)
  expect(all.total).toBe(6)
  expect(all.jobs.map((j) => j.nextDueAt - T0)).toEqual([1000, 2000, 3000, 5000, 7000, 9000])
  expect(all.jobs[0]).toMatchObject({
    destination: '/queue/q1',
    delayMs: 1000,
    periodMs: 500,
    repeat: 3,
    repeatTotal: 3,
    fired: 0,
    cron: null,
    bodyBytes: 1,
    createdAt: T0,
  })
  const three = sched.list(3)
  expect([three.total, three.jobs.map((j) => j.destination)]).toEqual([6, ['/queue/q1', '/queue/q5', '/queue/q3']])
  expect(sched.list(0)).toEqual({ total: 6, jobs: [] })
  await sched.accept(
    stompSendRequest(
      '/topic/ActiveMQ.Scheduler.Management',
      { AMQ_SCHEDULER_ACTION: 'REMOVE', scheduledJobId: all.jobs[0]!.id },
      '',
      T0,
    ),
    null,
  )
  expect(sched.list(2).jobs.map((j) => j.destination)).toEqual(['/queue/q5', '/queue/q3'])
  expect(sched.list(2).total).toBe(5)
  await sched.stop()
})
