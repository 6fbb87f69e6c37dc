/**
 * Goal: the Broker's ActiveMQ semantics for destinations, dispatch and acknowledgement, driven through direct
 * BrokerSession calls over a MemoryStore (no sockets). Each test states one behaviour; assertions are on
 * delivered values, order and store contents, never on speed.
 */
import { fromStompSend } from '../protocol/stomp/message-mapping.ts'
import { afterEach, describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import type { Broker } from './broker.ts'
import { labelOf } from './destination.ts'
import { dec, enc, makeBroker, settle, Sink, sub, until, stompView } from './broker-test-kit.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import type { StoreOp, WriteResult } from '../storage/types.ts'

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
const conn = (b: Broker, clientId?: string) =>
  stompView(b.connect({ remoteAddress: '127.0.0.1:1', protocol: 'test', clientId }))

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  let err: unknown
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    err = e
  }
  if (!isBrokerError(err) || err.code !== code) throw new Error(`expected ${code}, got ${err}`)
}

describe('Broker destinations', () => {
  test('Broker rejects bad destination names with BROKER_DESTINATION_INVALID', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (const d of [
      '',
      'queue/A',
      '/queue/',
      '/topic/',
      '/queue/A.*',
      '/topic/A.>',
      '/queue/A,B',
      '/foo/A',
      '/queue/a\u0001b',
    ]) {
      await expectCode(s.send({ destination: d, headers: {}, body: enc('x') }), 'BROKER_DESTINATION_INVALID')
      // A topic wildcard is a subscription filter now (plugin-seams.test.ts); everything else stays refused.
      if (d === '/topic/A.>') continue
      await expectCode(
        () => s.subscribe({ id: 'x' + d, destination: d, ack: 'auto' }, () => {}),
        'BROKER_DESTINATION_INVALID',
      )
    }
  })

  test('Broker queue delivers each message to one consumer, round robin', async () => {
    const { broker } = await setup()
    const p = conn(broker),
      c1 = conn(broker),
      c2 = conn(broker)
    const a = sub(c1, { destination: '/queue/RR' }),
      b = sub(c2, { destination: '/queue/RR' })
    for (let i = 0; i < 10; i++) await p.send({ destination: '/queue/RR', headers: {}, body: enc(String(i)) })
    await until(() => a.got.length + b.got.length === 10, 'all delivered')
    expect(a.got.length).toBe(5)
    expect(b.got.length).toBe(5)
    expect([...a.bodies(), ...b.bodies()].sort((x, y) => +x - +y)).toEqual([
      '0',
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
      '7',
      '8',
      '9',
    ])
  })

  test('Broker delivery headers carry message-id, destination, timestamp, expires, priority, persistent and properties', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/H' })
    await s.send({
      destination: '/queue/H',
      headers: {
        persistent: 'true',
        'correlation-id': 'c1',
        'reply-to': '/queue/R',
        type: 't1',
        color: 'red',
        'content-type': 'text/plain',
      },
      body: enc('x'),
    })
    await until(() => k.got.length === 1, 'delivery')
    const h = k.got[0]!.headers
    expect(h.destination).toBe('/queue/H')
    expect(h['message-id']).toMatch(/^ID:.+-\d+-\d+-\d+:\d+$/)
    expect(k.got[0]!.messageId).toBe(h['message-id']!)
    expect(Number(h.timestamp)).toBeGreaterThan(0)
    expect(h.expires).toBe('0')
    expect(h.priority).toBe('4')
    expect(h.persistent).toBe('true')
    expect(h['correlation-id']).toBe('c1')
    expect(h['reply-to']).toBe('/queue/R')
    expect(h.type).toBe('t1')
    expect(h.color).toBe('red')
    expect(h['content-type']).toBe('text/plain')
    expect(h.redelivered).toBeUndefined()
  })

  test('Broker rejects bad priority, expires and persistent headers with BROKER_HEADER_INVALID', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (const headers of [
      { priority: '10' },
      { priority: 'high' },
      { expires: '-1' },
      { expires: 'soon' },
      { persistent: 'yes' },
    ] as Record<string, string>[]) {
      await expectCode(s.send({ destination: '/queue/A', headers, body: enc('x') }), 'BROKER_HEADER_INVALID')
    }
  })

  test('Broker persistent sends are stored before send() resolves; non-persistent ones are not stored', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/P', headers: { persistent: 'true' }, body: enc('p') })
    expect(store.stats().messages).toBe(1)
    expect((await store.load('queue://P', 0, 10)).map((m) => dec(m.message.body))).toEqual(['p'])
    await s.send({ destination: '/queue/P', headers: {}, body: enc('np') })
    expect(store.stats().messages).toBe(1)
    const k = sub(s, { destination: '/queue/P', ack: 'client-individual' })
    await until(() => k.got.length === 2, 'both delivered')
    await s.ack(k.got[0]!.ackId)
    expect(store.stats().messages).toBe(0)
  })

  test('Broker delivers higher priority first within a queue', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (const p of [1, 4, 9, 0, 7])
      await s.send({ destination: '/queue/PRI', headers: { priority: String(p) }, body: enc(String(p)) })
    const k = sub(s, { destination: '/queue/PRI' })
    await until(() => k.got.length === 5, 'delivered')
    expect(k.bodies()).toEqual(['9', '7', '4', '1', '0'])
  })

  test('Broker topic gives every subscriber a copy; non-durable subscribers miss messages sent before', async () => {
    const { broker } = await setup()
    const p = conn(broker),
      c1 = conn(broker),
      c2 = conn(broker)
    const a = sub(c1, { destination: '/topic/T' })
    await p.send({ destination: '/topic/T', headers: {}, body: enc('1') })
    const b = sub(c2, { destination: '/topic/T' })
    await p.send({ destination: '/topic/T', headers: {}, body: enc('2') })
    await until(() => a.got.length === 2 && b.got.length === 1, 'fanout')
    expect(a.bodies()).toEqual(['1', '2'])
    expect(b.bodies()).toEqual(['2'])
    await c1.unsubscribe(a.got[0]!.subscriptionId)
    await p.send({ destination: '/topic/T', headers: {}, body: enc('3') })
    await until(() => b.got.length === 2, 'b gets 3')
    await settle()
    expect(a.got.length).toBe(2)
  })

  test('Broker topic subscription selector and noLocal filter at routing', async () => {
    const { broker } = await setup()
    const p = conn(broker),
      c = conn(broker)
    const red = sub(c, { destination: '/topic/S', selector: "color = 'red'" })
    const local = sub(p, { destination: '/topic/S', noLocal: true })
    const all = sub(c, { destination: '/topic/S' })
    await p.send({ destination: '/topic/S', headers: { color: 'red' }, body: enc('r') })
    await p.send({ destination: '/topic/S', headers: { color: 'blue' }, body: enc('b') })
    await c.send({ destination: '/topic/S', headers: { color: 'red' }, body: enc('r2') })
    await until(() => all.got.length === 3, 'all')
    await settle()
    expect(red.bodies()).toEqual(['r', 'r2'])
    expect(local.bodies()).toEqual(['r2'])
  })

  test('Broker queue selector: a consumer gets only matching messages, others stay for other consumers', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (const [i, c] of [
      [1, 'red'],
      [2, 'blue'],
      [3, 'red'],
    ] as const)
      await s.send({ destination: '/queue/SEL', headers: { color: c, n: String(i) }, body: enc(String(i)) })
    const red = sub(s, { destination: '/queue/SEL', selector: "color = 'red' AND n > 0" })
    await until(() => red.got.length === 2, 'red')
    await settle()
    expect(red.bodies()).toEqual(['1', '3'])
    const any = sub(s, { destination: '/queue/SEL' })
    await until(() => any.got.length === 1, 'blue')
    expect(any.bodies()).toEqual(['2'])
    await expectCode(
      () => s.subscribe({ id: 'bad', destination: '/queue/SEL', ack: 'auto', selector: 'a = ' }, () => {}),
      'BROKER_SELECTOR_INVALID',
    )
  })

  test('Broker temp queue lives while its creating session lives; others may send to it', async () => {
    const { broker } = await setup()
    const owner = conn(broker),
      other = conn(broker)
    const k = sub(owner, { destination: '/temp-queue/reply' })
    await other.send({ destination: '/temp-queue/reply', headers: { persistent: 'true' }, body: enc('hi') })
    await until(() => k.got.length === 1, 'reply')
    expect(broker.metrics().destinations.some((d) => d.destination === '/temp-queue/reply')).toBe(true)
    await owner.close()
    expect(broker.metrics().destinations.some((d) => d.destination === '/temp-queue/reply')).toBe(false)
  })

  test('Broker client-id may be connected once', async () => {
    const { broker } = await setup()
    const a = conn(broker, 'C1')
    await expectCode(() => conn(broker, 'C1'), 'BROKER_CLIENT_ID_IN_USE')
    await a.close()
    conn(broker, 'C1')
  })
})

