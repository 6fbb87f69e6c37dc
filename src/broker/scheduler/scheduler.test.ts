/**
 * Goal: the Scheduler's ActiveMQ semantics (delay, period+repeat, cron, management, bad headers), its durability
 * (accept resolves only after the job is in the store) and its recovery (a new Scheduler on the same store keeps
 * remaining repeats; overdue jobs fire once; copies re-fired after a lost record keep their message ids).
 * Method: a hand-driven clock, the MemoryStore adapter, SENDs built through the STOMP mapping, and a recording
 * BrokerCore (scheduler-test-kit.ts) that sees each copy as a STOMP subscriber would and dedupes on the model's
 * dedupeKey as the real broker's producer audit does.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { Scheduler, TIMER_MS_MAX } from './index.ts'
import { JOBS_STORE_KEY } from './job.ts'
import { MemoryStore } from '../../testing/memory-store.ts'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import type { Clock } from '../../lib/clock.ts'
import type { SendRequest } from '../types.ts'
import type { StoreOp, WriteResult } from '../../storage/types.ts'
import { RecordingBrokerBase, routedCopy, stompSendRequest, type RoutedCopy } from './scheduler-test-kit.ts'

class FakeClock implements Clock {
  private t: number
  private timers = new Map<number, { at: number; fn: () => void }>()
  private nextId = 1
  /** Every delay passed to setTimeout, for the timer-cap test. */
  readonly delays: number[] = []
  constructor(start: number) {
    this.t = start
  }
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms)
    const id = this.nextId++
    this.timers.set(id, { at: this.t + ms, fn })
    return id
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number)
  }
  get pending(): number {
    return this.timers.size
  }
  /** Move time forward to `this.now() + ms`, running each due timer at its time and letting async work settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms
    for (let i = 0; i < 100_000; i++) {
      await settle()
      let first: [number, { at: number; fn: () => void }] | undefined
      for (const e of this.timers) if (e[1].at <= end && (!first || e[1].at < first[1].at)) first = e
      if (!first) break
      this.timers.delete(first[0])
      this.t = Math.max(this.t, first[1].at)
      first[1].fn()
    }
    this.t = end
    await settle()
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r))
}

const enc = new TextEncoder()
const dec = new TextDecoder()

class FakeBroker extends RecordingBrokerBase {
  routed: { at: number; req: RoutedCopy }[] = []
  failNext: Error | null = null
  constructor(private clock: Clock) {
    super()
  }
  async route(req: SendRequest): Promise<void> {
    if (this.failNext) {
      const e = this.failNext
      this.failNext = null
      throw e
    }
    if (this.duplicate(req)) return
    this.routed.push({ at: this.clock.now(), req: routedCopy(req) })
  }
  to(dest: string) {
    return this.routed.filter((r) => r.req.destination === dest)
  }
}

const T0 = Date.parse('2025-03-14T10:17:30Z')
const started: Scheduler[] = []

async function setup(opts: { store?: MemoryStore; clock?: FakeClock; broker?: FakeBroker; maxRepeat?: number } = {}) {
  const clock = opts.clock ?? new FakeClock(T0)
  const store = opts.store ?? new MemoryStore()
  const recovered = await store.open({ directory: ':memory:', epoch: 1 })
  const broker = opts.broker ?? new FakeBroker(clock)
  const sched = new Scheduler({ store, broker, clock, cronUtc: true, maxRepeat: opts.maxRepeat })
  await sched.start(recovered)
  started.push(sched)
  return { clock, store, broker, sched }
}

afterEach(async () => {
  for (const s of started.splice(0)) await s.stop()
})

/** A STOMP SEND mapped at T0 (the time a SEND without a timestamp header gets). */
function send(destination: string, headers: Record<string, string>, body = 'hello', nowMs = T0): SendRequest {
  return stompSendRequest(destination, headers, body, nowMs)
}

