/**
 * Goal: a store written by sfbroker 0.1.0 (format 1) opens with today's adapters with nothing lost (issue #13 §2):
 * queued messages on several queues, a durable subscription with its pending messages, committed multi-op
 * transactions, scheduler job records, and the dedupe record; new writes after the upgrade work; a reopen reads both
 * formats; without a legacy reader the old store is refused with STORAGE_FORMAT; a 0.1.0 broker would refuse the
 * upgraded store. Method: plant the store with 0.1.0's own encoders (src/storage/testing/format-v1), open it with
 * the broker's converter (protocol/stomp fromLegacyStored) for broker keys and a stand-in job converter for the
 * scheduler key, and compare every message field by field.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isBrokerError } from '../src/lib/errors.ts'
import { type CoreMessage, createMessage, prop } from '../src/model/index.ts'
import { fromLegacyStored } from '../src/protocol/stomp/message-mapping.ts'
import { AmqAdapter } from '../src/storage/adapters/amq/index.ts'
import { KahaDbAdapter } from '../src/storage/adapters/kahadb/index.ts'
import { LevelDbAdapter } from '../src/storage/adapters/leveldb/index.ts'
import { loadAll } from '../src/storage/conformance.ts'
import { plantV1Store, type V1Adapter, type V1Op, type V1Subscription } from '../src/storage/testing/format-v1/index.ts'
import type { LegacyMessageReader, PersistenceAdapter } from '../src/storage/types.ts'

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sfbroker-upgrade-'))
  dirs.push(d)
  return d
}
const enc = new TextEncoder()

const JOBS = 'scheduler://jobs'
/** Stand-in for the scheduler's converter: the job JSON header becomes a string property of an internal message. */
const legacyJob: LegacyMessageReader = (messageId, headers, body) =>
  createMessage({
    messageId,
    destination: { kind: 'queue', name: 'ActiveMQ.Scheduler.Jobs' },
    timestamp: 0,
    persistent: true,
    properties: new Map([['sfbroker-job', prop.string(headers['sfbroker-job'] ?? '')]]),
    bodyKind: body.length > 0 ? 'bytes' : 'none',
    body,
  })
/** What the node would pass: job records through the scheduler's converter, everything else through STOMP's. */
const legacy: LegacyMessageReader = (id, h, b) =>
  (h['sfbroker-job'] !== undefined ? legacyJob : fromLegacyStored)(id, h, b)

function v1add(queue: string, id: string, body: string, extra: Record<string, string> = {}): V1Op {
  return {
    op: 'add',
    destination: `queue://${queue}`,
    message: {
      messageId: id,
      headers: {
        destination: `/queue/${queue}`,
        'message-id': id,
        persistent: 'true',
        priority: '4',
        timestamp: '1700000000000',
        expires: '0',
        ...extra,
      },
      body: enc.encode(body),
    },
  }
}

const sub: V1Subscription = {
  clientId: 'c1',
  subscriptionName: 's1',
  destination: '/topic/PRICES',
  selector: "sym = 'X'",
  noLocal: false,
  storeKey: 'durable://c1:s1',
  createdAt: 1_700_000_000_000,
}

function durableAdd(id: string, body: string): V1Op {
  return {
    op: 'add',
    destination: 'durable://c1:s1',
    message: {
      messageId: id,
      headers: { destination: '/topic/PRICES', 'message-id': id, persistent: 'true', sym: 'X' },
      body: enc.encode(body),
    },
  }
}

const job = JSON.stringify({ id: 'job-1', cron: '', delay: 5000, period: 0, repeat: 0, next: 1_700_000_005_000 })