describe('Broker dispatch policies', () => {
  test('Broker respects prefetch: no more than prefetch unacked deliveries per consumer', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/PF', ack: 'client-individual', prefetch: 3 })
    for (let i = 0; i < 10; i++) await s.send({ destination: '/queue/PF', headers: {}, body: enc(String(i)) })
    await until(() => k.got.length === 3, 'three')
    await settle()
    expect(k.got.length).toBe(3)
    await s.ack(k.got[1]!.ackId)
    await until(() => k.got.length === 4, 'one more after ack')
    await settle()
    expect(k.got.length).toBe(4)
    await expectCode(
      () => s.subscribe({ id: 'z', destination: '/queue/PF', ack: 'auto', prefetch: -1 }, () => {}),
      'BROKER_SUBSCRIPTION_INVALID',
    )
  })

  test('Broker prefers higher consumer priority while it has credit', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const low = sub(s, { destination: '/queue/CP', ack: 'client-individual', priority: 1 })
    const high = sub(s, { destination: '/queue/CP', ack: 'client-individual', priority: 5, prefetch: 2 })
    for (let i = 0; i < 5; i++) await s.send({ destination: '/queue/CP', headers: {}, body: enc(String(i)) })
    await until(() => low.got.length + high.got.length === 5, 'all')
    expect(high.bodies()).toEqual(['0', '1'])
    expect(low.bodies()).toEqual(['2', '3', '4'])
  })

  test('Broker exclusive consumer receives everything; the next takes over when it closes', async () => {
    const { broker } = await setup()
    const s = conn(broker),
      s2 = conn(broker)
    const normal = sub(s, { destination: '/queue/EX' })
    const ex = sub(s2, { destination: '/queue/EX', exclusive: true, ack: 'client-individual' }, 'ex')
    for (let i = 0; i < 4; i++) await s.send({ destination: '/queue/EX', headers: {}, body: enc(String(i)) })
    await until(() => ex.got.length === 4, 'exclusive gets all')
    await settle()
    expect(normal.got.length).toBe(0)
    await s2.close() // unacked go back and go to the remaining consumer, redelivered
    await until(() => normal.got.length === 4, 'redelivered to normal')
    expect(normal.bodies()).toEqual(['0', '1', '2', '3'])
    expect(normal.got.every((d) => d.redelivered && d.headers.redelivered === 'true')).toBe(true)
  })

  test('Broker message groups stick to one consumer until it closes', async () => {
    const { broker } = await setup()
    const s1 = conn(broker),
      s2 = conn(broker),
      p = conn(broker)
    const a = sub(s1, { destination: '/queue/G' }),
      b = sub(s2, { destination: '/queue/G' })
    for (let i = 0; i < 12; i++)
      await p.send({ destination: '/queue/G', headers: { JMSXGroupID: i % 2 ? 'odd' : 'even' }, body: enc(String(i)) })
    await until(() => a.got.length + b.got.length === 12, 'all')
    const groupsOf = (k: Sink) => new Set(k.got.map((d) => d.headers.JMSXGroupID))
    expect(groupsOf(a).size).toBe(1)
    expect(groupsOf(b).size).toBe(1)
    expect([...groupsOf(a), ...groupsOf(b)].sort()).toEqual(['even', 'odd'])
    expect(a.got[0]!.headers.JMSXGroupFirstForConsumer).toBe('true')
    const aGroup = [...groupsOf(a)][0]!
    await s1.close()
    await p.send({ destination: '/queue/G', headers: { JMSXGroupID: aGroup }, body: enc('x') })
    await until(() => b.got.length === 7, 'b takes over the group')
  })

  test('Broker pauses dispatch to a paused session and resumes', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/PA' })
    s.setDispatchPaused(true)
    await s.send({ destination: '/queue/PA', headers: {}, body: enc('1') })
    await settle()
    expect(k.got.length).toBe(0)
    s.setDispatchPaused(false)
    await until(() => k.got.length === 1, 'resumed')
  })
})

