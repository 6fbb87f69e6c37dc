/**
 * Goal: producer flow control, paging of deep queues, and recovery. Non-persistent sends wait when the broker-wide
 * or per-destination memory limit is reached and resume when consumers free memory (or fail with BROKER_LIMIT under
 * sendFailIfNoSpace / sendFailIfNoSpaceAfterTimeout); persistent messages to
 * stored destinations are paged instead (memory stays bounded) and come back in order; a new Broker built from
 * the same store's recovered state rebuilds queues and durable subscriptions. Method: MemoryStore, small limits,
 * direct session calls; assertions on values, order and memory bounds.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { createMessage } from '../model/index.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import type { StoredMessage } from '../storage/types.ts'
import type { Broker } from './broker.ts'
import { LEAD_PAGE_SIZE, PAGE_SIZE } from './paged-cursor.ts'
import { dec, enc, makeBroker, settle, sub, until, stompView } from './broker-test-kit.ts'

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})
async function setup(opts: Parameters<typeof makeBroker>[0] = {}) {
  const r = await makeBroker(opts)
  brokers.push(r.broker)
  return r
}
const conn = (b: Broker, clientId?: string) => stompView(b.connect({ remoteAddress: 'x', protocol: 'test', clientId }))

/** Counts messages handed out by load() so tests can see paging happen. */
class CountingStore extends MemoryStore {
  loads = 0
  /** The `limit` of each load(), in order. */
  limits: number[] = []
  override async load(d: string, after: number, limit: number): Promise<StoredMessage[]> {
    this.loads++
    this.limits.push(limit)
    return super.load(d, after, limit)
  }
}

