/**
 * Goal: `maxDestinations` (broker-wide and per policy entry, ActiveMQ's counting) stops clients from creating
 * destinations with BROKER_LIMIT while existing, recovered and DLQ destinations stay usable; destination GC removes
 * exactly the destinations ActiveMQ would (gcInactiveDestinations, no consumer, no message, inactive for
 * inactiveTimoutBeforeGC across sweeps) and nothing in use.
 * Method: a Broker over a MemoryStore with a hand-set clock; purgeInactive() called directly as the sweep would.
 */
import { describe, expect, test } from 'bun:test'
import type { Clock } from '../lib/clock.ts'
import { isBrokerError } from '../lib/errors.ts'
import type { BrokerConfig, DestinationPolicyConfig, PolicyEntryConfig } from '../config/types.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import type { Broker } from './broker.ts'
import { InactivityTracker } from './destination-limits.ts'
import { enc, makeBroker, settle, sub, testConfig, stompView } from './broker-test-kit.ts'

const entry = (e: Partial<PolicyEntryConfig>): PolicyEntryConfig => ({
  kind: 'queue',
  pattern: '>',
  memoryLimit: null,
  queuePrefetch: null,
  queueBrowserPrefetch: null,
  topicPrefetch: null,
  durableTopicPrefetch: null,
  ...e,
})

function config(
  maxDestinations: number,
  policy: DestinationPolicyConfig = { entries: [], defaultEntry: null },
): BrokerConfig {
  return {
    ...testConfig(),
    destinationPolicy: policy,
    destinations: { maxDestinations, schedulePeriodForDestinationPurge: 0, maxPurgedDestinationsPerSweep: 0 },
  }
}

class SetClock implements Clock {
  t = 1_000_000
  now(): number {
    return this.t
  }
  setTimeout(): unknown {
    return null
  }
  clearTimeout(): void {}
}

const conn = (b: Broker) => stompView(b.connect({ remoteAddress: 'x', protocol: 'test' }))
const send = (s: ReturnType<typeof conn>, destination: string, persistent = false) =>
  s.send({ destination, headers: persistent ? { persistent: 'true' } : {}, body: enc('x') })

async function code(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    if (isBrokerError(e)) return e.code
    throw e
  }
  return null
}

describe('maxDestinations', () => {
  test('Broker refuses a SEND or SUBSCRIBE that would create a destination past maxDestinations, with BROKER_LIMIT', async () => {
    const { broker } = await makeBroker({ config: config(3) })
    const s = conn(broker)
    await send(s, '/queue/a')
    await send(s, '/queue/b')
    sub(s, { destination: '/topic/c' })
    expect(await code(send(s, '/queue/d'))).toBe('BROKER_LIMIT')
    expect(await code(() => sub(s, { destination: '/topic/e' }))).toBe('BROKER_LIMIT')
    expect(await code(() => sub(s, { destination: '/temp-queue/f' }))).toBe('BROKER_LIMIT')
    // Existing destinations stay fully usable.
    expect(await code(send(s, '/queue/a'))).toBeNull()
    expect(await code(send(s, '/topic/c'))).toBeNull()
    expect(broker.metrics().destinations.map((d) => d.destination)).toEqual(['/queue/a', '/queue/b', '/topic/c'])
    await broker.stop()
  })

  test('Broker still creates the DLQ and recovered destinations past maxDestinations', async () => {
    const store = new MemoryStore()
    const first = await makeBroker({ store, config: config(-1) })
    const s1 = conn(first.broker)
    for (const q of ['r1', 'r2', 'r3']) await send(s1, `/queue/${q}`, true)
    await first.broker.stop()
    await store.close()
    const { broker } = await makeBroker({ store, config: config(2) })
    expect(broker.metrics().destinations.map((d) => d.destination)).toEqual(['/queue/r1', '/queue/r2', '/queue/r3'])
    const s = conn(broker)
    const sink = sub(s, { destination: '/queue/r1', ack: 'client-individual' })
    await settle()
    await s.nack(sink.got[0]!.ackId)
    expect(broker.metrics().destinations.map((d) => d.destination)).toContain('/queue/ActiveMQ.DLQ')
    expect(await code(send(s, '/queue/new'))).toBe('BROKER_LIMIT')
    await broker.stop()
  })

  test('Broker applies a policy entry maxDestinations to the destinations its pattern matches (defaultEntry: all of its kind)', async () => {
    const policy: DestinationPolicyConfig = {
      entries: [entry({ pattern: 'tmp.>', maxDestinations: 2 })],
      defaultEntry: entry({ kind: null, pattern: null, maxDestinations: 4 }),
    }
    const { broker } = await makeBroker({ config: config(-1, policy) })
    const s = conn(broker)
    await send(s, '/queue/tmp.1')
    await send(s, '/queue/tmp.2')
    expect(await code(send(s, '/queue/tmp.3'))).toBe('BROKER_LIMIT')
    await send(s, '/queue/other.1')
    await send(s, '/queue/other.2')
    // The default entry counts every queue (4 now), as ActiveMQ counts its region.
    expect(await code(send(s, '/queue/other.3'))).toBe('BROKER_LIMIT')
    // Topics are another kind: the default entry's count of topics is 0.
    expect(await code(send(s, '/topic/t1'))).toBeNull()
    await broker.stop()
  })
})