describe('Broker acknowledgement', () => {
  test('Broker client ack is cumulative per subscription', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/CA', ack: 'client' })
    for (let i = 0; i < 5; i++)
      await s.send({ destination: '/queue/CA', headers: { persistent: 'true' }, body: enc(String(i)) })
    await until(() => k.got.length === 5, 'delivered')
    await s.ack(k.got[2]!.ackId)
    expect(store.stats().messages).toBe(2)
    await expectCode(s.ack(k.got[1]!.ackId), 'BROKER_ACK_INVALID') // already acked by the cumulative ack
    await s.close()
    const s2 = conn(broker)
    const k2 = sub(s2, { destination: '/queue/CA' })
    await until(() => k2.got.length === 2, 'the unacked two come back')
    expect(k2.bodies()).toEqual(['3', '4'])
    expect(k2.got.every((d) => d.redelivered)).toBe(true)
  })

  test('Broker client-individual ack acks one message', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/CI', ack: 'client-individual' })
    for (let i = 0; i < 3; i++) await s.send({ destination: '/queue/CI', headers: {}, body: enc(String(i)) })
    await until(() => k.got.length === 3, 'delivered')
    await s.ack(k.got[2]!.ackId)
    await s.close()
    const s2 = conn(broker)
    const k2 = sub(s2, { destination: '/queue/CI' })
    await until(() => k2.got.length === 2, 'two back')
    expect(k2.bodies()).toEqual(['0', '1'])
  })

  test('Broker NACK sends a persistent message to ActiveMQ.DLQ and drops a non-persistent one', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/NK', ack: 'client-individual' })
    await s.send({
      destination: '/queue/NK',
      headers: { persistent: 'true', expires: String(Date.now() + 600_000) },
      body: enc('p'),
    })
    await s.send({ destination: '/queue/NK', headers: {}, body: enc('np') })
    await until(() => k.got.length === 2, 'delivered')
    await s.nack(k.got[0]!.ackId)
    await s.nack(k.got[1]!.ackId)
    expect((await store.load('queue://NK', 0, 10)).length).toBe(0)
    expect((await store.load('queue://ActiveMQ.DLQ', 0, 10)).map((m) => dec(m.message.body))).toEqual(['p'])
    const dlq = sub(s, { destination: '/queue/ActiveMQ.DLQ' })
    await until(() => dlq.got.length === 1, 'dlq')
    await settle()
    expect(dlq.got.length).toBe(1)
    const h = dlq.got[0]!.headers
    expect(h['original-destination']).toBe('/queue/NK')
    expect(h.destination).toBe('/queue/ActiveMQ.DLQ')
    expect(h.expires).toBe('0')
    expect(Number(h.originalExpiration)).toBeGreaterThan(0)
    expect(h.dlqDeliveryFailureCause).toContain('NACK')
  })

  test('Broker NACK of a non-persistent message dead-letters it with processNonPersistent', async () => {
    const { broker } = await setup({ deadLetter: { processNonPersistent: true } })
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/NK2', ack: 'client' })
    await s.send({ destination: '/queue/NK2', headers: {}, body: enc('np') })
    await until(() => k.got.length === 1, 'delivered')
    await s.nack(k.got[0]!.ackId)
    const dlq = sub(s, { destination: '/queue/ActiveMQ.DLQ' })
    await until(() => dlq.got.length === 1, 'dlq')
    expect(dlq.bodies()).toEqual(['np'])
  })

  test('Broker expired messages go to the DLQ at dispatch when persistent, are dropped otherwise', async () => {
    let now = 1_000_000
    const clock = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimeout: (h: unknown) => clearTimeout(h as number),
    }
    const { broker, store } = await setup({ clock, expireMessagesPeriodMs: 0 })
    const s = conn(broker)
    await s.send({
      destination: '/queue/EXP',
      headers: { persistent: 'true', expires: String(now + 100) },
      body: enc('p'),
    })
    await s.send({ destination: '/queue/EXP', headers: { expires: String(now + 100) }, body: enc('np') })
    await s.send({ destination: '/queue/EXP', headers: { expires: String(now + 100_000) }, body: enc('live') })
    now += 1000
    const k = sub(s, { destination: '/queue/EXP' })
    await until(() => k.got.length === 1, 'live one')
    expect(k.bodies()).toEqual(['live'])
    await until(
      () => store.stats().destinations.some((d) => d.destination === 'queue://ActiveMQ.DLQ' && d.count === 1),
      'DLQ stored',
    )
    expect((await store.load('queue://EXP', 0, 10)).length).toBe(0)
    expect(broker.metrics().destinations.find((d) => d.destination === '/queue/EXP')!.expired).toBe(2)
  })

  test('Broker expiry sweep removes expired messages while queued', async () => {
    let now = 5_000_000
    const clock = {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, Math.min(ms, 5)),
      clearTimeout: (h: unknown) => clearTimeout(h as number),
    }
    const { broker, store } = await setup({ clock, expireMessagesPeriodMs: 30_000 })
    const s = conn(broker)
    await s.send({
      destination: '/queue/SW',
      headers: { persistent: 'true', expires: String(now + 10) },
      body: enc('p'),
    })
    now += 100
    await until(
      () => store.stats().destinations.some((d) => d.destination === 'queue://ActiveMQ.DLQ' && d.count === 1),
      'swept to DLQ',
    )
    expect(broker.metrics().destinations.find((d) => d.destination === '/queue/SW')!.depth).toBe(0)
  })

  test('Broker ack of an unknown id is BROKER_ACK_INVALID', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    await expectCode(s.ack('nope'), 'BROKER_ACK_INVALID')
    await expectCode(s.nack('nope'), 'BROKER_ACK_INVALID')
  })
})

