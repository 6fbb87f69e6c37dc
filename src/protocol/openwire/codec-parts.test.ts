/**
 * The codec's parts on their own: modified UTF-8 edge cases, the primitive map's limits, WireFormatInfo
 * reading and negotiation rules, and message bodies (compressed ones inflate only up to bodyBytesMax).
 * Inputs are built by hand so each case shows the bytes it is about.
 */
import { describe, expect, test } from 'bun:test'
import { deflateSync } from 'node:zlib'
import { BrokerError } from '../../lib/errors.ts'
import type { Message } from './commands.ts'
import { DataReader } from './data-reader.ts'
import { DataWriter } from './data-writer.ts'
import {
  plainContent,
  readMapBody,
  readTextBody,
  readTextBodyUtf8,
  writeMapBody,
  writeTextBody,
  writeTextBodyUtf8,
} from './message-body.ts'
import { decodeModifiedUtf8, modifiedUtf8Length } from './modified-utf8.ts'
import { PRIMITIVE_DEPTH_MAX, type PrimitiveMap, readPrimitiveMapBody, writePrimitiveMapBody } from './primitive-map.ts'
import { brokerWireFormatInfo, negotiate, OPENWIRE_MAGIC, readWireFormatSettings } from './wire-format.ts'

function thrown(f: () => unknown): BrokerError {
  try {
    f()
  } catch (e) {
    if (e instanceof BrokerError) return e
    throw e
  }
  throw new Error('expected a BrokerError')
}

const OFFER = {
  maxFrameSize: 1 << 20,
  maxInactivityDurationMs: 30000,
  maxInactivityDurationInitialDelayMs: 10000,
  stackTraceEnabled: false,
  tcpNoDelayEnabled: true,
  providerName: 'sfbroker',
  providerVersion: '0',
  platformDetails: 'test',
}

describe('modified UTF-8', () => {
  test('modified UTF-8 writes NUL as C0 80 and supplementary characters as two 3-byte surrogates', () => {
    const w = new DataWriter(100)
    w.utf('\u0000\ud834\udd1e')
    expect([...w.toBytes()]).toEqual([0xc0, 0x80, 0xed, 0xa0, 0xb4, 0xed, 0xb4, 0x9e])
    expect(modifiedUtf8Length('\u0000\ud834\udd1e')).toBe(8)
    const back = decodeModifiedUtf8(w.toBytes(), 0, 8)
    expect(back).toEqual({ ok: true, value: '\u0000\ud834\udd1e' })
  })

  test('modified UTF-8 accepts standard 4-byte sequences and refuses bad bytes with their offset', () => {
    expect(decodeModifiedUtf8(new Uint8Array([0xf0, 0x9d, 0x84, 0x9e]), 0, 4)).toEqual({
      ok: true,
      value: '\ud834\udd1e',
    })
    expect(decodeModifiedUtf8(new Uint8Array([0x41, 0xff]), 0, 2)).toMatchObject({ ok: false, at: 1 })
    expect(decodeModifiedUtf8(new Uint8Array([0xe2, 0x98]), 0, 2)).toMatchObject({ ok: false, at: 0 })
  })

  test('DataWriter.writeUtf refuses strings over 65535 encoded bytes as Java does', () => {
    expect(thrown(() => new DataWriter(1 << 20).writeUtf('\u2603'.repeat(21846), 'x')).code).toBe(
      'OPENWIRE_FRAME_INVALID',
    )
  })
})

describe('primitive map', () => {
  test('primitive map keeps order and types, and writes long strings as BIG_STRING', () => {
    const m: PrimitiveMap = new Map([
      ['z', { kind: 'string', value: 'x'.repeat(9000) }],
      ['a', { kind: 'int', value: 1 }],
    ])
    const w = new DataWriter(1 << 20)
    writePrimitiveMapBody(w, m, 'test')
    expect(w.toBytes()[7]).toBe(13)
    expect(readPrimitiveMapBody(new DataReader(w.toBytes()))).toEqual(m)
  })

  test(`primitive map refuses nesting past PRIMITIVE_DEPTH_MAX (${PRIMITIVE_DEPTH_MAX}), unknown tags and duplicate keys`, () => {
    const nested: number[] = []
    for (let i = 0; i <= PRIMITIVE_DEPTH_MAX + 1; i++) nested.push(0, 0, 0, 1, 0, 1, 0x6b, 11)
    nested.push(0, 0, 0, 0)
    expect(thrown(() => readPrimitiveMapBody(new DataReader(new Uint8Array(nested)))).message).toContain('depth')
    expect(
      thrown(() => readPrimitiveMapBody(new DataReader(new Uint8Array([0, 0, 0, 1, 0, 1, 0x6b, 99])))).message,
    ).toContain('type tag 99')
    const dup = new Uint8Array([0, 0, 0, 2, 0, 1, 0x6b, 0, 0, 1, 0x6b, 0])
    expect(thrown(() => readPrimitiveMapBody(new DataReader(dup))).message).toContain('duplicate key')
    const forged = new Uint8Array([0x7f, 0xff, 0xff, 0xff])
    expect(thrown(() => readPrimitiveMapBody(new DataReader(forged))).details?.truncated).toBe(true)
  })
})

