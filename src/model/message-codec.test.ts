/**
 * The stores' message record: exact round trips of every field, property type and body kind; seeded fuzzing of
 * the decoder (random bytes, truncations, single-byte corruptions of valid records), which must return a valid
 * message or throw STORAGE_CORRUPT_RECORD, never anything else; and a printed cost of encode + decode.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { SeededRandom, seedFromEnv } from '../lib/random.ts'
import {
  BODY_KINDS,
  type CoreMessage,
  createMessage,
  decodeMessage,
  encodeMessage,
  MESSAGE_FORMAT_VERSION,
  type PropertyValue,
  prop,
  validateMessage,
} from './index.ts'

const utf8 = (s: string) => new TextEncoder().encode(s)

function full(): CoreMessage {
  return createMessage({
    messageId: 'ID:host-1-2-3:1:1:7',
    destination: { kind: 'topic', name: 'a.b.ü' },
    replyTo: { kind: 'temp-queue', name: 'r' },
    correlationId: 'corr-ü-😀',
    type: 'Order',
    timestamp: 1_700_000_000_123,
    expiration: Number.MAX_SAFE_INTEGER,
    priority: 9,
    persistent: true,
    redeliveryCount: 3,
    groupId: 'g',
    groupSeq: -(2 ** 31),
    properties: new Map<string, PropertyValue>([
      ['s', prop.string('x'.repeat(300))],
      ['empty', prop.string('')],
      ['', prop.string('empty name')],
      ['t', prop.boolean(true)],
      ['f', prop.boolean(false)],
      ['b', prop.byte(-128)],
      ['sh', prop.short(32767)],
      ['i', prop.int(-2147483648)],
      ['l', prop.long(-(2n ** 63n))],
      ['lmax', prop.long(2n ** 63n - 1n)],
      ['fl', prop.float(0.1)],
      ['d', prop.double(-0)],
      ['nan', prop.double(Number.NaN)],
      ['inf', prop.double(-Infinity)],
      ['bytes', prop.bytes(new Uint8Array([0, 255, 1]))],
      ['ü-😀', prop.string('ü-😀')],
    ]),
    bodyKind: 'map',
    body: new Uint8Array([1, 2, 0, 3]),
    producer: { id: 'ID:host-1-2-3:1:1', seq: 7 },
    origin: { protocol: 'mqtt', mqtt: { qos: 2, retain: true } },
    userId: 'alice',
  })
}

function stompText(): CoreMessage {
  return createMessage({
    messageId: 'ID:broker-4242-1700000000000-1:123456',
    destination: { kind: 'queue', name: 'orders.eu' },
    timestamp: 1_700_000_000_123,
    persistent: true,
    properties: new Map(
      ['content-type', 'app-id', 'trace', 'tenant', 'x-retry'].map((k, i) => [k, prop.string(`value-${i}-abc`)]),
    ),
    bodyKind: 'text',
    body: utf8('x'.repeat(1024)),
    origin: { protocol: 'stomp' },
  })
}

function corruptOrValid(bytes: Uint8Array, seed: number): void {
  try {
    validateMessage(decodeMessage(bytes))
  } catch (e) {
    if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD'))
      throw new Error(`SEED=${seed}: ${Buffer.from(bytes).toString('hex')} threw ${e}`)
  }
}

describe('message codec', () => {
  test('message codec round-trips every field and property type exactly', () => {
    const m = full()
    validateMessage(m)
    const bytes = encodeMessage(m)
    expect(bytes[0]).toBe(MESSAGE_FORMAT_VERSION)
    const back = decodeMessage(bytes)
    expect(back).toEqual(m)
    expect(Object.is(back.properties.get('d')!.value, -0)).toBe(true)
    expect([...back.properties.keys()]).toEqual([...m.properties.keys()])
    // The decoded body does not alias the record.
    bytes[bytes.length - 1] = 99
    expect(back.body[3]).toBe(3)
  })

  test('message codec round-trips every body kind and the minimal message', () => {
    for (const bodyKind of BODY_KINDS) {
      const body = bodyKind === 'none' ? new Uint8Array(0) : utf8(`body of ${bodyKind}`)
      const m = createMessage({
        messageId: 'm',
        destination: { kind: 'queue', name: 'q' },
        timestamp: 0,
        bodyKind,
        body,
      })
      expect(decodeMessage(encodeMessage(m))).toEqual(m)
    }
    const big = createMessage({
      messageId: 'ü'.repeat(50_000),
      destination: { kind: 'queue', name: 'q' },
      timestamp: 5,
      body: new Uint8Array(200_000).fill(7),
      producer: { id: 'p', seq: null },
    })
    expect(decodeMessage(encodeMessage(big))).toEqual(big)
  })

  test('message codec rejects a wrong version, trailing bytes and bad tags with STORAGE_CORRUPT_RECORD', () => {
    const good = encodeMessage(stompText())
    const expectCorrupt = (b: Uint8Array, field: string) => {
      try {
        decodeMessage(b)
        throw new Error('decoded')
      } catch (e) {
        expect(isBrokerError(e, 'STORAGE_CORRUPT_RECORD')).toBe(true)
        expect((e as { details: { field: string } }).details.field).toBe(field)
        expect((e as Error).message).toContain('offset')
      }
    }
    const v1 = good.slice()
    v1[0] = 1
    expectCorrupt(v1, 'version')
    expectCorrupt(new Uint8Array([...good, 0]), 'end')
    expectCorrupt(good.subarray(0, good.length - 1), 'body')
    const badPriority = good.slice()
    badPriority[5] = 10
    expectCorrupt(badPriority, 'priority')
    const badKind = good.slice()
    badKind[4] = 6
    expectCorrupt(badKind, 'bodyKind')
    expectCorrupt(new Uint8Array(0), 'version')
  })

  test('message codec decoder survives seeded random bytes, truncations and corruptions', () => {
    const seed = seedFromEnv()
    const rnd = new SeededRandom(seed)
    const records = [encodeMessage(full()), encodeMessage(stompText())]
    for (let k = 0; k < 3000; k++) {
      const n = rnd.int(0, 80)
      const b = new Uint8Array(n)
      for (let i = 0; i < n; i++) b[i] = rnd.int(0, 255)
      if (n > 0 && rnd.next() < 0.5) b[0] = MESSAGE_FORMAT_VERSION
      corruptOrValid(b, seed)
    }
    for (const r of records) {
      for (let cut = 0; cut < r.length; cut++) corruptOrValid(r.subarray(0, cut), seed)
      for (let k = 0; k < 2000; k++) {
        const b = r.slice()
        b[rnd.int(0, b.length - 1)] = rnd.int(0, 255)
        corruptOrValid(b, seed)
      }
    }
  })

  test('message codec cost of encode + decode of a 1 KiB STOMP text message is printed', () => {
    const m = stompText()
    for (let i = 0; i < 2000; i++) decodeMessage(encodeMessage(m))
    const n = 20_000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) decodeMessage(encodeMessage(m))
    const us = ((performance.now() - t0) * 1000) / n
    console.log(`message codec: ${us.toFixed(2)} µs per encode + decode (1 KiB text, 5 properties)`)
    expect(decodeMessage(encodeMessage(m))).toEqual(m)
  })
})