describe('Broker browsers', () => {
  test('Broker queue browser sees a snapshot without consuming, then browserEnd', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (let i = 0; i < 3; i++)
      await s.send({ destination: '/queue/BR', headers: { n: String(i) }, body: enc(String(i)) })
    const b = sub(s, { destination: '/queue/BR', browser: true, selector: 'n >= 1' })
    await until(() => b.got.some((d) => d.browserEnd), 'end')
    expect(b.bodies()).toEqual(['1', '2'])
    const end = b.got[b.got.length - 1]!
    expect(end.browserEnd).toBe(true)
    expect(end.headers.browser).toBe('end')
    expect(end.messageId).toBe('0')
    const k = sub(s, { destination: '/queue/BR' })
    await until(() => k.got.length === 3, 'still there')
    await expectCode(
      () => s.subscribe({ id: 'tb', destination: '/topic/X', ack: 'auto', browser: true }, () => {}),
      'BROKER_SUBSCRIPTION_INVALID',
    )
  })
})

describe('Broker durable subscriptions', () => {
  test('Broker durable subscription keeps messages while away and needs a client id', async () => {
    const { broker, store } = await setup()
    const p = conn(broker)
    await expectCode(
      () => p.subscribe({ id: 'd', destination: '/topic/D', ack: 'auto', durableName: 'x' }, () => {}),
      'BROKER_SUBSCRIPTION_INVALID',
    )
    const c = conn(broker, 'client-1')
    const k = sub(c, { destination: '/topic/D', durableName: 'subA' }, 'd1')
    await p.send({ destination: '/topic/D', headers: { persistent: 'true' }, body: enc('1') })
    await until(() => k.got.length === 1, 'online')
    await c.unsubscribe('d1')
    await p.send({ destination: '/topic/D', headers: { persistent: 'true' }, body: enc('2') })
    await p.send({ destination: '/topic/D', headers: {}, body: enc('3') })
    await settle() // the auto-ack remove of '1' is batched
    expect((await store.load('durable://client-1:subA', 0, 10)).map((m) => dec(m.message.body))).toEqual(['2'])
    await c.close()
    const c2 = conn(broker, 'client-1')
    const k2 = sub(c2, { destination: '/topic/D', durableName: 'subA' }, 'd2')
    await until(() => k2.got.length === 1, 'kept while away')
    await settle()
    expect(k2.bodies()).toEqual(['2']) // the non-persistent '3' is not kept for an inactive subscriber (ActiveMQ)
    const other = conn(broker, 'client-2')
    await expectCode(
      () => other.subscribe({ id: 'q', destination: '/queue/Q', ack: 'auto', durableName: 'n' }, () => {}),
      'BROKER_SUBSCRIPTION_INVALID',
    )
  })

  test('Broker durable subscription removal deletes its record and messages', async () => {
    const { broker, store } = await setup()
    const c = conn(broker, 'cid')
    sub(c, { destination: '/topic/R', durableName: 'n', ack: 'client' }, 's1')
    await c.send({ destination: '/topic/R', headers: { persistent: 'true' }, body: enc('1') })
    await settle()
    await c.unsubscribe('s1', { removeDurable: true })
    await settle()
    expect(broker.durableSubscriptions().length).toBe(0)
    expect((await store.open({ directory: ':memory:', epoch: 2 })).subscriptions.length).toBe(0)
    expect(store.stats().messages).toBe(0)
  })

  test('Broker removes an inactive durable subscription by name', async () => {
    const { broker } = await setup()
    const c = conn(broker, 'cid2')
    sub(c, { destination: '/topic/R2', durableName: 'n' }, 's1')
    await c.unsubscribe('s1')
    await c.unsubscribe('s1', { removeDurable: true, durableName: 'n' })
    expect(broker.durableSubscriptions().length).toBe(0)
  })
})

