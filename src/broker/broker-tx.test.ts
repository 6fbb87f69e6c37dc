/**
 * Goal: STOMP transactions on the Broker: sends and acks inside BEGIN..COMMIT become ONE atomic store batch at
 * COMMIT; ABORT discards sends and returns acked messages for redelivery; unknown transactions are
 * BROKER_TX_UNKNOWN; closing a session aborts its open transactions. Method: a MemoryStore whose write() calls
 * are recorded, direct session calls.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import type { StoreOp } from '../storage/types.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import type { Broker } from './broker.ts'
import { dec, enc, makeBroker, settle, sub, until, stompView } from './broker-test-kit.ts'

class RecordingStore extends MemoryStore {
  batches: StoreOp[][] = []
  override async write(ops: StoreOp[]) {
    this.batches.push(ops)
    return super.write(ops)
  }
}

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})
async function setup() {
  const store = new RecordingStore()
  const r = await makeBroker({ store })
  brokers.push(r.broker)
  return { broker: r.broker, store }
}
const conn = (b: Broker) => stompView(b.connect({ remoteAddress: 'x', protocol: 'test' }))

describe('Broker transactions', () => {
  test('Broker transaction commits sends and acks as one atomic store batch', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/IN', headers: { persistent: 'true' }, body: enc('in-1') })
    const k = sub(s, { destination: '/queue/IN', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'in delivered')
    const out = sub(conn(broker), { destination: '/queue/OUT' })
    s.begin('tx1')
    await s.send({ destination: '/queue/OUT', headers: { persistent: 'true' }, body: enc('o1') }, 'tx1')
    await s.send({ destination: '/queue/OUT', headers: { persistent: 'true' }, body: enc('o2') }, 'tx1')
    await s.ack(k.got[0]!.ackId, 'tx1')
    await settle()
    expect(out.got.length).toBe(0)
    const before = store.batches.length
    await s.commit('tx1')
    expect(store.batches.length).toBe(before + 1)
    const batch = store.batches[before]!
    expect(batch.map((o) => o.op).sort()).toEqual(['add', 'add', 'remove'])
    await until(() => out.got.length === 2, 'committed sends routed')
    expect(out.bodies()).toEqual(['o1', 'o2'])
    expect((await store.load('queue://IN', 0, 10)).length).toBe(0)
  })

  test('Broker transaction abort discards sends and makes acked messages unacked again (redelivered on close)', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/AB', headers: { persistent: 'true' }, body: enc('m') })
    const k = sub(s, { destination: '/queue/AB', ack: 'client' })
    await until(() => k.got.length === 1, 'delivered')
    s.begin('t')
    await s.send({ destination: '/queue/AB', headers: { persistent: 'true' }, body: enc('discarded') }, 't')
    await s.ack(k.got[0]!.ackId, 't')
    await s.abort('t')
    await settle()
    expect(k.bodies()).toEqual(['m'])
    expect((await store.load('queue://AB', 0, 10)).map((m) => dec(m.message.body))).toEqual(['m'])
    // The ack id is valid again; closing the session redelivers the message to the next consumer.
    await s.close()
    const k2 = sub(conn(broker), { destination: '/queue/AB', ack: 'client-individual' })
    await until(() => k2.got.length === 1, 'redelivered after close')
    expect(k2.got[0]!.redelivered).toBe(true)
    expect(dec(k2.got[0]!.body)).toBe('m')
  })

  test('Broker transaction abort keeps the ack id valid for a later ack', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/AB2', headers: { persistent: 'true' }, body: enc('m') })
    const k = sub(s, { destination: '/queue/AB2', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'delivered')
    s.begin('t')
    await s.ack(k.got[0]!.ackId, 't')
    await s.abort('t')
    await s.ack(k.got[0]!.ackId)
    expect(store.stats().messages).toBe(0)
  })

  test('Broker transaction NACK moves the message to the DLQ at commit in the same batch', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/TN', headers: { persistent: 'true' }, body: enc('bad') })
    const k = sub(s, { destination: '/queue/TN', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'delivered')
    s.begin('t')
    await s.nack(k.got[0]!.ackId, 't')
    const before = store.batches.length
    await s.commit('t')
    expect(store.batches.length).toBe(before + 1)
    expect(store.batches[before]!.map((o) => `${o.op}:${'destination' in o ? o.destination : ''}`)).toEqual([
      'remove:queue://TN',
      'add:queue://ActiveMQ.DLQ',
    ])
    expect((await store.load('queue://ActiveMQ.DLQ', 0, 10)).map((m) => dec(m.message.body))).toEqual(['bad'])
  })

  test('Broker unknown or duplicate transactions are BROKER_TX_UNKNOWN', async () => {
    const { broker } = await setup()
    const s = conn(broker)
    for (const p of [
      s.commit('nope'),
      s.abort('nope'),
      s.send({ destination: '/queue/A', headers: {}, body: enc('x') }, 'nope'),
      s.ack('1', 'nope'),
    ]) {
      let err: unknown
      try {
        await p
      } catch (e) {
        err = e
      }
      expect(isBrokerError(err, 'BROKER_TX_UNKNOWN')).toBe(true)
    }
    s.begin('t')
    let err: unknown
    try {
      s.begin('t')
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'BROKER_TX_UNKNOWN')).toBe(true)
    await s.commit('t')
    err = undefined
    try {
      await s.commit('t')
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'BROKER_TX_UNKNOWN')).toBe(true)
  })

  test('Broker session close aborts open transactions', async () => {
    const { broker, store } = await setup()
    const s = conn(broker)
    await s.send({ destination: '/queue/SC', headers: { persistent: 'true' }, body: enc('keep') })
    const k = sub(s, { destination: '/queue/SC', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'delivered')
    s.begin('t')
    await s.ack(k.got[0]!.ackId, 't')
    await s.send({ destination: '/queue/SC', headers: { persistent: 'true' }, body: enc('never') }, 't')
    await s.close()
    const k2 = sub(conn(broker), { destination: '/queue/SC' })
    await until(() => k2.got.length === 1, 'redelivered')
    await settle()
    expect(k2.bodies()).toEqual(['keep'])
    expect(k2.got[0]!.redelivered).toBe(true)
    expect(store.stats().messages).toBe(0) // acked by the auto consumer
  })

  test('Broker failed commit leaves nothing applied and returns acked messages', async () => {
    const failures: Error[] = []
    const store = new RecordingStore()
    const { broker } = await makeBroker({ store, onStoreFailure: (e) => failures.push(e) })
    brokers.push(broker)
    const s = conn(broker)
    await s.send({ destination: '/queue/FC', headers: { persistent: 'true' }, body: enc('m') })
    const k = sub(s, { destination: '/queue/FC', ack: 'client-individual' })
    await until(() => k.got.length === 1, 'delivered')
    const out = sub(conn(broker), { destination: '/queue/FO' })
    s.begin('t')
    await s.send({ destination: '/queue/FO', headers: { persistent: 'true' }, body: enc('o') }, 't')
    await s.ack(k.got[0]!.ackId, 't')
    store.failWrites = new Error('io')
    let err: unknown
    try {
      await s.commit('t')
    } catch (e) {
      err = e
    }
    expect((err as Error).message).toBe('io')
    expect(failures.length).toBe(1)
    await s.close()
    const k2 = sub(conn(broker), { destination: '/queue/FC' })
    await until(() => k2.got.length === 1, 'redelivered')
    expect(out.got.length).toBe(0)
  })
})

describe('Broker transaction byte limits', () => {
  test('Broker refuses a transactional SEND past maxTransactionSize and maxTransactionSizePerConnection with BROKER_LIMIT', async () => {
    const { broker } = await makeBroker({
      limits: { maxTransactionSize: 10_000, maxTransactionSizePerConnection: 15_000 },
    })
    brokers.push(broker)
    const s = conn(broker)
    const body = new Uint8Array(4_000)
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e) => (isBrokerError(e) ? e.code : String(e)),
      )
    s.begin('t1')
    expect(await code(s.send({ destination: '/queue/TX', headers: {}, body }, 't1'))).toBe('ok')
    expect(await code(s.send({ destination: '/queue/TX', headers: {}, body }, 't1'))).toBe('ok')
    // A third 4 KB SEND (plus headers) would put t1 over 10,000 bytes.
    expect(await code(s.send({ destination: '/queue/TX', headers: {}, body }, 't1'))).toBe('BROKER_LIMIT')
    // t2 fits its own limit, but the session's open transactions would pass 15,000.
    s.begin('t2')
    expect(await code(s.send({ destination: '/queue/TX', headers: {}, body }, 't2'))).toBe('ok')
    expect(await code(s.send({ destination: '/queue/TX', headers: {}, body }, 't2'))).toBe('BROKER_LIMIT')
    expect(broker.txBytesLimits()).toEqual({ transaction: 10_000, session: 15_000 })
  })
})
