/**
 * Goal: under a random mix of sends (persistent and not, plain and transacted), subscriptions in every ack mode,
 * acks/NACKs (plain and transacted, committed or aborted) and session closes, the broker keeps its invariants:
 *   1. no accepted message is lost: at the end every one was acked, dead-lettered, or is still in its queue;
 *   2. no message is delivered again after its final ack;
 *   3. per producer, first deliveries on a queue come in send order.
 * Method: a seeded random workload (SEED=... replays; the seed is printed on failure) over a MemoryStore with a
 * small memory limit so deep queues page; invariants 2 and 3 are checked at every delivery, 1 after a drain.
 * Sessions are seen through the STOMP mapping (the test kit's stompView), as a STOMP client sees them.
 * Bounded: a fixed number of steps and seeds, every wait bounded in time.
 */
import { afterEach, expect, test } from 'bun:test'
import type { Broker } from './broker.ts'
import { makeBroker, settle, type StompDelivery, type StompView, stompView, until } from './broker-test-kit.ts'
import { seededGenerator } from '../lib/random.ts'

let brokers: Broker[] = []
afterEach(async () => {
  for (const b of brokers) await b.stop()
  brokers = []
})

interface Out {
  ackId: string
  id: string
  consumer: ConsumerModel
}
interface ConsumerModel {
  subId: string
  mode: 'auto' | 'client' | 'client-individual'
  outstanding: Out[]
  closed: boolean
}
interface SessionModel {
  s: StompView
  consumers: ConsumerModel[]
  tx: { id: string; sends: { id: string; q: string; producer: string; n: number }[]; acks: Out[]; nacks: Out[] } | null
  producer: string
  persistent: boolean
  n: number
}

const QUEUES = ['/queue/W1', '/queue/W2', '/queue/W3']