describe('Broker dedupe and scheduler', () => {
  test('Broker acknowledges a resent message id without storing or routing it again', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/DD', headers: { persistent: 'true', 'message-id': 'm-1' }, body: enc('a') })
    await s.send({ destination: '/queue/DD', headers: { persistent: 'true', 'message-id': 'm-1' }, body: enc('a') })
    await s.send({ destination: '/queue/DD', headers: { _AMQ_DUPL_ID: 'm-2' }, body: enc('b') })
    await s.send({ destination: '/queue/DD', headers: { _AMQ_DUPL_ID: 'm-2' }, body: enc('b') })
    expect(store.stats().messages).toBe(1)
    const k = sub(s, { destination: '/queue/DD' })
    await until(() => k.got.length === 2, 'two')
    await settle()
    expect(k.got.map((d) => d.messageId)).toEqual(['m-1', 'm-2'])
  })

  test('Broker dedupe consults the store record after a restart', async () => {
    const { broker, store } = await setup()
    await conn(broker).send({
      destination: '/queue/DR',
      headers: { persistent: 'true', 'message-id': 'r-1' },
      body: enc('a'),
    })
    await broker.stop()
    const { broker: b2 } = await setup({ store })
    await conn(b2).send({
      destination: '/queue/DR',
      headers: { persistent: 'true', 'message-id': 'r-1' },
      body: enc('a'),
    })
    expect(store.stats().messages).toBe(1)
  })

  test('Broker hands every SEND to the scheduler first and skips routing when it takes it', async () => {
    const { broker, store } = await setup()
    const seen: string[] = []
    broker.setScheduler({
      // Offered every send: this port decides in accept() alone.
      claims: () => true,
      accept: async (req) => {
        seen.push(labelOf(req.message.destination))
        return req.message.properties.has('AMQ_SCHEDULED_DELAY')
      },
    })
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/SC' })
    await s.send({
      destination: '/queue/SC',
      headers: { AMQ_SCHEDULED_DELAY: '1000', persistent: 'true' },
      body: enc('later'),
    })
    await s.send({ destination: '/queue/SC', headers: {}, body: enc('now') })
    s.begin('t')
    await s.send({ destination: '/queue/SC', headers: { AMQ_SCHEDULED_DELAY: '5' }, body: enc('tx') }, 't')
    expect(seen.length).toBe(2)
    await s.commit('t')
    expect(seen.length).toBe(3)
    await broker.route({
      message: fromStompSend('/queue/SC', { scheduledJobId: 'j1' }, enc('fired'), { nowMs: 0, newMessageId: () => '' }),
    })
    expect(seen.length).toBe(3)
    await until(() => k.got.length === 2, 'routed')
    expect(k.bodies()).toEqual(['now', 'fired'])
    expect(store.stats().messages).toBe(0)
  })
})

