/**
 * CoreMessage helpers and property semantics: validation codes, memory size, expiry, dedupe keys, the JMS
 * conversion table and the values selectors see. Tables, no I/O.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import {
  convertProperty,
  copyMessage,
  createMessage,
  dedupeKey,
  isExpired,
  messageSize,
  prop,
  propertyAsSelectorValue,
  propertyAsString,
  selectorValue,
  setProperty,
  validateMessage,
} from './index.ts'

const base = () => createMessage({ messageId: 'm1', destination: { kind: 'queue', name: 'q' }, timestamp: 10 })

function code(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    return isBrokerError(e) ? e.code : `not a BrokerError: ${e}`
  }
  return 'no error'
}

describe('CoreMessage', () => {
  test('CoreMessage defaults are JMS defaults', () => {
    const m = base()
    expect(m.priority).toBe(4)
    expect(m.expiration).toBe(0)
    expect(m.persistent).toBe(false)
    expect(m.bodyKind).toBe('none')
    expect(m.origin).toEqual({ protocol: 'internal' })
    validateMessage(m)
  })

  test('CoreMessage validation rejects out-of-range fields with BROKER_HEADER_INVALID', () => {
    const bad: Partial<Parameters<typeof createMessage>[0]>[] = [
      { priority: 10 },
      { priority: -1 },
      { priority: 1.5 },
      { timestamp: -1 },
      { expiration: 2 ** 60 },
      { redeliveryCount: -1 },
      { groupSeq: 2 ** 31 },
      { groupId: '' },
      { messageId: '' },
      { bodyKind: 'none', body: new Uint8Array(1) },
      { producer: { id: '', seq: 1 } },
      { producer: { id: 'p', seq: -1 } },
      { origin: { protocol: 'mqtt', mqtt: { qos: 3 as 0, retain: false } } },
      { properties: new Map([['x', { type: 'int', value: 2 ** 31 }]]) },
      { properties: new Map([['x', { type: 'long', value: 2n ** 63n }]]) },
      { properties: new Map([['x', { type: 'float', value: 0.1 }]]) },
    ]
    for (const b of bad)
      expect([b, code(() => validateMessage({ ...base(), ...b } as never))]).toEqual([b, 'BROKER_HEADER_INVALID'])
  })

  test('CoreMessage size, expiry, copy and dedupe key', () => {
    const m = base()
    const s0 = messageSize(m)
    setProperty(m, 'abc', prop.string('12345'))
    expect(messageSize(m)).toBe(s0 + 8 + 3 + 5)
    expect(isExpired(m, 1e15)).toBe(false)
    m.expiration = 100
    expect(isExpired(m, 100)).toBe(false)
    expect(isExpired(m, 101)).toBe(true)
    const c = copyMessage(m, { priority: 7 })
    c.properties.delete('abc')
    expect(m.properties.has('abc')).toBe(true)
    expect(dedupeKey(m)).toBe(null)
    expect(dedupeKey({ ...m, producer: { id: 'ID:a:1:1', seq: 5 } })).toBe('ID:a:1:1:5')
    expect(dedupeKey({ ...m, producer: { id: 'client-key', seq: null } })).toBe('client-key')
    expect(code(() => setProperty(m, 'x', { type: 'byte', value: 128 }))).toBe('BROKER_HEADER_INVALID')
  })

  test('CoreMessage selector values read fields, JMSX names and properties', () => {
    const m = createMessage({
      messageId: 'id',
      destination: { kind: 'topic', name: 't' },
      replyTo: { kind: 'queue', name: 'r' },
      timestamp: 5,
      persistent: true,
      redeliveryCount: 2,
      groupId: 'g',
      properties: new Map([
        ['n', prop.long(42n)],
        ['b', prop.bytes(new Uint8Array(1))],
      ]),
    })
    expect(selectorValue(m, 'JMSDestination')).toBe('/topic/t')
    expect(selectorValue(m, 'JMSReplyTo')).toBe('/queue/r')
    expect(selectorValue(m, 'JMSDeliveryMode')).toBe('PERSISTENT')
    expect(selectorValue(m, 'JMSPriority')).toBe(4)
    expect(selectorValue(m, 'JMSRedelivered')).toBe(true)
    expect(selectorValue(m, 'JMSXDeliveryCount')).toBe(3)
    expect(selectorValue(m, 'JMSXGroupID')).toBe('g')
    expect(selectorValue(m, 'n')).toBe(42)
    expect(selectorValue(m, 'b')).toBe(null)
    expect(selectorValue(m, 'missing')).toBe(null)
  })
})

describe('properties', () => {
  test('properties convert as the JMS table allows', () => {
    expect(convertProperty('p', prop.byte(5), 'long')).toEqual({ type: 'long', value: 5n })
    expect(convertProperty('p', prop.short(5), 'int')).toEqual({ type: 'int', value: 5 })
    expect(convertProperty('p', prop.float(0.5), 'double')).toEqual({ type: 'double', value: 0.5 })
    expect(convertProperty('p', prop.string('42'), 'short')).toEqual({ type: 'short', value: 42 })
    expect(convertProperty('p', prop.string('-9223372036854775808'), 'long')).toEqual(prop.long(-(2n ** 63n)))
    expect(convertProperty('p', prop.string('TRUE'), 'boolean')).toEqual(prop.boolean(true))
    expect(convertProperty('p', prop.string('1.5'), 'double')).toEqual(prop.double(1.5))
    expect(convertProperty('p', prop.int(7), 'string')).toEqual(prop.string('7'))
    for (const [p, to] of [
      [prop.int(1), 'short'],
      [prop.long(1n), 'int'],
      [prop.double(1), 'float'],
      [prop.boolean(true), 'int'],
      [prop.bytes(new Uint8Array(0)), 'string'],
      [prop.string('x'), 'int'],
      [prop.string('300'), 'byte'],
      [prop.string('1.5'), 'long'],
      [prop.string('abc'), 'double'],
    ] as const)
      expect(code(() => convertProperty('p', p, to))).toBe('BROKER_HEADER_INVALID')
  })

  test('properties spell numbers as Java does', () => {
    expect(propertyAsString(prop.double(1))).toBe('1.0')
    expect(propertyAsString(prop.double(0.001))).toBe('0.001')
    expect(propertyAsString(prop.double(1e7))).toBe('1.0E7')
    expect(propertyAsString(prop.double(1.5e-4))).toBe('1.5E-4')
    expect(propertyAsString(prop.double(-0))).toBe('-0.0')
    expect(propertyAsString(prop.double(Number.NaN))).toBe('NaN')
    expect(propertyAsString(prop.float(0.1))).toBe('0.1')
    expect(propertyAsString(prop.float(3.4028234663852886e38))).toBe('3.4028235E38')
    expect(propertyAsString(prop.long(-(2n ** 63n)))).toBe('-9223372036854775808')
    expect(propertyAsString(prop.boolean(false))).toBe('false')
    expect(propertyAsString(prop.bytes(new Uint8Array(1)))).toBe(null)
    expect(propertyAsSelectorValue(prop.string('x'))).toBe('x')
    expect(propertyAsSelectorValue(undefined)).toBe(null)
  })
})
