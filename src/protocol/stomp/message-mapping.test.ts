/**
 * STOMP ↔ CoreMessage. The goal: for any SEND, the MESSAGE headers sfbroker 0.1.0 delivered equal
 * toStompHeaders(fromStompSend(...)), and header errors keep 0.1.0's codes and wording. Method: 0.1.0's results
 * (stored headers, delivered headers, errors) are literal tables in testing/mapping-0-1-0-cases.ts, computed once
 * with 0.1.0's code; each row goes through the model and through the stores' record codec. Seeded random SENDs
 * check what needs no 0.1.0 oracle: the record round trip and that no frame-level header is delivered. Likewise
 * 0.1.0's stored records (fromLegacyStored).
 * TODO(#13): the 0.1.0 code the tables came from is gone (commit 0224646 has it); drop the tables once 0.1.0
 * compatibility is no longer promised.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../../lib/errors.ts'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import { decodeMessage, encodeMessage, type PropertyValue, validateMessage } from '../../model/index.ts'
import {
  dedupeKey,
  forEachStompHeader,
  fromLegacyStored,
  fromStompSend,
  stompHeaderLookup,
  toStompHeaders,
} from './message-mapping.ts'
import { ERRORS_0_1_0, RANDOM_0_1_0, TABLE_0_1_0 } from './testing/mapping-0-1-0-cases.ts'

/** The `now` and generated id the frozen tables were computed with. */
const NOW = 1_700_000_000_000
const GEN_ID = 'ID:gen-1'
/** Frame-level headers 0.1.0 never delivered (connection.ts SEND_FRAME_HEADERS; the connector adds its own). */
const FRAME_LEVEL = ['receipt', 'transaction', 'content-length', 'subscription', 'ack', 'JMSXUserID']

function viaModel(destination: string, frame: Record<string, string>, body: Uint8Array) {
  const m = fromStompSend(destination, frame, body, { nowMs: NOW, newMessageId: () => GEN_ID })
  validateMessage(m)
  // Through the stores' record too: what is delivered after a restart must be the same.
  return { ...toStompHeaders(decodeMessage(encodeMessage(m))) }
}

const body = new TextEncoder().encode('hello')

