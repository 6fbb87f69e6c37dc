/**
 * Goal: the broker applies `<destinationPolicy>` entries from its config: a matching entry's memoryLimit is that
 * destination's flow-control limit (others keep limits.destinationMemoryLimit), and its prefetch settings become
 * the default prefetch of consumers that asked for none or for exactly ActiveMQ's default.
 * Method: Broker over a MemoryStore with a hand-built policy; non-persistent sends and direct session calls;
 * assertions on which sends complete and how many messages a consumer holds unacked. No timing assertion.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { DestinationPolicyConfig, PolicyEntryConfig } from '../config/types.ts'
import type { Broker } from './broker.ts'
import { makeBroker, settle, sub, testConfig, until, stompView } from './broker-test-kit.ts'

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})

function entry(kind: 'queue' | 'topic', pattern: string, over: Partial<PolicyEntryConfig>): PolicyEntryConfig {
  return {
    kind,
    pattern,
    memoryLimit: null,
    queuePrefetch: null,
    queueBrowserPrefetch: null,
    topicPrefetch: null,
    durableTopicPrefetch: null,
    ...over,
  }
}

async function setup(policy: DestinationPolicyConfig): Promise<Broker> {
  const { broker } = await makeBroker({
    config: { ...testConfig({ destinationMemoryLimit: 1 << 20 }), destinationPolicy: policy },
  })
  brokers.push(broker)
  return broker
}
const conn = (b: Broker) => stompView(b.connect({ remoteAddress: 'x', protocol: 'test' }))

describe('Broker destination policy', () => {
  test('Broker blocks a producer at the memoryLimit of the policy entry matching its queue by name', async () => {
    const broker = await setup({ entries: [entry('queue', 'orders.*', { memoryLimit: 2000 })], defaultEntry: null })
    const s = conn(broker)
    const body = new Uint8Array(800)
    // Not matched ("orders.>" would be; "orders.*" needs exactly two segments): the 1 MiB default applies.
    for (let i = 0; i < 5; i++) await s.send({ destination: '/queue/orders.eu.late', headers: {}, body })
    await s.send({ destination: '/queue/orders.eu', headers: {}, body })
    await s.send({ destination: '/queue/orders.eu', headers: {}, body })
    let third = false
    const p = s.send({ destination: '/queue/orders.eu', headers: {}, body }).then(() => {
      third = true
    })
    await settle()
    expect(third).toBe(false)
    const k = sub(conn(broker), { destination: '/queue/orders.eu' })
    await p
    expect(third).toBe(true)
    await until(() => k.got.length === 3, 'all three consumed')
  })

  test('Broker uses the policy prefetch for consumers that ask for none or for the default', async () => {
    const broker = await setup({
      entries: [entry('queue', '>', { queuePrefetch: 2 }), entry('topic', '>', { topicPrefetch: 1 })],
      defaultEntry: null,
    })
    const p = conn(broker)
    for (let i = 0; i < 6; i++) await p.send({ destination: '/queue/Q', headers: {}, body: new Uint8Array(1) })
    const c = conn(broker)
    const none = sub(c, { destination: '/queue/Q', ack: 'client-individual' })
    await until(() => none.got.length === 2, 'two prefetched')
    const asDefault = sub(c, { destination: '/queue/Q', ack: 'client-individual', prefetch: 1000 })
    await until(() => asDefault.got.length === 2, 'the default prefetch replaced by the policy')
    const own = sub(c, { destination: '/queue/Q', ack: 'client-individual', prefetch: 1 })
    await until(() => own.got.length === 1, 'an explicit prefetch kept')
    await settle()
    expect([none.got.length, asDefault.got.length, own.got.length]).toEqual([2, 2, 1])
    // Acking frees one slot: the next message goes out.
    await c.ack(none.got[0]!.ackId)
    await until(() => none.got.length === 3, 'one more after an ack')

    const t = sub(c, { destination: '/topic/T', ack: 'client' })
    for (let i = 0; i < 3; i++) await p.send({ destination: '/topic/T', headers: {}, body: new Uint8Array(1) })
    await until(() => t.got.length === 1, 'topic prefetch 1')
    await settle()
    expect(t.got.length).toBe(1)
  })
})
