/**
 * Goal: prefetch 0 consumers pull (ActiveMQ's MessagePull) and poison acks carry their cause to the DLQ. Method: a
 * Broker over a MemoryStore; deliveries recorded by Sinks; "nothing more was dispatched" is checked after settle(),
 * which runs the dispatch microtasks (dispatch is synchronous once scheduled, so no timing is involved).
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import type { Broker } from './broker.ts'
import { makeBroker, settle, stompView, sub, until } from './broker-test-kit.ts'
import { PULL_CREDIT_MAX } from './consumer.ts'
import { DLQ_CAUSE_CHARS_MAX } from './dead-letter.ts'

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})
async function setup() {
  const r = await makeBroker()
  brokers.push(r.broker)
  return r
}
const conn = (b: Broker) => stompView(b.connect({ remoteAddress: '127.0.0.1:1', protocol: 'test' }))

function expectCode(f: () => unknown, code: string): void {
  let err: unknown
  try {
    f()
  } catch (e) {
    err = e
  }
  if (!isBrokerError(err) || err.code !== code) throw new Error(`expected ${code}, got ${err}`)
}

async function fill(s: ReturnType<typeof conn>, queue: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await s.send({ destination: queue, headers: { persistent: 'true' }, body: enc(`m${i}`) })
}
const enc = (t: string) => new TextEncoder().encode(t)

describe('Broker prefetch 0 (pull)', () => {
  test('Session.pull a prefetch 0 consumer receives nothing until it pulls, then one message per pull', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    await fill(s, '/queue/P1', 3)
    const k = sub(s, { destination: '/queue/P1', ack: 'client-individual', prefetch: 0 }, 'c1')
    await settle()
    expect(k.got.length).toBe(0)
    s.pull('c1')
    await until(() => k.got.length === 1, 'first pull')
    await settle()
    expect(k.bodies()).toEqual(['m0'])
    // Acking does not grant credit: prefetch 0 has no window.
    await s.ack(k.got[0]!.ackId)
    await settle()
    expect(k.got.length).toBe(1)
    s.pull('c1', 2)
    await until(() => k.got.length === 3, 'pull of two')
    expect(k.bodies()).toEqual(['m0', 'm1', 'm2'])
  })

  test('Session.pull a message goes only to the consumer that pulled; the idle one keeps none', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const s2 = conn(broker)
    await fill(s, '/queue/P2', 3)
    const a = sub(s, { destination: '/queue/P2', ack: 'auto', prefetch: 0 }, 'a')
    const b = sub(s2, { destination: '/queue/P2', ack: 'auto', prefetch: 0 }, 'b')
    s.pull('a')
    await until(() => a.got.length === 1, 'a pulled')
    s2.pull('b')
    await until(() => b.got.length === 1, 'b pulled')
    s2.pull('b')
    await until(() => b.got.length === 2, 'b pulled again')
    await settle()
    expect(a.bodies()).toEqual(['m0'])
    expect(b.bodies()).toEqual(['m1', 'm2'])
  })

  test('Session.cancelPull takes the unused credit back at once; a later message waits for the next pull', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/P3', ack: 'client-individual', prefetch: 0 }, 'c')
    s.pull('c', 3)
    expect(s.cancelPull('c')).toBe(3)
    expect(s.cancelPull('c')).toBe(0)
    await fill(s, '/queue/P3', 1)
    await settle()
    expect(k.got.length).toBe(0)
    // Another consumer of the queue can have it meanwhile.
    const other = sub(s, { destination: '/queue/P3', ack: 'auto' }, 'other')
    await until(() => other.got.length === 1, 'other consumer')
    expect(k.got.length).toBe(0)
  })

  test('Session.pull a pull consumer on a topic gets what was published after it subscribed, when it pulls', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/topic/PT', ack: 'auto', prefetch: 0 }, 't')
    await s.send({ destination: '/topic/PT', headers: {}, body: enc('t0') })
    await settle()
    expect(k.got.length).toBe(0)
    s.pull('t')
    await until(() => k.got.length === 1, 'topic pull')
    expect(k.bodies()).toEqual(['t0'])
  })

  test('Session.pull refuses unknown and non-pull consumers and credit past PULL_CREDIT_MAX', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    sub(s, { destination: '/queue/P4', ack: 'auto', prefetch: 5 }, 'push')
    sub(s, { destination: '/queue/P4', ack: 'auto', prefetch: 0 }, 'pull')
    expectCode(() => s.pull('nope'), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => s.pull('push'), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => s.cancelPull('push'), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => s.pull('pull', 0), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => s.pull('pull', 1.5), 'BROKER_SUBSCRIPTION_INVALID')
    s.pull('pull', PULL_CREDIT_MAX)
    expectCode(() => s.pull('pull'), 'BROKER_SUBSCRIPTION_INVALID')
    expect(s.cancelPull('pull')).toBe(PULL_CREDIT_MAX)
  })

  test('Session.subscribe refuses prefetch 0 for a browser, and a negative prefetch', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    expectCode(() => sub(s, { destination: '/queue/P5', browser: true, prefetch: 0 }), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => sub(s, { destination: '/queue/P5', prefetch: -1 }), 'BROKER_SUBSCRIPTION_INVALID')
  })

  test('Session.setPrefetch a pull consumer made a push consumer receives without pulls, credit dropped', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    await fill(s, '/queue/P6', 4)
    const k = sub(s, { destination: '/queue/P6', ack: 'client-individual', prefetch: 0 }, 'c')
    await settle()
    expect(k.got.length).toBe(0)
    s.setPrefetch('c', 2)
    await until(() => k.got.length === 2, 'window of two')
    await settle()
    expect(k.got.length).toBe(2)
    expectCode(() => s.pull('c'), 'BROKER_SUBSCRIPTION_INVALID')
    await s.ack(k.got[0]!.ackId)
    await until(() => k.got.length === 3, 'window moved')
    expectCode(() => s.setPrefetch('c', -1), 'BROKER_SUBSCRIPTION_INVALID')
    expectCode(() => s.setPrefetch('nope', 1), 'BROKER_SUBSCRIPTION_INVALID')
  })
})

describe('Broker poison ack cause', () => {
  test('Session.nack with a cause puts it on the DLQ copy as dlqDeliveryFailureCause', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/PC', ack: 'client-individual' }, 'c')
    await fill(s, '/queue/PC', 2)
    await until(() => k.got.length === 2, 'delivered')
    await s.nack(k.got[0]!.ackId, undefined, 'java.lang.Throwable: listener threw boom')
    s.begin('t')
    await s.nack(k.got[1]!.ackId, 't', 'x'.repeat(DLQ_CAUSE_CHARS_MAX + 10))
    await s.commit('t')
    const dlq = sub(s, { destination: '/queue/ActiveMQ.DLQ' }, 'dlq')
    await until(() => dlq.got.length === 2, 'dlq')
    expect(dlq.got[0]!.headers.dlqDeliveryFailureCause).toBe('java.lang.Throwable: listener threw boom')
    const long = dlq.got[1]!.headers.dlqDeliveryFailureCause!
    expect(long.length).toBe(DLQ_CAUSE_CHARS_MAX)
    expect(long.endsWith('…')).toBe(true)
  })

  test('Session.nack aborted with its cause: the message is unacked again, and a later NACK without one says so', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/PA', ack: 'client-individual' }, 'c')
    await fill(s, '/queue/PA', 1)
    await until(() => k.got.length === 1, 'delivered')
    s.begin('t')
    await s.nack(k.got[0]!.ackId, 't', 'first cause')
    await s.abort('t')
    await s.nack(k.got[0]!.ackId)
    const dlq = sub(s, { destination: '/queue/ActiveMQ.DLQ' }, 'dlq')
    await until(() => dlq.got.length === 1, 'dlq')
    expect(dlq.got[0]!.headers.dlqDeliveryFailureCause).toContain('NACK')
  })
})