/** A MemoryStore whose writes can be held, then let through or failed (a hung share, then a fence or ENOSPC). */
class GatedStore extends MemoryStore {
  holding = false
  private gates: ((err: Error | null) => void)[] = []
  get held(): number {
    return this.gates.length
  }
  release(err: Error | null): void {
    this.holding = false
    const g = this.gates
    this.gates = []
    for (const f of g) f(err)
  }
  protected override async writeStore(ops: StoreOp[]): Promise<WriteResult> {
    if (this.holding) {
      const err = await new Promise<Error | null>((r) => this.gates.push(r))
      if (err) throw err
    }
    return super.writeStore(ops)
  }
}

describe('Broker dedupe of a resend while the first write is in flight', () => {
  const fenced = () =>
    Object.assign(new Error('epoch fence: found epoch 8, expected none above 7'), { code: 'ELECTION_FENCED' })
  const send = (s: ReturnType<typeof conn>, body: string) =>
    s.send({ destination: '/queue/RW', headers: { persistent: 'true', 'message-id': 'ID:p-1:5' }, body: enc(body) })

  test('Broker holds the resend until the first write fails, then stores the resend', async () => {
    const store = new GatedStore()
    const { broker } = await setup({ store })
    const [s1, s2, s3] = [conn(broker), conn(broker), conn(broker)]
    store.holding = true
    const first = send(s1, 'a').then(
      () => 'stored',
      (e: Error) => e.message,
    )
    await until(() => store.held === 1, 'first write held')
    // Two resends (a failover client after two connection drops): at most one of them may be stored.
    let resent = 0
    const second = send(s2, 'a').then(() => resent++)
    const third = send(s3, 'a').then(() => resent++)
    await settle()
    expect(resent).toBe(0)
    store.release(fenced())
    expect(await first).toContain('epoch fence')
    await Promise.all([second, third])
    expect(resent).toBe(2)
    expect(store.stats().messages).toBe(1)
    const k = sub(conn(broker), { destination: '/queue/RW' })
    await until(() => k.got.length === 1, 'the resend delivered')
    await settle()
    expect(k.bodies()).toEqual(['a'])
  })

  test('Broker acknowledges the resend as a duplicate once the first write is stored, and stores one copy', async () => {
    const store = new GatedStore()
    const { broker } = await setup({ store })
    const [s1, s2] = [conn(broker), conn(broker)]
    store.holding = true
    const first = send(s1, 'a')
    await until(() => store.held === 1, 'first write held')
    let resent = false
    const second = send(s2, 'a').then(() => (resent = true))
    await settle()
    expect(resent).toBe(false)
    store.release(null)
    await Promise.all([first, second])
    expect(store.stats().messages).toBe(1)
  })

  test('Broker holds a scheduled resend until the scheduler store write of the first fails', async () => {
    const store = new GatedStore()
    const { broker } = await setup({ store })
    const jobs: string[] = []
    let failNext: Error | null = null
    let gate: (() => void) | null = null
    broker.setScheduler({
      claims: (req) => req.message.properties.has('AMQ_SCHEDULED_DELAY'),
      accept: async (req) => {
        const fail = failNext
        failNext = null
        if (fail) {
          await new Promise<void>((r) => (gate = r))
          throw fail
        }
        jobs.push(req.message.messageId)
        return true
      },
    })
    const headers = { persistent: 'true', 'message-id': 'ID:p-2:9', AMQ_SCHEDULED_DELAY: '1000' }
    const [s1, s2] = [conn(broker), conn(broker)]
    failNext = fenced()
    const first = s1.send({ destination: '/queue/RS', headers, body: enc('j') }).then(
      () => 'accepted',
      (e: Error) => e.message,
    )
    await until(() => gate !== null, 'first job write held')
    let resent = false
    const second = s2.send({ destination: '/queue/RS', headers, body: enc('j') }).then(() => (resent = true))
    await settle()
    expect(resent).toBe(false)
    gate!()
    expect(await first).toContain('epoch fence')
    await second
    expect(jobs).toEqual(['ID:p-2:9'])
  })
})

describe('Broker store failure', () => {
  test('Broker fails the send and calls onStoreFailure when the store rejects a write', async () => {
    const failures: Error[] = []
    const { broker, store } = await setup({ onStoreFailure: (e) => failures.push(e) })
    const s = conn(broker)
    const k = sub(s, { destination: '/queue/F' })
    store.failWrites = Object.assign(new Error('disk full'), { code: 'STORAGE_IO' })
    let err: unknown
    try {
      await s.send({ destination: '/queue/F', headers: { persistent: 'true' }, body: enc('x') })
    } catch (e) {
      err = e
    }
    expect((err as Error).message).toBe('disk full')
    expect(failures.length).toBe(1)
    await settle()
    expect(k.got.length).toBe(0)
    expect(broker.metrics().memoryBytes).toBe(0)
  })
})