describe('Broker flow control', () => {
  test('Broker blocks a non-persistent producer at the destination limit until a consumer frees memory', async () => {
    const { broker } = await setup({ limits: { destinationMemoryLimit: 2000 } })
    const s = conn(broker)
    const body = new Uint8Array(800)
    await s.send({ destination: '/queue/FC', headers: {}, body })
    await s.send({ destination: '/queue/FC', headers: {}, body })
    let third = false
    const p = s.send({ destination: '/queue/FC', headers: {}, body }).then(() => {
      third = true
    })
    await settle()
    expect(third).toBe(false)
    // Another producer on another destination is not blocked by this one's limit.
    await conn(broker).send({ destination: '/queue/OTHER', headers: {}, body })
    expect(broker.metrics().memoryBytes).toBeLessThanOrEqual(2000 + 1000)
    const c = conn(broker)
    const k = sub(c, { destination: '/queue/FC' })
    await p
    expect(third).toBe(true)
    await until(() => k.got.length === 3, 'all three consumed')
  })

  test('Broker fails a send at a full destination with BROKER_LIMIT at once under sendFailIfNoSpace', async () => {
    const { broker } = await setup({ limits: { destinationMemoryLimit: 2000, sendFailIfNoSpace: true } })
    const s = conn(broker)
    const body = new Uint8Array(800)
    await s.send({ destination: '/queue/FULL', headers: {}, body })
    await s.send({ destination: '/queue/FULL', headers: {}, body })
    const err = await s.send({ destination: '/queue/FULL', headers: {}, body }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isBrokerError(err, 'BROKER_LIMIT')).toBe(true)
    expect(broker.destinationMemoryBytes('/queue/FULL')).toBeLessThanOrEqual(2000)
    // Once a consumer frees memory, sends go through again.
    const k = sub(conn(broker), { destination: '/queue/FULL' })
    await until(() => k.got.length === 2, 'both consumed')
    await s.send({ destination: '/queue/FULL', headers: {}, body })
  })

  test('Broker fails a waiting send with BROKER_LIMIT after sendFailIfNoSpaceAfterTimeout, and a freed one goes through', async () => {
    const { broker } = await setup({ limits: { destinationMemoryLimit: 2000, sendFailIfNoSpaceAfterTimeout: 50 } })
    const s = conn(broker)
    const body = new Uint8Array(800)
    await s.send({ destination: '/queue/TO', headers: {}, body })
    await s.send({ destination: '/queue/TO', headers: {}, body })
    const t0 = performance.now()
    const err = await s.send({ destination: '/queue/TO', headers: {}, body }).then(
      () => null,
      (e: unknown) => e,
    )
    expect(isBrokerError(err, 'BROKER_LIMIT')).toBe(true)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40)
    // A send that gets memory within the timeout succeeds (its timer is cleared).
    const p = s.send({ destination: '/queue/TO', headers: {}, body })
    const k = sub(conn(broker), { destination: '/queue/TO' })
    await p
    await until(() => k.got.length === 3, 'all three consumed')
  })

  test('Broker blocks at the broker-wide limit across destinations, FIFO', async () => {
    const { broker } = await setup({ limits: { memoryLimit: 3000 } })
    const s = conn(broker)
    const body = new Uint8Array(800) // about 900 bytes with headers: three fit, a fourth does not
    for (let i = 0; i < 3; i++) await s.send({ destination: `/queue/W${i}`, headers: {}, body })
    const order: number[] = []
    const ps = [3, 4].map((i) => s.send({ destination: `/queue/W${i}`, headers: {}, body }).then(() => order.push(i)))
    await settle()
    expect(order).toEqual([])
    const c = conn(broker)
    sub(c, { destination: '/queue/W0' })
    sub(c, { destination: '/queue/W1' })
    await Promise.all(ps)
    expect(order).toEqual([3, 4])
  })

  test('Broker rejects a blocked send when its session closes', async () => {
    const { broker } = await setup({ limits: { destinationMemoryLimit: 1000 } })
    const s = conn(broker)
    await s.send({ destination: '/queue/X', headers: {}, body: new Uint8Array(900) })
    const p = s.send({ destination: '/queue/X', headers: {}, body: new Uint8Array(900) })
    await settle()
    await s.close()
    let err: unknown
    try {
      await p
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'BROKER_SESSION_CLOSED')).toBe(true)
  })

  test('Broker applies a NACK at once while a send of the same session waits for the memory that NACK frees', async () => {
    // A session consuming and producing on one full destination: its NACK (a poison ack; a non-persistent message
    // is dropped, not dead-lettered) must not queue behind its own blocked send, or neither ever completes.
    const { broker } = await setup({ limits: { destinationMemoryLimit: 1000 } })
    const s = conn(broker)
    await s.send({ destination: '/queue/N', headers: {}, body: new Uint8Array(900) })
    const k = sub(s, { destination: '/queue/N', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'the first message delivered')
    let sent = false
    const p = s.send({ destination: '/queue/N', headers: {}, body: new Uint8Array(900) }).then(() => {
      sent = true
    })
    await settle()
    expect(sent).toBe(false)
    await s.nack(k.got[0]!.ackId)
    await p
    expect(sent).toBe(true)
    await until(() => k.got.length === 2, 'the second message delivered')
    expect(k.got[1]!.redelivered).toBe(false)
  })

  test('Broker pages persistent messages of a deep queue and delivers them all in order with bounded memory', async () => {
    const store = new CountingStore()
    const limit = 64 * 1024
    const { broker } = await setup({ store, limits: { memoryLimit: limit, destinationMemoryLimit: limit } })
    const s = conn(broker)
    const n = 3000
    let maxMem = 0
    for (let i = 0; i < n; i++) {
      await s.send({
        destination: '/queue/DEEP',
        headers: { persistent: 'true', n: String(i) },
        body: new Uint8Array(200),
      })
      maxMem = Math.max(maxMem, broker.metrics().memoryBytes)
    }
    expect(maxMem).toBeLessThanOrEqual(limit)
    expect(broker.metrics().destinations.find((d) => d.destination === '/queue/DEEP')!.depth).toBe(n)
    const c = conn(broker)
    const got: number[] = []
    c.subscribe({ id: 'd', destination: '/queue/DEEP', ack: 'client-individual', prefetch: 50 }, (d) => {
      got.push(Number(d.headers.n))
      maxMem = Math.max(maxMem, broker.metrics().memoryBytes)
      queueMicrotask(() => void c.ack(d.ackId))
    })
    await until(() => got.length === n, `all ${n} paged messages delivered`, 20_000)
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(store.loads).toBeGreaterThan(1)
    expect(maxMem).toBeLessThanOrEqual(limit * 1.5)
    await until(() => store.stats().messages === 0, 'all removed from the store')
  })
})