async function runWorkload(seed: number, steps: number): Promise<void> {
  const rand = seededGenerator(seed)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!
  const { broker, store } = await makeBroker({ limits: { memoryLimit: 256 * 1024, destinationMemoryLimit: 8 * 1024 } })
  brokers.push(broker)
  const accepted = new Map<string, string>() // id -> queue
  const acked = new Set<string>()
  const deadLettered = new Set<string>()
  const lastFirst = new Map<string, number>() // `${queue}|${producer}` -> last n first-delivered
  const violations: string[] = []
  const sessions: SessionModel[] = []
  let producerNo = 0
  let subNo = 0
  let txNo = 0

  const onDelivery =
    (cm: ConsumerModel) =>
    (d: StompDelivery): void => {
      const id = d.messageId
      if (acked.has(id)) violations.push(`delivered after its ack: ${id}`)
      if (deadLettered.has(id)) violations.push(`delivered after dead-lettering: ${id}`)
      const q = d.headers.destination!
      if (!d.redelivered && d.headers.producer) {
        const k = `${q}|${d.headers.producer}`
        const n = Number(d.headers.n)
        if ((lastFirst.get(k) ?? -1) >= n) violations.push(`order: ${k} got ${n} after ${lastFirst.get(k)}`)
        lastFirst.set(k, n)
      }
      if (cm.mode === 'auto') acked.add(id)
      else cm.outstanding.push({ ackId: d.ackId, id, consumer: cm })
    }

  const newSession = (): SessionModel => {
    const m: SessionModel = {
      s: stompView(broker.connect({ remoteAddress: 'w', protocol: 'test' })),
      consumers: [],
      tx: null,
      producer: `p${++producerNo}`,
      persistent: rand() < 0.6,
      n: 0,
    }
    sessions.push(m)
    return m
  }
  for (let i = 0; i < 4; i++) newSession()

  const finalAck = (list: Out[]): void => {
    for (const o of list) acked.add(o.id)
  }
  const takeFor = (o: Out): Out[] => {
    const c = o.consumer
    const i = c.outstanding.indexOf(o)
    if (i < 0) return []
    return c.mode === 'client' ? c.outstanding.splice(0, i + 1) : c.outstanding.splice(i, 1)
  }

  for (let step = 0; step < steps; step++) {
    const m = pick(sessions)
    const r = rand()
    if (r < 0.4) {
      const q = pick(QUEUES)
      const n = m.n++
      const id = `${m.producer}-${n}`
      const headers: Record<string, string> = { 'message-id': id, producer: m.producer, n: String(n) }
      if (m.persistent) headers.persistent = 'true'
      const req = { destination: q, headers, body: new Uint8Array(100) }
      if (m.tx) {
        await m.s.send(req, m.tx.id)
        m.tx.sends.push({ id, q, producer: m.producer, n })
      } else {
        // Not awaited: a send may wait for memory; it counts once it resolves.
        m.s.send(req).then(
          () => accepted.set(id, q),
          () => {},
        )
      }
    } else if (r < 0.5 && m.consumers.filter((c) => !c.closed).length < 2) {
      const mode = pick(['auto', 'client', 'client-individual'] as const)
      const cm: ConsumerModel = { subId: `s${++subNo}`, mode, outstanding: [], closed: false }
      m.consumers.push(cm)
      m.s.subscribe(
        { id: cm.subId, destination: pick(QUEUES), ack: mode, prefetch: 1 + Math.floor(rand() * 20) },
        onDelivery(cm),
      )
    } else if (r < 0.75) {
      const outs = m.consumers.flatMap((c) => c.outstanding)
      if (outs.length === 0) continue
      const o = pick(outs)
      const nack = rand() < 0.1
      if (m.tx) {
        const list = nack ? (o.consumer.outstanding.splice(o.consumer.outstanding.indexOf(o), 1), [o]) : takeFor(o)
        if (nack) {
          await m.s.nack(o.ackId, m.tx.id)
          m.tx.nacks.push(...list)
        } else {
          await m.s.ack(o.ackId, m.tx.id)
          m.tx.acks.push(...list)
        }
      } else if (nack) {
        o.consumer.outstanding.splice(o.consumer.outstanding.indexOf(o), 1)
        await m.s.nack(o.ackId)
        deadLettered.add(o.id)
        acked.add(o.id)
      } else {
        const list = takeFor(o)
        await m.s.ack(o.ackId)
        finalAck(list)
      }
    } else if (r < 0.82) {
      if (!m.tx) {
        m.tx = { id: `tx${++txNo}`, sends: [], acks: [], nacks: [] }
        m.s.begin(m.tx.id)
      } else {
        const t = m.tx
        m.tx = null
        if (rand() < 0.6) {
          // Not awaited: a COMMIT with non-persistent sends may wait for memory like a send.
          m.s.commit(t.id).then(
            () => {
              for (const x of t.sends) accepted.set(x.id, x.q)
              finalAck(t.acks)
              for (const o of t.nacks) {
                deadLettered.add(o.id)
                acked.add(o.id)
              }
            },
            () => {},
          )
        } else {
          // Acked/NACKed messages are unacked again with the same ack ids, appended after what is outstanding.
          // The broker does that inside the call, and a delivery may come before the await returns: record
          // it first, so the model's order is the broker's (a later cumulative ack covers what it delivered).
          for (const o of [...t.acks, ...t.nacks]) o.consumer.outstanding.push(o)
          await m.s.abort(t.id)
        }
      }
    } else if (r < 0.86) {
      const live = m.consumers.filter((c) => !c.closed)
      if (live.length === 0) continue
      const c = pick(live)
      c.closed = true
      if (m.tx) {
        // Transaction-acked messages of a closed consumer come back at abort/commit handling; keep it simple:
        // only close consumers with no transactional acks pending.
        if ([...m.tx.acks, ...m.tx.nacks].some((o) => o.consumer === c)) {
          c.closed = false
          continue
        }
      }
      c.outstanding = []
      await m.s.unsubscribe(c.subId)
    } else if (r < 0.9) {
      // Close the session: open tx aborted, unacked redelivered; a fresh session takes its place.
      sessions.splice(sessions.indexOf(m), 1)
      for (const c of m.consumers) {
        c.closed = true
        c.outstanding = []
      }
      m.tx = null
      await m.s.close()
      newSession()
    }
    if (step % 50 === 0) await settle(1)
    if (violations.length) break
  }

  // Drain: close everything, then consume every queue and the DLQ to the end.
  await settle()
  for (const m of sessions) await m.s.close()
  const drained = new Map<string, string>()
  const dlqDrained = new Set<string>()
  const d = stompView(broker.connect({ remoteAddress: 'drain', protocol: 'test' }))
  for (const q of QUEUES) {
    d.subscribe({ id: q, destination: q, ack: 'auto' }, (x) => {
      if (acked.has(x.messageId)) violations.push(`drain: delivered after its ack: ${x.messageId}`)
      drained.set(x.messageId, q)
    })
  }
  d.subscribe({ id: 'dlq', destination: '/queue/ActiveMQ.DLQ', ack: 'auto' }, (x) => dlqDrained.add(x.messageId))
  await until(
    () =>
      broker
        .metrics()
        .destinations.filter((x) => QUEUES.includes(x.destination))
        .every((x) => x.depth === 0),
    'queues drained',
    20_000,
  )
  await settle()
  expect(violations).toEqual([])
  const lost: string[] = []
  for (const [id] of accepted) if (!acked.has(id) && !drained.has(id)) lost.push(id)
  expect(lost).toEqual([])
  for (const id of drained.keys()) expect(acked.has(id)).toBe(false)
  // Persistent NACKed messages are on the DLQ; nothing else is.
  for (const id of dlqDrained) expect(deadLettered.has(id)).toBe(true)
  if (process.env.WORKLOAD_DEBUG)
    console.log({
      seed,
      accepted: accepted.size,
      acked: acked.size,
      drained: drained.size,
      dlq: dlqDrained.size,
      dead: deadLettered.size,
    })
  expect(accepted.size).toBeGreaterThan(50)
  await until(
    () =>
      store
        .stats()
        .destinations.filter((x) => x.destination !== 'queue://ActiveMQ.DLQ')
        .every((x) => x.count === 0),
    'store emptied of queue messages',
  )
}

/** Random seeds per run, after the fixed ones. */
const RANDOM_SEEDS = 100

test('Broker workload keeps its invariants under random sends, acks, transactions and closes', async () => {
  // Seeds 1-3, then RANDOM_SEEDS consecutive ones from a new start each run (a seed costs a few ms): a bug one
  // seed in thousands shows (seeds 0-99,999 all passed when this was written; SEED=... replays one).
  const start = Date.now() % 1_000_000_000
  const seeds = process.env.SEED
    ? [Number(process.env.SEED)]
    : [1, 2, 3, ...Array.from({ length: RANDOM_SEEDS }, (_, i) => start + i)]
  for (const seed of seeds) {
    try {
      await runWorkload(seed, 600)
    } catch (e) {
      console.error(`workload failed with SEED=${seed}`)
      throw e
    }
    for (const b of brokers) await b.stop()
    brokers = []
  }
}, 60_000)
