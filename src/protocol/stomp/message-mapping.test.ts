/**
 * STOMP ↔ CoreMessage. The goal: for any SEND, the MESSAGE headers sfbroker 0.1.0 delivered equal
 * toStompHeaders(fromStompSend(...)), and header errors keep 0.1.0's codes and wording. Method: the 0.1.0 path is
 * rebuilt from its real pieces (broker/message.ts buildMessage and dedupeKey; the two header sets of
 * protocol/stomp/connection.ts, which are module-private there and so restated below) and compared over a table of
 * cases plus seeded random header combinations. Likewise for 0.1.0's stored records (fromLegacyStored).
 * TODO(#13): once the broker delivers through the model, freeze `delivered0_1_0` as literal expectations.
 */
import { describe, expect, test } from 'bun:test'
import { buildMessage, dedupeKey as dedupeKey010 } from '../../broker/message.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import { decodeMessage, encodeMessage, validateMessage } from '../../model/index.ts'
import { dedupeKey, fromLegacyStored, fromStompSend, stompHeaderLookup, toStompHeaders } from './message-mapping.ts'

/** connection.ts SEND_FRAME_HEADERS and MESSAGE_OWN_HEADERS (0.1.0). */
const SEND_FRAME_HEADERS = new Set([
  'receipt',
  'transaction',
  'content-length',
  'redelivered',
  'subscription',
  'ack',
  'JMSXUserID',
])
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])
const NOW = 1_700_000_000_000
const GEN_ID = 'ID:gen-1'

/** What 0.1.0 stored for a SEND (the normalised header map), and the headers its MESSAGE carried. */
function path0_1_0(destination: string, frame: Record<string, string>, body: Uint8Array) {
  const headers: Record<string, string> = {}
  for (const k in frame) if (!SEND_FRAME_HEADERS.has(k)) headers[k] = frame[k]!
  const key = dedupeKey010(headers)
  const id = key ?? (headers['message-id'] || GEN_ID)
  const msg = buildMessage(destination, headers, body, id, NOW, null)
  return { id: msg.id, stored: msg.headers, delivered: delivered0_1_0(msg.id, msg.headers) }
}

function delivered0_1_0(id: string, headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { 'message-id': id, destination: headers.destination! }
  for (const k in headers) if (!MESSAGE_OWN_HEADERS.has(k)) out[k] = headers[k]!
  return out
}

function viaModel(destination: string, frame: Record<string, string>, body: Uint8Array) {
  const m = fromStompSend(destination, frame, body, { nowMs: NOW, newMessageId: () => GEN_ID })
  validateMessage(m)
  // Through the stores' record too: what is delivered after a restart must be the same.
  return { ...toStompHeaders(decodeMessage(encodeMessage(m))) }
}

const body = new TextEncoder().encode('hello')

const TABLE: [string, Record<string, string>][] = [
  ['plain', { destination: '/queue/a' }],
  ['persistent', { destination: '/queue/a', persistent: 'TRUE', receipt: 'r1', 'content-length': '5' }],
  ['not persistent', { destination: '/topic/t', persistent: 'false' }],
  ['priority etc', { destination: '/queue/a', priority: ' 7 ', expires: '0012', timestamp: '99' }],
  ['empty numbers', { destination: '/queue/a', priority: '', expires: '', timestamp: '' }],
  ['jms headers', { destination: '/queue/a', 'correlation-id': 'c:1', 'reply-to': '/temp-queue/r', type: 'T' }],
  ['bad reply-to', { destination: '/queue/a', 'reply-to': 'not/a/destination' }],
  ['wildcard reply-to', { destination: '/queue/a', 'reply-to': '/topic/a.*' }],
  ['groups', { destination: '/queue/a', JMSXGroupID: 'g1', JMSXGroupSeq: '-3' }],
  ['odd groups', { destination: '/queue/a', JMSXGroupID: '', JMSXGroupSeq: '007' }],
  ['big group seq', { destination: '/queue/a', JMSXGroupSeq: '2147483648' }],
  ['client id', { destination: '/queue/a', 'message-id': 'ID:client-1:1:1:42' }],
  ['dupl id', { destination: '/queue/a', _AMQ_DUPL_ID: 'dup-1', 'message-id': '' }],
  ['both ids', { destination: '/queue/a', 'message-id': 'm', _AMQ_DUPL_ID: 'd' }],
  ['scheduled', { destination: '/queue/a', AMQ_SCHEDULED_DELAY: '1000', AMQ_SCHEDULED_CRON: '* * * * *' }],
  [
    'frame-level',
    {
      destination: '/queue/a',
      transaction: 'tx',
      ack: 'a',
      subscription: 's',
      redelivered: 'true',
      JMSXUserID: 'mallory',
    },
  ],
  [
    'escaped',
    { destination: '/queue/a', 'x:colon': 'a:b', 'x-nl': 'line\nbreak', 'x-bs': 'back\\slash', 'ü😀': 'ü😀', '': '' },
  ],
  ['msg type', { destination: '/queue/a', 'amq-msg-type': 'bytes' }],
]

describe('STOMP message mapping', () => {
  test('STOMP message mapping delivers the headers 0.1.0 delivered (table)', () => {
    for (const [name, frame] of TABLE) {
      const dest = frame.destination!
      expect([name, viaModel(dest, frame, body)]).toEqual([name, path0_1_0(dest, frame, body).delivered])
    }
  })

  test('STOMP message mapping delivers the headers 0.1.0 delivered (seeded random SENDs)', () => {
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
      const want = path0_1_0(dest, frame, body).delivered
      const got = viaModel(dest, frame, body)
      if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(want).sort()))
        throw new Error(`SEED=${seed}: ${JSON.stringify(frame)}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`)
    }
  })

  test('STOMP message mapping keeps 0.1.0 error codes and wording', () => {
    const bad: Record<string, string>[] = [
      { priority: '10' },
      { priority: 'x' },
      { expires: '-1' },
      { timestamp: '1.5' },
      { persistent: 'yes' },
      { priority: '1', persistent: 'no' },
    ]
    for (const h of bad) {
      const errOf = (f: () => unknown) => {
        try {
          f()
        } catch (e) {
          return isBrokerError(e) ? [e.code, e.message] : [String(e)]
        }
        return ['no error']
      }
      const want = errOf(() => buildMessage('/queue/a', h, body, 'id', NOW, null))
      expect(want[0]).toBe('BROKER_HEADER_INVALID')
      expect(errOf(() => fromStompSend('/queue/a', h, body, { nowMs: NOW, newMessageId: () => GEN_ID }))).toEqual(want)
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
    for (const id of ['plain', 'p:07', ':5', 'p:99999999999999999']) {
      const m = fromStompSend('/queue/a', { _AMQ_DUPL_ID: id }, body, ctx)
      expect([id, dedupeKey(m), m.messageId]).toEqual([id, id, id])
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
    for (const [name, frame] of TABLE) {
      const dest = frame.destination!
      const old = path0_1_0(dest, frame, body)
      const m = fromLegacyStored(old.id, old.stored, body)
      validateMessage(m)
      expect([name, { ...toStompHeaders(m) }]).toEqual([name, delivered0_1_0(old.id, old.stored)])
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
