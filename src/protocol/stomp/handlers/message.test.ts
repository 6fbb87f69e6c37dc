/**
 * writeMessage builds the MESSAGE head itself (no header map per delivery). Goal: its frames are byte for byte the
 * ones the connector wrote from toStompHeaders through encodeFrame before. Method: seeded random messages (fields,
 * typed properties with names that collide with headers, characters that need escaping) × STOMP versions ×
 * subscription shapes, each written by writeMessage and by that reference, compared as bytes.
 */
import { describe, expect, test } from 'bun:test'
import type { Delivery } from '../../../broker/types.ts'
import { SeededRandom, seedFromEnv } from '../../../lib/random.ts'
import { createMessage, type CoreMessage, type PropertyValue } from '../../../model/index.ts'
import { encodeFrame } from '../frame-encoder.ts'
import type { StompVersion } from '../frame.ts'
import { toStompHeaders } from '../message-mapping.ts'
import type { Subscription } from './context.ts'
import { writeMessage } from './message.ts'

const OWN = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

/** The frame as the connector wrote it before: toStompHeaders, minus its own headers, through encodeFrame. */
function reference(sub: Subscription, d: Delivery, version: StompVersion): Buffer {
  const m = d.message
  const h = toStompHeaders(m)
  const headers: Array<[string, string]> = []
  if (!sub.implicitId) headers.push(['subscription', sub.id])
  headers.push(['message-id', m.messageId], ['destination', h.destination!])
  if (sub.ack !== 'auto' && version === '1.2') headers.push(['ack', d.ackId])
  for (const k in h) if (!OWN.has(k)) headers.push([k, h[k]!])
  if (d.groupFirst) headers.push(['JMSXGroupFirstForConsumer', 'true'])
  return encodeFrame('MESSAGE', headers, m.body, version)
}

function written(sub: Subscription, d: Delivery, version: StompVersion): Buffer {
  const parts: Buffer[] = []
  writeMessage(
    {
      write: (b) => parts.push(b),
      writeFrame: (head, body) => parts.push(Buffer.from(head, 'utf8'), Buffer.from(body), Buffer.from([0])),
    },
    sub,
    d,
    version,
  )
  return Buffer.concat(parts)
}

describe('MESSAGE frame', () => {
  test('writeMessage writes the frames toStompHeaders + encodeFrame wrote (seeded random messages)', () => {
    const seed = seedFromEnv()
    const rnd = new SeededRandom(seed)
    const texts = ['v', 'a:b', 'x\\y', 'l\nm', 'c\rr', 'ü€', '']
    const names = ['x-user', 'priority', 'correlation-id', 'type', 'persistent', 'JMSXGroupSeq', 'subscription']
    names.push('ack', 'content-length', 'destination', 'message-id', 'JMSXGroupFirstForConsumer', '3', 'k:v', 'n\nl')
    const values: PropertyValue[] = [
      { type: 'string', value: 'p:q\\r' },
      { type: 'boolean', value: false },
      { type: 'long', value: -9n },
      { type: 'float', value: 1.5 },
      { type: 'bytes', value: new Uint8Array([7]) },
    ]
    const versions: StompVersion[] = ['1.0', '1.1', '1.2']
    for (let k = 0; k < 1500; k++) {
      const m: CoreMessage = createMessage({
        messageId: `ID:m-${rnd.pick(texts)}-${k}`,
        destination: { kind: rnd.pick(['queue', 'topic', 'temp-queue'] as const), name: `d.${rnd.pick(texts)}x` },
        timestamp: k,
        body: rnd.next() < 0.2 ? new Uint8Array(0) : new TextEncoder().encode(`body ${k}`),
      })
      if (rnd.next() < 0.4) m.correlationId = rnd.pick(texts)
      if (rnd.next() < 0.3) m.redeliveryCount = 1
      if (rnd.next() < 0.3) m.replyTo = { kind: 'queue', name: 'r' }
      if (rnd.next() < 0.3) m.type = rnd.pick(texts)
      if (rnd.next() < 0.3) m.userId = 'u'
      m.persistent = rnd.next() < 0.5
      if (rnd.next() < 0.3) m.groupId = 'g'
      if (rnd.next() < 0.3) m.groupSeq = 2
      for (const n of names) if (rnd.next() < 0.2) m.properties.set(n, rnd.pick(values))
      const sub: Subscription = {
        id: `s:${rnd.pick(texts)}`,
        implicitId: rnd.next() < 0.3,
        destination: '/queue/d',
        ack: rnd.pick(['auto', 'client', 'client-individual'] as const),
        unacked: new Map(),
        held: null,
      }
      const d: Delivery = { subscriptionId: sub.id, ackId: `a:${k}`, message: m, redelivered: false }
      if (rnd.next() < 0.2) d.groupFirst = true
      const version = rnd.pick(versions)
      const got = written(sub, d, version)
      const want = reference(sub, d, version)
      if (!got.equals(want)) throw new Error(`SEED=${seed} case ${k} (${version}):\n${got}\n--- expected ---\n${want}`)
    }
  })

  test('writeMessage remembers the ack id of 1.0/1.1 client-ack deliveries and writes a browser end', () => {
    const m = createMessage({ messageId: 'm1', destination: { kind: 'queue', name: 'q' }, timestamp: 1 })
    const sub: Subscription = {
      id: 's',
      implicitId: false,
      destination: '/queue/q',
      ack: 'client',
      unacked: new Map(),
      held: null,
    }
    written(sub, { subscriptionId: 's', ackId: 'a1', message: m, redelivered: false }, '1.1')
    expect([...sub.unacked]).toEqual([['m1', 'a1']])
    const end = written(
      sub,
      { subscriptionId: 's', ackId: '', message: m, redelivered: false, browserEnd: true },
      '1.2',
    )
    expect(end.toString()).toBe(
      'MESSAGE\nsubscription:s\ndestination:/queue/q\nmessage-id:0\nbrowser:end\ncontent-length:0\n\n\0',
    )
  })
})