describe('Broker paging after a restart (a takeover)', () => {
  test('Broker reads a recovered queue first as a lead page of LEAD_PAGE_SIZE, then whole pages, and delivers all in order', async () => {
    const store = new CountingStore()
    const first = await setup({ store })
    const s = conn(first.broker)
    const n = 450
    for (let i = 0; i < n; i++)
      await s.send({ destination: '/queue/LEAD', headers: { persistent: 'true', n: String(i) }, body: enc('x') })
    await first.broker.stop()
    await store.close()
    store.limits = []
    const { broker } = await setup({ store })
    const c = conn(broker)
    const got: number[] = []
    c.subscribe({ id: 'l', destination: '/queue/LEAD', ack: 'client-individual', prefetch: 1000 }, (d) => {
      got.push(Number(d.headers.n))
    })
    await until(() => got.length === n, `all ${n} recovered messages delivered`)
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(store.limits[0]).toBe(LEAD_PAGE_SIZE)
    expect(store.limits.slice(1).every((l) => l === PAGE_SIZE)).toBe(true)
    expect(store.limits.length).toBeGreaterThanOrEqual(1 + Math.ceil((n - LEAD_PAGE_SIZE) / PAGE_SIZE))
  })
})

describe('Broker browsing a paged queue', () => {
  test('Broker browser reads paged messages from the store without consuming them', async () => {
    const limit = 16 * 1024
    const { broker, store } = await setup({ limits: { memoryLimit: limit, destinationMemoryLimit: limit } })
    const s = conn(broker)
    for (let i = 0; i < 400; i++)
      await s.send({
        destination: '/queue/BP',
        headers: { persistent: 'true', n: String(i) },
        body: new Uint8Array(100),
      })
    const seen: number[] = []
    let ended = false
    s.subscribe({ id: 'b', destination: '/queue/BP', ack: 'auto', browser: true }, (d) => {
      if (d.browserEnd) ended = true
      else seen.push(Number(d.headers.n))
    })
    await until(() => ended, 'browser end')
    expect(seen).toEqual(Array.from({ length: 400 }, (_, i) => i))
    expect(store.stats().messages).toBe(400)
    expect(broker.metrics().destinations.find((d) => d.destination === '/queue/BP')!.depth).toBe(400)
  })
})