describe('WireFormatInfo', () => {
  test('negotiate takes the smaller version and frame size and ANDs the booleans', () => {
    const broker = readWireFormatSettings(brokerWireFormatInfo(OFFER))
    const client = { ...broker, version: 11, maxFrameSize: 4096, tcpNoDelayEnabled: false, stackTraceEnabled: true }
    expect(negotiate(broker, client)).toMatchObject({
      version: 11,
      maxFrameSize: 4096,
      tcpNoDelayEnabled: false,
      stackTraceEnabled: false,
    })
    expect(negotiate(broker, { ...client, maxInactivityDurationMs: 0 }).maxInactivityDurationMs).toBe(0)
    expect(thrown(() => negotiate(broker, { ...client, version: 9 })).code).toBe('OPENWIRE_UNSUPPORTED')
  })

  test('readWireFormatSettings refuses a bad magic and mistyped properties, naming the property', () => {
    const info = brokerWireFormatInfo(OFFER)
    expect(thrown(() => readWireFormatSettings({ ...info, magic: new Uint8Array(8) })).message).toContain('magic')
    const props = new Map(info.properties!)
    props.set('MaxFrameSize', { kind: 'string', value: '10' })
    expect(thrown(() => readWireFormatSettings({ ...info, properties: props })).message).toContain('MaxFrameSize')
    expect(readWireFormatSettings({ ...info, properties: null }).maxFrameSize).toBe(Number.MAX_SAFE_INTEGER)
    expect(info.magic).toEqual(OPENWIRE_MAGIC)
  })
})

describe('message bodies', () => {
  const msg = (type: Message['type'], content: Uint8Array | null, compressed = false) =>
    ({ type, content, compressed }) as Message

  test('text and map bodies round-trip, compressed text inflates', () => {
    const body = writeTextBody('h\u00e9llo')
    expect(readTextBody(msg('TextMessage', body), 100)).toBe('h\u00e9llo')
    expect(readTextBody(msg('TextMessage', writeTextBody(null)), 100)).toBeNull()
    expect(readTextBody(msg('TextMessage', new Uint8Array(deflateSync(body)), true), 100)).toBe('h\u00e9llo')
    const m: PrimitiveMap = new Map([['k', { kind: 'boolean', value: true }]])
    expect(readMapBody(msg('MapMessage', writeMapBody(m)), 100)).toEqual(m)
  })

  test('UTF-8 text bodies equal the string path, ASCII taken as is and the rest transcoded', () => {
    const utf8 = new TextEncoder()
    const texts = [
      '',
      'plain ascii',
      'a\u0000b',
      'h\u00e9llo',
      '\u{1f600} smile',
      'x'.repeat(5000),
      '\u00e9'.repeat(100),
    ]
    for (const t of texts) {
      const bytes = utf8.encode(t)
      expect(writeTextBodyUtf8(bytes)).toEqual(writeTextBody(t))
      expect(readTextBodyUtf8(msg('TextMessage', writeTextBody(t)), 1 << 20)).toEqual(bytes)
    }
    expect(readTextBodyUtf8(msg('TextMessage', writeTextBody(null)), 100)).toBeNull()
    // A length that disagrees with the content is refused as before, not taken as ASCII.
    const bad = writeTextBody('abc')
    bad[3] = 2
    expect(thrown(() => readTextBodyUtf8(msg('TextMessage', bad), 100)).code).toBe('OPENWIRE_FRAME_INVALID')
  })

  test('compressed bodies inflate only up to bodyBytesMax', () => {
    const big = new Uint8Array(100_000)
    const packed = new Uint8Array(deflateSync(big))
    expect(thrown(() => plainContent(msg('TextMessage', packed, true), 1000)).code).toBe('OPENWIRE_FRAME_INVALID')
    const withLength = new Uint8Array([0, 1, 0x86, 0xa0, ...packed])
    expect(thrown(() => plainContent(msg('BytesMessage', withLength, true), 1000)).message).toContain('100000')
    expect(plainContent(msg('BytesMessage', withLength, true), 200_000)).toEqual(big)
  })
})