async function expectCode(p: Promise<unknown>, code: string, mentions?: string): Promise<void> {
  let err: unknown
  try {
    await p
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(BrokerError)
  expect((err as BrokerError).code).toBe(code as BrokerError['code'])
  if (mentions) expect((err as Error).message).toContain(mentions)
}

describe('Scheduler delay', () => {
  test('Scheduler delivers a delayed message once, after the delay, without AMQ_SCHEDULED_* and with scheduledJobId', async () => {
    const { clock, broker, sched, store } = await setup()
    const took = await sched.accept(
      send('/queue/A', { AMQ_SCHEDULED_DELAY: '2000', persistent: 'true', 'x-user': 'u1' }),
      null,
    )
    expect(took).toBe(true)
    expect(store.stats().destinations.find((d) => d.destination === JOBS_STORE_KEY)?.count).toBe(1)
    expect(sched.stats()).toEqual({ jobs: 1, nextDueAt: T0 + 2000 })
    await clock.advance(1999)
    expect(broker.routed.length).toBe(0)
    await clock.advance(1)
    expect(broker.routed.length).toBe(1)
    const m = broker.routed[0]!
    expect(m.at).toBe(T0 + 2000)
    expect(m.req.destination).toBe('/queue/A')
    expect(dec.decode(m.req.body)).toBe('hello')
    expect(m.req.headers['AMQ_SCHEDULED_DELAY']).toBeUndefined()
    expect(m.req.headers['x-user']).toBe('u1')
    expect(m.req.headers['scheduledJobId']).toMatch(/^ID:/)
    await clock.advance(60_000)
    expect(broker.routed.length).toBe(1)
    expect(sched.stats()).toEqual({ jobs: 0, nextDueAt: null })
    expect(store.stats().messages).toBe(0)
  })

  test('Scheduler passes a send without schedule headers, or with scheduledJobId, back to the broker', async () => {
    const { sched } = await setup()
    expect(await sched.accept(send('/queue/A', { persistent: 'true' }), null)).toBe(false)
    expect(await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '1000', scheduledJobId: 'ID:x' }), null)).toBe(
      false,
    )
    // REPEAT alone does not schedule, as in ActiveMQ's SchedulerBroker.
    expect(await sched.accept(send('/queue/A', { AMQ_SCHEDULED_REPEAT: '3' }), null)).toBe(false)
    expect(sched.stats().jobs).toBe(0)
  })

  test('Scheduler shifts expires so the TTL counts from delivery', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '5000', expires: String(T0 + 1000) }), null)
    await clock.advance(5000)
    expect(broker.routed[0]!.req.headers['expires']).toBe(String(T0 + 5000 + 1000))
  })

  test('Scheduler keeps the client message-id on a one-shot copy and ignores a retried SEND with the same id', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '100', 'message-id': 'client-1' }), null)
    expect(await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '100', 'message-id': 'client-1' }), null)).toBe(
      true,
    )
    expect(sched.stats().jobs).toBe(1)
    await clock.advance(100)
    expect(broker.routed.map((r) => r.req.headers['message-id'])).toEqual(['client-1'])
  })

  test('Scheduler arms timers no longer than 2^31-1 ms and still fires far-future jobs', async () => {
    const { clock, broker, sched } = await setup()
    const delay = 30 * 24 * 3600 * 1000 // 30 days > 2^31-1 ms (~24.8 days)
    await sched.accept(send('/queue/far', { AMQ_SCHEDULED_DELAY: String(delay) }), null)
    expect(Math.max(...clock.delays)).toBeLessThanOrEqual(TIMER_MS_MAX)
    await clock.advance(TIMER_MS_MAX)
    expect(broker.routed.length).toBe(0)
    await clock.advance(delay - TIMER_MS_MAX)
    expect(broker.routed.length).toBe(1)
    expect(broker.routed[0]!.at).toBe(T0 + delay)
  })

  test('Scheduler fires jobs due at the same time in acceptance order', async () => {
    const { clock, broker, sched } = await setup()
    for (let i = 0; i < 20; i++) await sched.accept(send('/queue/order', { AMQ_SCHEDULED_DELAY: '500' }, `m${i}`), null)
    await clock.advance(500)
    expect(broker.routed.map((r) => dec.decode(r.req.body))).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`))
  })
})

describe('Scheduler timestamps', () => {
  test('Scheduler stamps each copy with its firing time unless the SEND had a timestamp (0.1.0)', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(
      send('/queue/T', { AMQ_SCHEDULED_DELAY: '1000', AMQ_SCHEDULED_PERIOD: '500', AMQ_SCHEDULED_REPEAT: '1' }, 'a'),
      null,
    )
    await sched.accept(send('/queue/T', { AMQ_SCHEDULED_DELAY: '1000', timestamp: '12345' }, 'b'), null)
    // `timestamp:` empty is no timestamp, as the SEND mapping reads it.
    await sched.accept(send('/queue/T', { AMQ_SCHEDULED_DELAY: '2000', timestamp: '' }, 'c'), null)
    await clock.advance(5000)
    const got = broker.to('/queue/T').map((r) => [dec.decode(r.req.body), r.req.headers.timestamp])
    expect(got).toEqual([
      ['a', String(T0 + 1000)],
      ['b', '12345'],
      ['a', String(T0 + 1500)],
      ['c', String(T0 + 2000)],
    ])
  })

  test('Scheduler BROWSE replies carry the browse time as timestamp unless the SEND had one', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '9000' }, 'unstamped'), null)
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '9500', timestamp: '777' }, 'stamped'), null)
    await clock.advance(3000)
    await sched.accept(
      send('/topic/ActiveMQ.Scheduler.Management', { AMQ_SCHEDULER_ACTION: 'BROWSE', 'reply-to': '/queue/r' }, ''),
      null,
    )
    expect(broker.to('/queue/r').map((r) => r.req.headers.timestamp)).toEqual([String(T0 + 3000), '777'])
  })
})

describe('Scheduler period and repeat', () => {
  test('Scheduler delivers repeat+1 copies, delay first then period apart, each with a new message id', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(
      send('/queue/R', { AMQ_SCHEDULED_DELAY: '1000', AMQ_SCHEDULED_PERIOD: '500', AMQ_SCHEDULED_REPEAT: '3' }),
      null,
    )
    await clock.advance(10_000)
    const got = broker.to('/queue/R')
    expect(got.map((r) => r.at - T0)).toEqual([1000, 1500, 2000, 2500])
    const ids = got.map((r) => r.req.headers['message-id'])
    expect(new Set(ids).size).toBe(4)
    expect(new Set(got.map((r) => r.req.headers['scheduledJobId'])).size).toBe(1)
    expect(
      got.every(
        (r) =>
          r.req.headers['AMQ_SCHEDULED_REPEAT'] === undefined && r.req.headers['AMQ_SCHEDULED_PERIOD'] === undefined,
      ),
    ).toBe(true)
    expect(sched.stats().jobs).toBe(0)
  })

  test('Scheduler with period and no delay waits one period before the first copy (ActiveMQ)', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/P', { AMQ_SCHEDULED_PERIOD: '300', AMQ_SCHEDULED_REPEAT: '1' }), null)
    await clock.advance(5000)
    expect(broker.to('/queue/P').map((r) => r.at - T0)).toEqual([300, 600])
  })

  test('Scheduler delay 0 delivers at once through the scheduler', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/Z', { AMQ_SCHEDULED_DELAY: '0' }), null)
    await clock.advance(0)
    expect(broker.to('/queue/Z').length).toBe(1)
    expect(broker.to('/queue/Z')[0]!.req.headers['scheduledJobId']).toBeDefined()
  })
})

describe('Scheduler cron', () => {
  test('Scheduler cron delivers one copy at each matching minute and keeps the job', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/C', { AMQ_SCHEDULED_CRON: '*/10 * * * *' }), null)
    expect(sched.stats().nextDueAt).toBe(Date.parse('2025-03-14T10:20:00Z'))
    await clock.advance(Date.parse('2025-03-14T10:45:00Z') - T0)
    const times = broker.to('/queue/C').map((r) => new Date(r.at).toISOString())
    expect(times).toEqual(['2025-03-14T10:20:00.000Z', '2025-03-14T10:30:00.000Z', '2025-03-14T10:40:00.000Z'])
    expect(new Set(broker.to('/queue/C').map((r) => r.req.headers['message-id'])).size).toBe(3)
    expect(sched.stats()).toEqual({ jobs: 1, nextDueAt: Date.parse('2025-03-14T10:50:00Z') })
  })

  test('Scheduler cron takes priority over delay for the start and with repeat delivers repeat+1 copies per firing', async () => {
    const { clock, broker, sched } = await setup()
    // ActiveMQ: first trigger at cron time + delay; each trigger starts a job of repeat+1 copies delay/period apart.
    await sched.accept(
      send('/queue/CR', {
        AMQ_SCHEDULED_CRON: '0 * * * *',
        AMQ_SCHEDULED_DELAY: '1000',
        AMQ_SCHEDULED_PERIOD: '2000',
        AMQ_SCHEDULED_REPEAT: '2',
      }),
      null,
    )
    const h11 = Date.parse('2025-03-14T11:00:00Z')
    expect(sched.stats().nextDueAt).toBe(h11 + 1000)
    await clock.advance(Date.parse('2025-03-14T12:00:30Z') - T0)
    const got = broker.to('/queue/CR').map((r) => r.at)
    const h12 = Date.parse('2025-03-14T12:00:00Z')
    expect(got).toEqual([h11 + 2000, h11 + 4000, h11 + 6000, h12 + 1000, h12 + 3000, h12 + 5000])
    const jobIds = broker.to('/queue/CR').map((r) => r.req.headers['scheduledJobId'])
    expect(jobIds[0]).toBe(jobIds[2]!)
    expect(jobIds[0]).not.toBe(jobIds[3]!)
    expect(new Set(broker.to('/queue/CR').map((r) => r.req.headers['message-id'])).size).toBe(6)
  })
})

describe('Scheduler bad headers', () => {
  const cases: [Record<string, string>, string][] = [
    [{ AMQ_SCHEDULED_DELAY: '-5' }, 'AMQ_SCHEDULED_DELAY'],
    [{ AMQ_SCHEDULED_DELAY: 'soon' }, 'AMQ_SCHEDULED_DELAY'],
    [{ AMQ_SCHEDULED_DELAY: '1.5' }, 'AMQ_SCHEDULED_DELAY'],
    [{ AMQ_SCHEDULED_PERIOD: '' }, 'AMQ_SCHEDULED_PERIOD'],
    [{ AMQ_SCHEDULED_DELAY: '10', AMQ_SCHEDULED_REPEAT: '1001' }, 'AMQ_SCHEDULED_REPEAT'],
    [{ AMQ_SCHEDULED_DELAY: '10', AMQ_SCHEDULED_REPEAT: '-1' }, 'AMQ_SCHEDULED_REPEAT'],
    [{ AMQ_SCHEDULED_CRON: '61 * * * *' }, 'AMQ_SCHEDULED_CRON'],
    [{ AMQ_SCHEDULED_CRON: 'every day' }, 'AMQ_SCHEDULED_CRON'],
  ]
  for (const [headers, name] of cases) {
    test(`Scheduler rejects ${JSON.stringify(headers)} with SCHEDULER_HEADER_INVALID naming ${name}`, async () => {
      const { sched, store } = await setup()
      await expectCode(sched.accept(send('/queue/A', headers), null), 'SCHEDULER_HEADER_INVALID', name)
      expect(store.stats().messages).toBe(0)
    })
  }
  test('Scheduler repeat cap is configurable and 1000 is accepted by default', async () => {
    const { sched } = await setup()
    expect(
      await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10', AMQ_SCHEDULED_REPEAT: '1000' }), null),
    ).toBe(true)
    const small = await setup({ maxRepeat: 5 })
    await expectCode(
      small.sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10', AMQ_SCHEDULED_REPEAT: '6' }), null),
      'SCHEDULER_HEADER_INVALID',
      'AMQ_SCHEDULED_REPEAT',
    )
  })
})

describe('Scheduler durability', () => {
  test('Scheduler accept resolves only after the job write is durable, and fails when the write fails', async () => {
    const clock = new FakeClock(T0)
    const store = new MemoryStore()
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const origWrite = store.write.bind(store)
    let writes = 0
    store.write = async (ops: StoreOp[]): Promise<WriteResult> => {
      writes++
      await gate
      return origWrite(ops)
    }
    const { sched } = await setup({ store, clock })
    let resolved = false
    const p = sched.accept(send('/queue/D', { AMQ_SCHEDULED_DELAY: '10' }), null).then(() => (resolved = true))
    await settle()
    expect(writes).toBe(1)
    expect(resolved).toBe(false)
    release()
    await p
    expect(resolved).toBe(true)
    expect(store.stats().messages).toBe(1)
    store.write = origWrite
    store.failWrites = new BrokerError('STORAGE_IO', 'disk full')
    await expectCode(sched.accept(send('/queue/D', { AMQ_SCHEDULED_DELAY: '10' }), null), 'STORAGE_IO')
    expect(sched.stats().jobs).toBe(1)
  })

  test('Scheduler refuses scheduled SENDs when stopped with BROKER_STOPPED', async () => {
    const { sched } = await setup()
    await sched.stop()
    await expectCode(sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10' }), null), 'BROKER_STOPPED')
  })

  test('Scheduler retries a copy the broker refused for now, and keeps going', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '100' }), null)
    broker.failNext = new BrokerError('BROKER_LIMIT', 'memory full')
    await clock.advance(100)
    expect(broker.routed.length).toBe(0)
    expect(sched.stats().jobs).toBe(1)
    await clock.advance(1000)
    expect(broker.routed.length).toBe(1)
    expect(sched.stats().jobs).toBe(0)
  })
})

describe('Scheduler recovery', () => {
  test('Scheduler recovery keeps the remaining repeat count and fires overdue jobs once', async () => {
    const store = new MemoryStore()
    const clock = new FakeClock(T0)
    const broker = new FakeBroker(clock)
    const a = await setup({ store, clock, broker })
    await a.sched.accept(
      send('/queue/R', { AMQ_SCHEDULED_DELAY: '1000', AMQ_SCHEDULED_PERIOD: '1000', AMQ_SCHEDULED_REPEAT: '4' }),
      null,
    )
    await a.sched.accept(send('/queue/D', { AMQ_SCHEDULED_DELAY: '1500' }), null)
    await clock.advance(2000) // R fired at 1000 and 2000; D at 1500
    expect(broker.to('/queue/R').length).toBe(2)
    await a.sched.stop()
    await store.close()
    // No primary for 10 s: R's next (3000) is overdue.
    await clock.advance(10_000)
    const b = await setup({ store, clock, broker })
    expect(b.sched.stats().jobs).toBe(1)
    await clock.advance(0)
    expect(broker.to('/queue/R').length).toBe(3) // overdue: once, not a burst of the missed ones
    await clock.advance(60_000)
    const r = broker.to('/queue/R')
    expect(r.length).toBe(5) // 1 + 4 repeats in total, across the failover
    expect(r.slice(2).map((x) => x.at - T0)).toEqual([12_000, 13_000, 14_000])
    expect(broker.to('/queue/D').length).toBe(1)
    expect(b.sched.stats().jobs).toBe(0)
  })

  test('Scheduler recovery re-fires an unrecorded firing with the same message id, so dedupe delivers it once', async () => {
    const store = new MemoryStore()
    const clock = new FakeClock(T0)
    const broker = new FakeBroker(clock)
    const a = await setup({ store, clock, broker })
    await a.sched.accept(
      send('/queue/X', { AMQ_SCHEDULED_DELAY: '100', AMQ_SCHEDULED_PERIOD: '100', AMQ_SCHEDULED_REPEAT: '1' }),
      null,
    )
    // The copy is routed, then the record write fails (as when the process dies between the two).
    store.failWrites = new BrokerError('STORAGE_IO', 'crash')
    await clock.advance(100)
    expect(broker.to('/queue/X').length).toBe(1)
    const firstId = broker.to('/queue/X')[0]!.req.headers['message-id']
    await a.sched.stop()
    store.failWrites = null
    await store.close()
    const routesBefore = broker.seenKeys
    const b = await setup({ store, clock, broker })
    await clock.advance(5000)
    const x = broker.to('/queue/X')
    expect(x.length).toBe(2) // the re-fired first copy was filtered; the repeat came once
    expect(x[0]!.req.headers['message-id']).toBe(firstId)
    expect(broker.seenKeys).toBe(routesBefore + 1)
    expect(b.sched.stats().jobs).toBe(0)
  })

  test('Scheduler recovery pages through many jobs', async () => {
    const store = new MemoryStore()
    const clock = new FakeClock(T0)
    const a = await setup({ store, clock })
    for (let i = 0; i < 1203; i++)
      await a.sched.accept(send('/queue/M', { AMQ_SCHEDULED_DELAY: String(1000 + i) }), null)
    await a.sched.stop()
    await store.close()
    const recovered = await store.open({ directory: ':memory:', epoch: 2 })
    const broker = new FakeBroker(clock)
    const b = new Scheduler({ store, broker, clock, loadPageSize: 100 })
    await b.start(recovered)
    started.push(b)
    expect(b.stats()).toEqual({ jobs: 1203, nextDueAt: T0 + 1000 })
    await clock.advance(3000)
    expect(broker.routed.length).toBe(1203)
  })
})

describe('Scheduler management', () => {
  const MGMT = '/topic/ActiveMQ.Scheduler.Management'

  test('Scheduler BROWSE replies with non-persistent copies carrying scheduledJobId, in due order, within a window', async () => {
    const { broker, sched } = await setup()
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '3000', persistent: 'true' }, 'three'), null)
    await sched.accept(send('/queue/B', { AMQ_SCHEDULED_DELAY: '1000' }, 'one'), null)
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '2000' }, 'two'), null)
    expect(
      await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'BROWSE', 'reply-to': '/queue/replies' }, ''), null),
    ).toBe(true)
    const replies = broker.to('/queue/replies')
    expect(replies.map((r) => dec.decode(r.req.body))).toEqual(['one', 'two', 'three'])
    expect(
      replies.every((r) => r.req.message.persistent === false && /^ID:/.test(r.req.headers['scheduledJobId']!)),
    ).toBe(true)
    expect(replies[2]!.req.headers['original-destination']).toBe('/queue/A')
    await sched.accept(
      send(
        '/queue/ActiveMQ.Scheduler.Management',
        {
          AMQ_SCHEDULER_ACTION: 'BROWSE',
          'reply-to': '/queue/win',
          ACTION_START_TIME: String(T0 + 1500),
          ACTION_END_TIME: String(T0 + 2500),
        },
        '',
      ),
      null,
    )
    expect(broker.to('/queue/win').map((r) => dec.decode(r.req.body))).toEqual(['two'])
    expect(sched.stats().jobs).toBe(3)
  })

  test('Scheduler REMOVE deletes one job durably; REMOVEALL deletes a window, then all', async () => {
    const { clock, broker, sched, store } = await setup()
    for (const d of [1000, 2000, 3000, 4000])
      await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: String(d) }, `d${d}`), null)
    await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'BROWSE', 'reply-to': '/queue/ids' }, ''), null)
    const ids = broker.to('/queue/ids').map((r) => r.req.headers['scheduledJobId']!)
    await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVE', scheduledJobId: ids[0]! }, ''), null)
    expect(sched.stats().jobs).toBe(3)
    expect(store.stats().messages).toBe(3)
    // Removing an unknown id is not an error.
    await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVE', scheduledJobId: 'ID:nope' }, ''), null)
    await sched.accept(
      send(
        MGMT,
        { AMQ_SCHEDULER_ACTION: 'REMOVEALL', ACTION_START_TIME: String(T0 + 2500), ACTION_END_TIME: String(T0 + 3500) },
        '',
      ),
      null,
    )
    expect(sched.stats().jobs).toBe(2)
    await clock.advance(2000)
    expect(broker.to('/queue/A').map((r) => dec.decode(r.req.body))).toEqual(['d2000'])
    await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVEALL' }, ''), null)
    expect(sched.stats()).toEqual({ jobs: 0, nextDueAt: null })
    expect(store.stats().messages).toBe(0)
    await clock.advance(10_000)
    expect(broker.to('/queue/A').length).toBe(1)
  })

  test('Scheduler REMOVE of a repeating job stops its remaining copies', async () => {
    const { clock, broker, sched } = await setup()
    await sched.accept(
      send('/queue/R', { AMQ_SCHEDULED_DELAY: '100', AMQ_SCHEDULED_PERIOD: '100', AMQ_SCHEDULED_REPEAT: '10' }),
      null,
    )
    await clock.advance(250)
    expect(broker.to('/queue/R').length).toBe(2)
    const id = broker.to('/queue/R')[0]!.req.headers['scheduledJobId']!
    await sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVE', scheduledJobId: id }, ''), null)
    await clock.advance(5000)
    expect(broker.to('/queue/R').length).toBe(2)
    expect(sched.stats().jobs).toBe(0)
  })

  test('Scheduler management rejects a missing or unknown action, BROWSE without reply-to, REMOVE without id', async () => {
    const { sched } = await setup()
    await expectCode(sched.accept(send(MGMT, {}, ''), null), 'SCHEDULER_HEADER_INVALID', 'AMQ_SCHEDULER_ACTION')
    await expectCode(
      sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'PURGE' }, ''), null),
      'SCHEDULER_HEADER_INVALID',
      'PURGE',
    )
    await expectCode(
      sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'BROWSE' }, ''), null),
      'SCHEDULER_HEADER_INVALID',
      'reply-to',
    )
    await expectCode(
      sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVE' }, ''), null),
      'SCHEDULER_HEADER_INVALID',
      'scheduledJobId',
    )
    await expectCode(
      sched.accept(send(MGMT, { AMQ_SCHEDULER_ACTION: 'REMOVEALL', ACTION_START_TIME: 'x' }, ''), null),
      'SCHEDULER_HEADER_INVALID',
      'ACTION_START_TIME',
    )
  })
})

describe('Scheduler limits', () => {
  test('Scheduler refuses jobs over jobsMax with BROKER_LIMIT', async () => {
    const clock = new FakeClock(T0)
    const store = new MemoryStore()
    const recovered = await store.open({ directory: ':memory:', epoch: 1 })
    const sched = new Scheduler({ store, broker: new FakeBroker(clock), clock, jobsMax: 2 })
    await sched.start(recovered)
    started.push(sched)
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10' }), null)
    await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10' }), null)
    let err: unknown
    try {
      await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10' }), null)
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'BROKER_LIMIT')).toBe(true)
    await clock.advance(10)
    expect(await sched.accept(send('/queue/A', { AMQ_SCHEDULED_DELAY: '10' }), null)).toBe(true)
  })
  test('Scheduler refuses bad options with CONFIG_INVALID', () => {
    const clock = new FakeClock(T0)
    expect(() => new Scheduler({ store: new MemoryStore(), broker: new FakeBroker(clock), clock, jobsMax: 0 })).toThrow(
      BrokerError,
    )
  })
})
