/**
 * Goal: the broker's wildcard topic subscriptions and the plug-in seams of the contract (TopicTap, extraOps,
 * storeWrite/storeLoad/storeKeys, newMessageId). Method: a broker over the memory store, messages built with the
 * model, a fake tap that records what it sees; store contents are read back through storeLoad.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { type CoreMessage, createMessage, type Destination } from '../model/index.ts'
import type { StoreOp } from '../storage/types.ts'
import { makeBroker, settle, Sink, until } from './broker-test-kit.ts'

const topic = (name: string): Destination => ({ kind: 'topic', name })

function msg(dest: Destination, persistent: boolean, body = 'x'): CoreMessage {
  return createMessage({
    messageId: '',
    destination: dest,
    timestamp: 1,
    persistent,
    body: new TextEncoder().encode(body),
  })
}

function tapOp(m: CoreMessage): StoreOp {
  return { op: 'add', destination: 'mqtt://session-1', message: { ...m, messageId: `tap-${m.destination.name}` } }
}

describe('Broker wildcard subscriptions', () => {
  test('Broker topic subscription with * and > receives from every matching topic, once per message', async () => {
    const { broker } = await makeBroker()
    const s = broker.connect({ remoteAddress: 'x', protocol: 'test' })
    const star = new Sink()
    const gt = new Sink()
    s.subscribe({ id: 'a', destination: topic('PRICES.*'), ack: 'auto' }, star.fn)
    s.subscribe({ id: 'b', destination: topic('PRICES.>'), ack: 'auto' }, gt.fn)
    for (const n of ['PRICES.EU', 'PRICES.EU.DE', 'PRICES', 'OTHER.EU'])
      await s.send({ message: msg(topic(n), false, n) })
    await until(() => gt.got.length === 3, 'wildcard deliveries')
    await settle()
    expect(star.bodies()).toEqual(['PRICES.EU'])
    expect(gt.bodies()).toEqual(['PRICES.EU', 'PRICES.EU.DE', 'PRICES'])
    expect(gt.got.map((d) => d.message.destination.name)).toEqual(['PRICES.EU', 'PRICES.EU.DE', 'PRICES'])
    await broker.stop()
  })

  test('Broker refuses a wildcard queue subscription and a send to a wildcard name with BROKER_DESTINATION_INVALID', async () => {
    const { broker } = await makeBroker()
    const s = broker.connect({ remoteAddress: 'x', protocol: 'test' })
    let err: unknown
    try {
      s.subscribe({ id: 'q', destination: { kind: 'queue', name: 'A.*' }, ack: 'auto' }, () => {})
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'BROKER_DESTINATION_INVALID')).toBe(true)
    err = await s.send({ message: msg(topic('A.>'), false) }).catch((e) => e)
    expect(isBrokerError(err, 'BROKER_DESTINATION_INVALID')).toBe(true)
    await broker.stop()
  })
})

describe('Broker plug-in seams', () => {
  test('Broker TopicTap ops land in the message batch; committed() runs after the write, in order; non-persistent gets no ops', async () => {
    const { broker, store } = await makeBroker()
    const events: string[] = []
    const writes: StoreOp[][] = []
    const realWrite = store.write.bind(store)
    store.write = (ops) => {
      writes.push(ops)
      events.push(`write:${ops.length}`)
      return realWrite(ops)
    }
    const remove = broker.addTopicTap({
      onTopicMessage: (m) => ({
        ops: m.persistent ? [tapOp(m)] : [],
        committed: () => events.push(`committed:${m.destination.name}`),
      }),
    })
    const s = broker.connect({ remoteAddress: 'x', protocol: 'test' })
    await Promise.all([s.send({ message: msg(topic('T1'), true) }), s.send({ message: msg(topic('T2'), true) })])
    await s.send({ message: msg(topic('T3'), false) })
    await s.send({ message: msg({ kind: 'queue', name: 'Q' }, true) })
    expect(events.filter((e) => e.startsWith('committed'))).toEqual(['committed:T1', 'committed:T2', 'committed:T3'])
    // Each topic message's batch holds the tap's op; the committed callback came after that write.
    expect(writes[0]!.some((o) => o.op === 'add' && o.destination === 'mqtt://session-1')).toBe(true)
    expect(events.indexOf('committed:T1')).toBeGreaterThan(events.indexOf(`write:${writes[0]!.length}`))
    const stored = await broker.storeLoad('mqtt://session-1', 0, 10)
    expect(stored.map((m) => m.message.messageId)).toEqual(['tap-T1', 'tap-T2'])
    expect(broker.storeKeys('mqtt://')).toEqual(['mqtt://session-1'])
    remove()
    await s.send({ message: msg(topic('T4'), true) })
    expect(events.includes('committed:T4')).toBe(false)
    await broker.stop()
  })

  test('Broker SendRequest.extraOps are written in the same batch as the message; storeWrite returns add seqs', async () => {
    const { broker, store } = await makeBroker()
    const writes: StoreOp[][] = []
    const realWrite = store.write.bind(store)
    store.write = (ops) => {
      writes.push(ops)
      return realWrite(ops)
    }
    const s = broker.connect({ remoteAddress: 'x', protocol: 'test' })
    const extra: StoreOp = { op: 'add', destination: 'mqtt://qos2', message: msg({ kind: 'queue', name: 'Q' }, true) }
    extra.message.messageId = 'qos2-state'
    await s.send({ message: msg({ kind: 'queue', name: 'Q' }, true), extraOps: [extra] })
    expect(writes).toHaveLength(1)
    expect(writes[0]!.map((o) => (o.op === 'add' ? o.destination : o.op))).toEqual(['queue://Q', 'mqtt://qos2'])
    const seqs = await broker.storeWrite([
      { op: 'add', destination: 'mqtt://x', message: { ...extra.message, messageId: 'a' } },
      { op: 'purge', destination: 'mqtt://qos2' },
    ])
    expect(seqs).toHaveLength(1)
    expect(await broker.storeLoad('mqtt://qos2', 0, 10)).toEqual([])
    expect(broker.newMessageId()).not.toBe(broker.newMessageId())
    await broker.stop()
  })
})