describe('STOMP message mapping', () => {
  test('STOMP message mapping delivers the headers 0.1.0 delivered (table)', () => {
    for (const c of TABLE_0_1_0) {
      expect([c.name, viaModel(c.frame.destination!, c.frame, body)]).toEqual([c.name, c.delivered])
    }
  })

  test('STOMP message mapping delivers the headers 0.1.0 delivered (frozen seeded SENDs)', () => {
    for (const c of RANDOM_0_1_0) {
      expect([c.frame, viaModel(c.frame.destination!, c.frame, body)]).toEqual([c.frame, c.delivered])
    }
  })

  test('STOMP message mapping keeps the delivered headers through the record codec and drops frame-level ones (seeded random SENDs)', () => {
    const seed = seedFromEnv()
    const rnd = new SeededRandom(seed)
    const pool: [string, string[]][] = [
      ['persistent', ['true', 'false', 'TRUE', 'False']],
      ['priority', ['0', '9', ' 5 ', '']],
      ['expires', ['0', '1700000009999', '']],
      ['timestamp', ['1', '0', '']],
      ['correlation-id', ['c', '', 'a:b\nc']],
      ['reply-to', ['/queue/r', '/topic/r.s', 'r', '', '/queue/a,b']],
      ['type', ['t', '']],
      ['JMSXGroupID', ['g', '']],
      ['JMSXGroupSeq', ['0', '1', '-1', '01', 'x', '99999999999']],
      ['AMQ_SCHEDULED_DELAY', ['10']],
      ['AMQ_SCHEDULED_PERIOD', ['10']],
      ['message-id', ['m-1', 'p:7', '', 'p:07']],
      ['_AMQ_DUPL_ID', ['d-1', '']],
      ['receipt', ['1']],
      ['transaction', ['tx']],
      ['content-length', ['5']],
      ['redelivered', ['true']],
      ['subscription', ['s']],
      ['ack', ['x']],
      ['JMSXUserID', ['u']],
      ['amq-msg-type', ['text', 'bytes', 'map']],
      ['x-user', ['v', '', 'a\\b', 'ü']],
      ['content-type', ['text/plain']],
      ['original-destination', ['/queue/o']],
    ]
    const dests = ['/queue/a', '/topic/b.c', '/temp-queue/t', '/temp-topic/u..v']
    for (let k = 0; k < 3000; k++) {
      const dest = rnd.pick(dests)
      const frame: Record<string, string> = { destination: dest }
      for (const [h, values] of rnd.shuffle([...pool])) if (rnd.next() < 0.35) frame[h] = rnd.pick(values)
      const m = fromStompSend(dest, frame, body, { nowMs: NOW, newMessageId: () => GEN_ID })
      const direct = { ...toStompHeaders(m) }
      const got = viaModel(dest, frame, body)
      const leaked = FRAME_LEVEL.filter((h) => h in got)
      if (JSON.stringify(got) !== JSON.stringify(direct) || leaked.length > 0 || got.destination !== dest)
        throw new Error(`SEED=${seed}: ${JSON.stringify(frame)}: ${JSON.stringify(got)} vs ${JSON.stringify(direct)}`)
    }
  })

  test('STOMP message mapping forEachStompHeader emits toStompHeaders in its key order (seeded random messages)', () => {
    const seed = seedFromEnv()
    const rnd = new SeededRandom(seed)
    const names = [
      'x-user',
      'priority',
      'correlation-id',
      'reply-to',
      'type',
      'redelivered',
      'persistent',
      'JMSXUserID',
    ]
    names.push('JMSXGroupID', 'JMSXGroupSeq', 'destination', 'message-id', 'subscription', '7', '01', '-1', 'b', 'a')
    const values: PropertyValue[] = [
      { type: 'string', value: 'v:1\\n' },
      { type: 'boolean', value: true },
      { type: 'int', value: -3 },
      { type: 'long', value: 5n },
      { type: 'double', value: 0.5 },
      { type: 'bytes', value: new Uint8Array([1]) },
    ]
    for (let k = 0; k < 2000; k++) {
      const m = fromStompSend('/queue/a', { 'message-id': `m:${k}` }, body, { nowMs: NOW, newMessageId: () => GEN_ID })
      if (rnd.next() < 0.5) m.correlationId = 'c'
      if (rnd.next() < 0.5) m.redeliveryCount = 2
      if (rnd.next() < 0.5) m.replyTo = { kind: 'topic', name: 'r' }
      if (rnd.next() < 0.5) m.type = 't'
      if (rnd.next() < 0.5) m.userId = 'u'
      m.persistent = rnd.next() < 0.5
      if (rnd.next() < 0.5) m.groupId = 'g'
      if (rnd.next() < 0.5) m.groupSeq = -7
      for (const n of rnd.shuffle([...names])) if (rnd.next() < 0.3) m.properties.set(n, rnd.pick(values))
      const emitted: [string, string][] = []
      forEachStompHeader(m, (name, value) => emitted.push([name, value]))
      const want = Object.entries(toStompHeaders(m))
      if (JSON.stringify(emitted) !== JSON.stringify(want))
        throw new Error(`SEED=${seed}: ${JSON.stringify(emitted)} vs ${JSON.stringify(want)}`)
    }
  })

  test('STOMP message mapping keeps 0.1.0 error codes and wording', () => {
    for (const { headers: h, code, message } of ERRORS_0_1_0) {
      const errOf = (f: () => unknown) => {
        try {
          f()
        } catch (e) {
          return isBrokerError(e) ? [e.code, e.message] : [String(e)]
        }
        return ['no error']
      }
      expect(errOf(() => fromStompSend('/queue/a', h, body, { nowMs: NOW, newMessageId: () => GEN_ID }))).toEqual([
        code,
        message,
      ])
    }
    try {
      fromStompSend('/queue/a.*', {}, body, { nowMs: NOW, newMessageId: () => GEN_ID })
      throw new Error('accepted')
    } catch (e) {
      expect(isBrokerError(e, 'BROKER_DESTINATION_INVALID')).toBe(true)
      expect((e as Error).message).toBe(
        'SEND destination: "/queue/a.*" contains a wildcard (* or >); wildcard destinations are not supported yet',
      )
    }
  })

  test('STOMP message mapping chooses body kinds and dedupe identities', () => {
    const ctx = { nowMs: NOW, newMessageId: () => GEN_ID }
    expect(fromStompSend('/queue/a', {}, body, ctx).bodyKind).toBe('text')
    expect(fromStompSend('/queue/a', { 'content-length': '5' }, body, ctx).bodyKind).toBe('bytes')
    expect(fromStompSend('/queue/a', { 'content-length': '5', 'amq-msg-type': 'Text' }, body, ctx).bodyKind).toBe(
      'text',
    )
    const a = fromStompSend('/queue/a', { 'message-id': 'ID:c-1:1:1:42' }, body, ctx)
    expect(a.producer).toEqual({ id: 'ID:c-1:1:1', seq: 42 })
    expect(a.messageId).toBe('ID:c-1:1:1:42')
    expect(dedupeKey(a)).toBe('ID:c-1:1:1:42')
    const split: [string, { id: string; seq: number | null }][] = [
      ['plain', { id: 'plain', seq: null }],
      ['p:07', { id: 'p:07', seq: null }],
      [':5', { id: ':5', seq: null }],
      ['p:', { id: 'p:', seq: null }],
      ['p:0', { id: 'p', seq: 0 }],
      ['a:b:12', { id: 'a:b', seq: 12 }],
      ['p:1x', { id: 'p:1x', seq: null }],
      ['p:1234567890123456', { id: 'p', seq: 1234567890123456 }],
      ['p:9999999999999999', { id: 'p:9999999999999999', seq: null }],
      ['p:99999999999999999', { id: 'p:99999999999999999', seq: null }],
    ]
    for (const [id, producer] of split) {
      const m = fromStompSend('/queue/a', { _AMQ_DUPL_ID: id }, body, ctx)
      expect([id, dedupeKey(m), m.messageId, m.producer]).toEqual([id, id, id, producer])
    }
    const none = fromStompSend('/queue/a', {}, body, ctx)
    expect([none.producer, dedupeKey(none), none.messageId]).toEqual([null, null, GEN_ID])
    const routed = fromStompSend('/queue/a', { 'message-id': 'job:1' }, body, { ...ctx, dedupe: false })
    expect([routed.producer, routed.messageId]).toEqual([null, 'job:1'])
    const user = fromStompSend('/queue/a', { JMSXUserID: 'mallory' }, body, { ...ctx, userId: 'alice' })
    expect(toStompHeaders(user).JMSXUserID).toBe('alice')
    expect(stompHeaderLookup(user)('priority')).toBe('4')
    expect(stompHeaderLookup(user)('nope')).toBe(undefined)
  })

  test('STOMP message mapping reads 0.1.0 stored records as 0.1.0 delivered them', () => {
    for (const c of TABLE_0_1_0) {
      const m = fromLegacyStored(c.id, c.stored, body)
      validateMessage(m)
      expect([c.name, { ...toStompHeaders(m) }]).toEqual([c.name, c.delivered])
    }
    const stored = { destination: '/queue/a', 'message-id': 'x', priority: '4', expires: '0', timestamp: '1' }
    expect(fromLegacyStored('x', stored, body).bodyKind).toBe('text')
    expect(fromLegacyStored('x', stored, new Uint8Array([104, 0, 105])).bodyKind).toBe('bytes')
    expect(fromLegacyStored('x', stored, new Uint8Array([0xff, 0xfe])).bodyKind).toBe('bytes')
    expect(fromLegacyStored('x', { ...stored, 'amq-msg-type': 'bytes' }, body).bodyKind).toBe('bytes')
    const lax = fromLegacyStored('x', { ...stored, priority: '12', expires: 'junk' }, body)
    expect([lax.priority, lax.expiration]).toEqual([9, 0])
    try {
      fromLegacyStored('x', { ...stored, destination: 'nowhere' }, body)
      throw new Error('accepted')
    } catch (e) {
      expect(isBrokerError(e, 'STORAGE_CORRUPT_RECORD')).toBe(true)
    }
  })
})