/** 0.1.0's history: sends, a transaction (adds + removes in one batch), a durable subscription, a scheduled job. */
const HISTORY: V1Op[][] = [
  [v1add('A', 'a1', 'first', { 'x-n': '1', 'correlation-id': 'corr-1', type: 'order' })], // seq 1
  [v1add('A', 'a2', 'second'), v1add('B', 'b1', 'bee', { 'amq-msg-type': 'bytes', 'content-length': '3' })], // 2, 3
  [{ op: 'putSubscription', subscription: sub }, durableAdd('d1', 'tick 1')], // 4
  [v1add('A', 'a3', 'third'), { op: 'remove', destination: 'queue://A', seq: 1 }, durableAdd('d2', 'tick 2')], // 5, 6
  [
    // A committed transaction: two adds and an ack in one batch.
    v1add('C', 'tx-1', 'in tx', { JMSXGroupID: 'g', JMSXGroupSeq: '1' }),
    v1add('C', 'tx-2', 'in tx too', { 'reply-to': '/queue/REPLY' }),
    { op: 'remove', destination: 'queue://A', seq: 2 },
  ], // 7, 8
  [
    {
      op: 'add',
      destination: JOBS,
      message: { messageId: 'job-1', headers: { 'sfbroker-job': job }, body: enc.encode('payload') },
    },
  ], // 9
  [v1add('D', 'gone', 'purged'), { op: 'purge', destination: 'queue://D' }], // 10
]

async function open(kind: V1Adapter, dir: string, withLegacy = true, epoch = 2): Promise<PersistenceAdapter> {
  const a = kind === 'levelDB' ? new LevelDbAdapter() : kind === 'amq' ? new AmqAdapter() : new KahaDbAdapter()
  await a.open({ directory: dir, epoch, syncPolicy: 'always', ...(withLegacy ? { legacyMessage: legacy } : {}) })
  return a
}

async function snapshot(a: PersistenceAdapter, key: string): Promise<[number, CoreMessage][]> {
  return (await loadAll(a, key)).map((m) => [m.seq, m.message])
}