describe('destination GC', () => {
  const gcPolicy = (timeout: number | null): DestinationPolicyConfig => ({
    entries: [
      entry({ pattern: 'gc.>', gcInactiveDestinations: true, inactiveTimeoutBeforeGC: timeout }),
      entry({ kind: 'topic', pattern: '>', gcInactiveDestinations: true, inactiveTimeoutBeforeGC: timeout }),
    ],
    defaultEntry: null,
  })

  test('purgeInactive removes an empty, unused queue only after a sweep marked it and the timeout passed', async () => {
    const clock = new SetClock()
    const { broker } = await makeBroker({ clock, config: config(-1, gcPolicy(5000)) })
    const s = conn(broker)
    const c = sub(s, { destination: '/queue/gc.a' }, 'ga')
    await send(s, '/queue/gc.a')
    await send(s, '/queue/keep')
    await send(s, '/queue/gc.full')
    await settle()
    expect(c.bodies()).toEqual(['x'])
    // With a consumer: in use. Without one but holding a message (gc.full): in use.
    expect(broker.purgeInactive()).toEqual([])
    clock.t += 5000
    expect(broker.purgeInactive()).toEqual([])
    await s.unsubscribe('ga')
    expect(broker.purgeInactive()).toEqual([])
    clock.t += 5000
    expect(broker.purgeInactive()).toEqual(['/queue/gc.a'])
    expect(broker.metrics().destinations.map((d) => d.destination)).toEqual(['/queue/gc.full', '/queue/keep'])
    await broker.stop()
  })

  test('purgeInactive forgets the inactivity mark on any use, and never removes topics with subscriptions', async () => {
    const clock = new SetClock()
    const { broker } = await makeBroker({ clock, config: config(-1, gcPolicy(null)) })
    const s = conn(broker)
    await send(s, '/topic/t.unused')
    sub(s, { destination: '/topic/t.used' })
    const q = sub(s, { destination: '/queue/gc.b' }, 'qb')
    await s.unsubscribe('qb')
    expect(q.got).toEqual([])
    expect(broker.purgeInactive()).toEqual([])
    clock.t += 30_000
    await send(s, '/queue/gc.b') // a send (consumed by nobody, so the queue now holds it) is use
    expect(broker.purgeInactive()).toEqual([])
    clock.t += 30_000
    // Default inactiveTimoutBeforeGC is 60 s since the first sweep: the unused topic goes now, the queue holds a message.
    expect(broker.purgeInactive()).toEqual(['/topic/t.unused'])
    clock.t += 120_000
    expect(broker.purgeInactive()).toEqual([])
    expect(broker.metrics().destinations.map((d) => d.destination)).toEqual(['/queue/gc.b', '/topic/t.used'])
    await broker.stop()
  })

  test('purgeInactive removes at most maxPurgedDestinationsPerSweep per sweep', async () => {
    const clock = new SetClock()
    const { broker } = await makeBroker({ clock, config: config(-1, gcPolicy(1)) })
    const s = conn(broker)
    for (let i = 0; i < 5; i++) await send(s, `/topic/gc${i}`)
    broker.purgeInactive(2)
    clock.t += 10
    expect(broker.purgeInactive(2).length).toBe(2)
    expect(broker.purgeInactive(2).length).toBe(2)
    expect(broker.purgeInactive(2).length).toBe(1)
    expect(broker.metrics().destinations).toEqual([])
    await broker.stop()
  })
})

test('InactivityTracker needs two looks with the same stamp, timeoutMs apart', () => {
  const t = new InactivityTracker()
  expect(t.expired('a', true, 1, 0, 100)).toBe(false)
  expect(t.expired('a', true, 1, 99, 100)).toBe(false)
  expect(t.expired('a', true, 1, 100, 100)).toBe(true)
  expect(t.expired('a', true, 2, 300, 100)).toBe(false)
  t.touch('a')
  expect(t.expired('a', true, 2, 400, 100)).toBe(false)
  expect(t.expired('a', false, 2, 600, 100)).toBe(false)
  expect(t.size).toBe(0)
})
