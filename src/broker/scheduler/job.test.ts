/**
 * Goal: job records round-trip (encodeJob/decodeJob), bad ones are STORAGE_CORRUPT_RECORD, and sfbroker 0.1.0's
 * records (format 1: the SEND's raw STOMP headers in a v1 JSON record) read as the 0.1.0 scheduler would have
 * fired them: the client's id as the producer identity, `persistent` in any case, and copies stamped at firing
 * unless the SEND had a timestamp. Method: literal 0.1.0 record shapes through legacyJobReader(fromLegacyStored).
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../../lib/errors.ts'
import { createMessage, dedupeKey, prop } from '../../model/index.ts'
import { fromLegacyStored } from '../../protocol/stomp/message-mapping.ts'
import { decodeJob, encodeJob, type JobRecord, legacyJobReader, legacyStoreReader } from './job.ts'

const T0 = Date.parse('2025-03-14T10:00:00Z')
const body = new TextEncoder().encode('payload')

/** A 0.1.0 job record's header map, as its store held it. */
function v1Record(headers: Record<string, string>): Record<string, string> {
  const rec = {
    v: 1,
    id: 'ID:sched-abc-1',
    destination: '/queue/jobs',
    headers,
    cron: null,
    delayMs: 1000,
    periodMs: 0,
    repeat: 0,
    repeatTotal: 0,
    nextAt: T0 + 1000,
    fired: 0,
    createdAt: T0,
    version: 1,
  }
  return { 'sfbroker-job': JSON.stringify(rec) }
}

const read = legacyJobReader(fromLegacyStored)

describe('scheduler job records', () => {
  test('job records round-trip through encodeJob and decodeJob without the record property', () => {
    const rec: JobRecord = {
      v: 2,
      id: 'ID:j',
      cron: '* * * * *',
      delayMs: 1,
      periodMs: 2,
      repeat: 3,
      repeatTotal: 3,
      nextAt: T0,
      fired: 1,
      createdAt: T0 - 5,
      version: 4,
      stampOnFire: true,
    }
    const m = createMessage({ messageId: 'm', destination: { kind: 'queue', name: 'q' }, timestamp: T0, body })
    m.properties.set('x', prop.string('y'))
    const d = decodeJob({ seq: 9, message: encodeJob(rec, m) })
    expect(d.rec).toEqual(rec)
    expect(d.message).toEqual(m)
  })

  test('job records without stampOnFire read as false; a non-boolean one is STORAGE_CORRUPT_RECORD', () => {
    const m = createMessage({ messageId: 'm', destination: { kind: 'queue', name: 'q' }, timestamp: T0 })
    const base = { v: 2, id: 'j', cron: null, delayMs: 0, periodMs: 0, repeat: 0, repeatTotal: 0, nextAt: 0 }
    const rec = { ...base, fired: 0, createdAt: 0, version: 1 }
    const stored = (r: object) => {
      const c = createMessage({ ...m })
      c.properties.set('sfbroker-job', prop.string(JSON.stringify(r)))
      return { seq: 1, message: c }
    }
    expect(decodeJob(stored(rec)).rec.stampOnFire).toBe(false)
    let err: unknown
    try {
      decodeJob(stored({ ...rec, stampOnFire: 'yes' }))
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'STORAGE_CORRUPT_RECORD')).toBe(true)
    expect((err as Error).message).toContain('stampOnFire')
  })

  test('legacyJobReader reads a 0.1.0 record as 0.1.0 fired it', () => {
    const plain = decodeJob({
      seq: 1,
      message: read(
        'ID:sched-abc-1#1',
        v1Record({ AMQ_SCHEDULED_DELAY: '1000', persistent: 'TRUE', 'x-a': 'b' }),
        body,
      ),
    })
    expect(plain.rec).toMatchObject({ v: 2, id: 'ID:sched-abc-1', nextAt: T0 + 1000, stampOnFire: true })
    expect(plain.message.persistent).toBe(true)
    expect(plain.message.destination).toEqual({ kind: 'queue', name: 'jobs' })
    expect(plain.message.producer).toBeNull()
    expect(plain.message.properties.get('x-a')).toEqual(prop.string('b'))
    expect(plain.message.properties.has('sfbroker-job')).toBe(false)

    const stamped = decodeJob({
      seq: 2,
      message: read('ID:sched-abc-1#1', v1Record({ timestamp: '42', 'message-id': 'client-1:7' }), body),
    })
    expect(stamped.rec.stampOnFire).toBe(false)
    expect(stamped.message.timestamp).toBe(42)
    expect([stamped.message.messageId, dedupeKey(stamped.message)]).toEqual(['client-1:7', 'client-1:7'])
  })

  test('legacyStoreReader reads 0.1.0 job records as jobs and message records as messages', () => {
    const either = legacyStoreReader(fromLegacyStored)
    const job = either('ID:sched-abc-1#1', v1Record({ AMQ_SCHEDULED_DELAY: '1000' }), body)
    expect(decodeJob({ seq: 1, message: job }).rec.id).toBe('ID:sched-abc-1')
    // A stored message (0.1.0 normalised headers) that happens to carry a header named sfbroker-job stays a message.
    const stored = { destination: '/queue/a', 'message-id': 'm', timestamp: '5', 'sfbroker-job': 'x' }
    const msg = either('m', stored, body)
    expect([msg.messageId, msg.timestamp, msg.destination]).toEqual(['m', 5, { kind: 'queue', name: 'a' }])
    expect(msg.properties.get('sfbroker-job')).toEqual(prop.string('x'))
  })

  test('legacyJobReader refuses a record that is not a 0.1.0 job with STORAGE_CORRUPT_RECORD', () => {
    const bad: Record<string, string>[] = [{}, { 'sfbroker-job': '{' }, { 'sfbroker-job': '{"v":2}' }]
    for (const headers of bad) {
      let err: unknown
      try {
        read('x', headers, body)
      } catch (e) {
        err = e
      }
      expect([JSON.stringify(headers), isBrokerError(err, 'STORAGE_CORRUPT_RECORD')]).toEqual([
        JSON.stringify(headers),
        true,
      ])
    }
  })
})
