/**
 * Goal: JobQueue keeps the due order of the job table without removing heap entries in place: a re-enqueued, firing,
 * removing or forgotten job's old entry never comes out; takeDue stops at `max` and at the first job not yet due;
 * one timer is armed for the earliest job and fires the hook once. Method: jobs made from literal records on a
 * FakeClock, no store.
 */
import { describe, expect, test } from 'bun:test'
import { FakeClock } from '../../testing/fake-clock.ts'
import { createMessage } from '../../model/index.ts'
import { JobQueue } from './job-queue.ts'
import type { JobRecord } from './job.ts'

const T0 = 1_000_000

function record(id: string, nextAt: number): JobRecord {
  return {
    v: 2,
    id,
    cron: null,
    delayMs: nextAt - T0,
    periodMs: 0,
    repeat: 0,
    repeatTotal: 0,
    nextAt,
    fired: 0,
    createdAt: T0,
    version: 1,
    stampOnFire: false,
  }
}

function setup(running = true) {
  const clock = new FakeClock(T0)
  let fired = 0
  const q = new JobQueue(clock, true, {
    running: () => running,
    fire: async () => {
      fired++
    },
  })
  let seq = 0
  const add = (id: string, nextAt: number) => {
    const m = createMessage({ messageId: id, destination: { kind: 'queue', name: 'jobs' }, timestamp: T0 })
    const job = q.makeJob(record(id, nextAt), m, ++seq, T0)
    q.add(job)
    q.enqueue(job)
    return job
  }
  return { clock, q, add, fired: () => fired }
}

describe('JobQueue', () => {
  test('JobQueue takeDue returns due jobs in due order, at most max, marked firing', () => {
    const { q, add } = setup()
    const c = add('c', T0 + 30)
    const a = add('a', T0 + 10)
    add('late', T0 + 1000)
    const b = add('b', T0 + 20)
    expect(q.takeDue(T0 + 100, 2)).toEqual([a, b])
    expect(a.firing && b.firing).toBe(true)
    expect(q.takeDue(T0 + 100, 10)).toEqual([c])
    expect(q.takeDue(T0 + 100, 10)).toEqual([])
  })

  test('JobQueue peekValid skips stale entries of re-enqueued, removing and forgotten jobs', () => {
    const { q, add } = setup()
    const a = add('a', T0 + 10)
    const b = add('b', T0 + 20)
    const c = add('c', T0 + 30)
    a.nextAt = T0 + 50
    q.enqueue(a)
    b.removing = true
    q.forget(c)
    expect(q.jobs.size).toBe(2)
    expect(q.peekValid()?.job).toBe(a)
    expect(q.peekValid()?.at).toBe(T0 + 50)
    expect(q.bytes).toBe(0)
  })

  test('JobQueue arms one timer for the earliest job and fires the hook once', async () => {
    const { clock, q, add, fired } = setup()
    add('a', T0 + 500)
    add('b', T0 + 100)
    q.rearm()
    q.rearm()
    expect(clock.pending()).toEqual([100])
    clock.advance(100)
    await q.inflight
    expect(fired()).toBe(1)
  })

  test('JobQueue arms no timer while not running', () => {
    const { clock, q, add } = setup(false)
    add('a', T0 + 100)
    q.rearm()
    expect(clock.pending()).toEqual([])
  })
})