describe('Broker recovery', () => {
  test('Broker rebuilds queues and durable subscriptions from the store, paging a deep backlog in order', async () => {
    const store = new CountingStore()
    const limits = { memoryLimit: 32 * 1024, destinationMemoryLimit: 32 * 1024 }
    const first = await setup({ store, limits })
    const p = conn(first.broker)
    const d = conn(first.broker, 'dur-client')
    sub(d, { destination: '/topic/EVENTS', durableName: 'audit', selector: "kind = 'keep'" }, 'a')
    await d.close()
    for (let i = 0; i < 1000; i++)
      await p.send({
        destination: '/queue/ORDERS',
        headers: { persistent: 'true', n: String(i) },
        body: new Uint8Array(100),
      })
    for (let i = 0; i < 5; i++)
      await p.send({
        destination: '/topic/EVENTS',
        headers: { persistent: 'true', kind: i % 2 ? 'drop' : 'keep', n: String(i) },
        body: enc(`e${i}`),
      })
    await p.send({ destination: '/queue/ORDERS', headers: {}, body: enc('non-persistent is lost on restart') })
    await first.broker.stop()

    const second = await setup({ store, limits })
    const m = second.broker.metrics()
    expect(m.destinations.find((x) => x.destination === '/queue/ORDERS')!.depth).toBe(1000)
    expect(second.broker.durableSubscriptions()).toEqual([
      { clientId: 'dur-client', subscriptionName: 'audit', destination: '/topic/EVENTS', active: false, depth: 3 },
    ])
    const c = conn(second.broker, 'dur-client')
    // New messages after the restart come after the recovered ones.
    await c.send({
      destination: '/queue/ORDERS',
      headers: { persistent: 'true', n: '1000' },
      body: new Uint8Array(100),
    })
    const got: number[] = []
    c.subscribe({ id: 'o', destination: '/queue/ORDERS', ack: 'client', prefetch: 100 }, (dl) => {
      got.push(Number(dl.headers.n))
      if (got.length % 50 === 0) queueMicrotask(() => void c.ack(dl.ackId))
    })
    await until(() => got.length === 1001, 'recovered backlog delivered', 20_000)
    expect(got).toEqual(Array.from({ length: 1001 }, (_, i) => i))
    const ev = sub(c, { destination: '/topic/EVENTS', durableName: 'audit', selector: "kind = 'keep'" }, 'a2')
    await until(() => ev.got.length === 3, 'durable backlog')
    expect(ev.bodies()).toEqual(['e0', 'e2', 'e4'])
    await settle()
    expect(ev.got.length).toBe(3)
  })

  test('Broker recovery purges stored messages of a durable subscription without a record', async () => {
    const store = new MemoryStore()
    await store.open({ directory: ':memory:', epoch: 1 })
    await store.write([
      {
        op: 'add',
        destination: 'durable://ghost:sub',
        message: createMessage({
          messageId: 'g1',
          destination: { kind: 'topic', name: 'G' },
          timestamp: 1,
          body: enc('g'),
        }),
      },
    ])
    await store.close()
    await setup({ store })
    expect(store.stats().messages).toBe(0)
  })

  test('Broker recovery restores a recovered message with its headers', async () => {
    const store = new MemoryStore()
    const first = await setup({ store })
    await conn(first.broker).send({
      destination: '/queue/H',
      headers: { persistent: 'true', priority: '8', color: 'red', 'message-id': 'my-id' },
      body: enc('body'),
    })
    await first.broker.stop()
    const second = await setup({ store })
    const k = sub(conn(second.broker), { destination: '/queue/H' })
    await until(() => k.got.length === 1, 'delivered')
    expect(k.got[0]!.messageId).toBe('my-id')
    expect(k.got[0]!.headers.priority).toBe('8')
    expect(k.got[0]!.headers.color).toBe('red')
    expect(dec(k.got[0]!.body)).toBe('body')
  })

  test('Broker marks recovered messages redelivered (an earlier primary may have dispatched them), new ones not', async () => {
    const store = new MemoryStore()
    const first = await setup({ store })
    const p1 = conn(first.broker)
    await p1.send({ destination: '/queue/R', headers: { persistent: 'true', n: 'old' }, body: enc('old') })
    await first.broker.stop()
    const second = await setup({ store })
    const p2 = conn(second.broker)
    await p2.send({ destination: '/queue/R', headers: { persistent: 'true', n: 'new' }, body: enc('new') })
    const k = sub(conn(second.broker), { destination: '/queue/R' })
    await until(() => k.got.length === 2, 'both delivered')
    expect(k.got.map((d) => [d.headers.n, d.redelivered, d.headers.redelivered ?? 'absent'])).toEqual([
      ['old', true, 'true'],
      ['new', false, 'absent'],
    ])
  })
})