for (const kind of ['kahaDB', 'amq', 'levelDB'] as V1Adapter[]) {
  describe(`${kind} store written by 0.1.0`, () => {
    test(`${kind} opens a 0.1.0 store with every message, subscription, transaction, job and dedupe id`, async () => {
      const dir = tmp()
      await plantV1Store(dir, kind, HISTORY, { segments: 3 })
      const a = await open(kind, dir)
      const st = a.stats()
      expect(new Map(st.destinations.filter((d) => d.count > 0).map((d) => [d.destination, d.count]))).toEqual(
        new Map([
          ['queue://A', 1],
          ['queue://B', 1],
          ['durable://c1:s1', 2],
          ['queue://C', 2],
          [JOBS, 1],
        ]),
      )
      // Every message equals what the broker's own reader makes of 0.1.0's record, with the seq 0.1.0 assigned.
      const want = (op: V1Op) => {
        const m = (op as Extract<V1Op, { op: 'add' }>).message
        return legacy(m.messageId, m.headers, m.body)
      }
      expect(await snapshot(a, 'queue://A')).toEqual([[5, want(HISTORY[3][0])]])
      expect(await snapshot(a, 'queue://B')).toEqual([[3, want(HISTORY[1][1])]])
      expect(await snapshot(a, 'queue://C')).toEqual([
        [7, want(HISTORY[4][0])],
        [8, want(HISTORY[4][1])],
      ])
      expect(await snapshot(a, 'durable://c1:s1')).toEqual([
        [4, want(HISTORY[2][1])],
        [6, want(HISTORY[3][2])],
      ])
      const jobs = await loadAll(a, JOBS)
      expect(jobs.map((m) => m.seq)).toEqual([9])
      expect(jobs[0].message.properties.get('sfbroker-job')).toEqual(prop.string(job))
      expect(new TextDecoder().decode(jobs[0].message.body)).toBe('payload')
      expect(await loadAll(a, 'queue://D')).toEqual([])
      // Spot checks of the mapping itself (fields, not header maps).
      const [c1, c2] = (await loadAll(a, 'queue://C')).map((m) => m.message)
      expect(c1.groupId).toBe('g')
      expect(c1.groupSeq).toBe(1)
      expect(c2.replyTo).toEqual({ kind: 'queue', name: 'REPLY' })
      const b1 = (await loadAll(a, 'queue://B'))[0].message
      expect(b1.bodyKind).toBe('bytes')
      const a3 = (await loadAll(a, 'queue://A'))[0].message
      expect(a3.persistent).toBe(true)
      expect(a3.timestamp).toBe(1_700_000_000_000)
      // Subscriptions and dedupe: 0.1.0 recorded the message ids.
      const rec = await reopenState(a, kind, dir)
      expect(rec.subscriptions).toEqual([sub])
      const b = rec.a
      for (const id of ['a1', 'a2', 'a3', 'b1', 'd1', 'd2', 'tx-1', 'tx-2', 'gone'])
        expect(b.isDuplicate(id)).toBe(true)
      expect(b.isDuplicate('never-sent')).toBe(false)
      // New writes after the upgrade: format 2, seqs continue, dedupe by the model's key.
      const fresh = createMessage({
        messageId: 'ID:new-1',
        destination: { kind: 'queue', name: 'A' },
        timestamp: 1_800_000_000_000,
        persistent: true,
        properties: new Map([
          ['n', prop.int(7)],
          ['big', prop.long(2n ** 60n)],
        ]),
        bodyKind: 'text',
        body: enc.encode('after upgrade'),
        producer: { id: 'ID:prod-1', seq: 42 },
        origin: { protocol: 'openwire' },
      })
      const { seqs } = await b.write([{ op: 'add', destination: 'queue://A', message: fresh }])
      expect(seqs[0]).toBeGreaterThan(10)
      expect(b.isDuplicate('ID:prod-1:42')).toBe(true)
      await b.close()
      // A reopen after new writes reads both formats.
      const c = await open(kind, dir, true, 3)
      expect(await snapshot(c, 'queue://A')).toEqual([
        [5, want(HISTORY[3][0])],
        [seqs[0], fresh],
      ])
      expect(await snapshot(c, 'durable://c1:s1')).toHaveLength(2)
      expect(c.isDuplicate('a1')).toBe(true)
      expect(c.isDuplicate('ID:prod-1:42')).toBe(true)
      await c.close()
    })

    test(`${kind} refuses a 0.1.0 store without a legacy reader (STORAGE_FORMAT) and changes nothing`, async () => {
      const dir = tmp()
      await plantV1Store(dir, kind, HISTORY)
      let err: unknown = null
      try {
        await open(kind, dir, false)
      } catch (e) {
        err = e
      }
      expect(isBrokerError(err, 'STORAGE_FORMAT')).toBe(true)
      // Still readable afterwards, with the reader.
      const a = await open(kind, dir)
      expect((await loadAll(a, 'queue://C')).map((m) => m.message.messageId)).toEqual(['tx-1', 'tx-2'])
      await a.close()
    })

    test(`${kind} marks an upgraded store so that 0.1.0 refuses it`, async () => {
      const dir = tmp()
      await plantV1Store(dir, kind, HISTORY)
      const a = await open(kind, dir)
      await a.close()
      if (kind === 'levelDB') {
        // 0.1.0 refuses any meta version but 1; the meta is rewritten at 2 after the records are converted.
        const b = await open(kind, dir, false, 3)
        expect((await loadAll(b, 'queue://A')).length).toBe(1)
        await b.close()
      } else {
        // 0.1.0's marker check refuses a version above 1.
        expect(JSON.parse(readFileSync(join(dir, 'journal.json'), 'utf8')).version).toBe(2)
      }
    })
  })
}

async function reopenState(a: PersistenceAdapter, kind: V1Adapter, dir: string) {
  await a.close()
  const b = kind === 'levelDB' ? new LevelDbAdapter() : kind === 'amq' ? new AmqAdapter() : new KahaDbAdapter()
  const rec = await b.open({ directory: dir, epoch: 2, syncPolicy: 'always', legacyMessage: legacy })
  return { a: b, subscriptions: rec.subscriptions }
}
