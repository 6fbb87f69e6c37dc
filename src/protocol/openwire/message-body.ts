/**
 * Message bodies (`Message.content`) per message type, as the ActiveMQ client writes them: TextMessage an int
 * length and modified UTF-8 (-1 = null text), MapMessage a primitive map, StreamMessage a run of primitives,
 * BytesMessage the bytes, ObjectMessage a Java-serialized object that sfbroker only carries. A compressed body
 * (the client's useCompression) is zlib, and for BytesMessage prefixed by its inflated length; inflating is
 * capped at `bodyBytesMax` so a small frame cannot expand without bound. Writers produce uncompressed bodies.
 */
import { inflateSync } from 'node:zlib'
import { BrokerError } from '../../lib/errors.ts'
import type { Message } from './commands.ts'
import { DataReader } from './data-reader.ts'
import { DataWriter } from './data-writer.ts'
import { isAsciiRange } from './modified-utf8.ts'
import {
  type Primitive,
  type PrimitiveMap,
  readPrimitive,
  readPrimitiveMapBody,
  writePrimitive,
  writePrimitiveMapBody,
} from './primitive-map.ts'

function bodyError(m: Message, found: string, expected: string, cause?: unknown): BrokerError {
  return new BrokerError('OPENWIRE_FRAME_INVALID', `openwire ${m.type}.content: found ${found}, expected ${expected}`, {
    cause,
  })
}

/** The body bytes with compression undone; `bodyBytesMax` bounds the inflated size. */
export function plainContent(m: Message, bodyBytesMax: number): Uint8Array | null {
  if (m.content === null) return null
  if (!m.compressed) return m.content
  let packed = m.content
  if (m.type === 'BytesMessage') {
    if (packed.length === 0) return packed
    if (packed.length < 4) throw bodyError(m, `${packed.length} byte(s)`, 'a 4-byte length before the zlib data')
    const declared = new DataView(packed.buffer, packed.byteOffset, 4).getInt32(0)
    if (declared < 0 || declared > bodyBytesMax)
      throw bodyError(m, `inflated length ${declared}`, `0..bodyBytesMax ${bodyBytesMax}`)
    packed = packed.subarray(4)
  }
  try {
    return new Uint8Array(inflateSync(packed, { maxOutputLength: bodyBytesMax }))
  } catch (e) {
    throw bodyError(m, `zlib data that does not inflate within ${bodyBytesMax} bytes`, 'a compressed body', e)
  }
}

function reader(m: Message, bytes: Uint8Array): DataReader {
  const r = new DataReader(bytes)
  r.where = `${m.type}.content`
  return r
}

export function readTextBody(m: Message, bodyBytesMax: number): string | null {
  const b = plainContent(m, bodyBytesMax)
  if (b === null) return null
  const r = reader(m, b)
  const n = r.i32()
  if (n === -1) return null
  if (n < 0) throw r.fail(`text length ${n}`, 'a length >= -1', 0)
  const s = r.utf(n)
  if (r.remaining !== 0) throw r.fail(`${r.remaining} byte(s) after the text`, 'the text to end the body')
  return s
}

/**
 * A TextMessage's text as standard UTF-8 bytes (null: no text). An ASCII text is the same bytes in both encodings,
 * so it is taken as a view of the content, never decoded to a string.
 */
export function readTextBodyUtf8(m: Message, bodyBytesMax: number): Uint8Array | null {
  const b = plainContent(m, bodyBytesMax)
  if (b === null) return null
  if (b.length >= 4) {
    const n = (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!
    if (n === b.length - 4 && isAsciiRange(b, 4, b.length)) return b.subarray(4)
  }
  const text = readTextBody(m, bodyBytesMax)
  return text === null ? null : utf8Enc.encode(text)
}

/** A TextMessage body from standard UTF-8 text; ASCII without NUL (which Java writes as C0 80) is copied as is. */
export function writeTextBodyUtf8(utf8: Uint8Array): Uint8Array {
  if (isAsciiRange(utf8, 0, utf8.length) && utf8.indexOf(0) === -1) {
    const n = utf8.length
    const out = new Uint8Array(4 + n)
    out[0] = n >>> 24
    out[1] = (n >>> 16) & 0xff
    out[2] = (n >>> 8) & 0xff
    out[3] = n & 0xff
    out.set(utf8, 4)
    return out
  }
  return writeTextBody(utf8Dec.decode(utf8))
}

const utf8Enc = new TextEncoder()
const utf8Dec = new TextDecoder()

export function writeTextBody(text: string | null): Uint8Array {
  const w = new DataWriter(0x7fffffff)
  if (text === null) {
    w.i32(-1)
    return w.toBytes()
  }
  w.i32(0)
  w.patchI32(0, w.utf(text))
  return w.toBytes()
}

export function readMapBody(m: Message, bodyBytesMax: number): PrimitiveMap | null {
  const b = plainContent(m, bodyBytesMax)
  if (b === null) return null
  const r = reader(m, b)
  const map = readPrimitiveMapBody(r)
  if (r.remaining !== 0) throw r.fail(`${r.remaining} byte(s) after the map`, 'the map to end the body')
  return map
}

export function writeMapBody(map: PrimitiveMap | null): Uint8Array {
  const w = new DataWriter(0x7fffffff)
  writePrimitiveMapBody(w, map, 'MapMessage.content')
  return w.toBytes()
}

/** A StreamMessage body: primitives one after another to the end (each value's count is its bytes). */
export function readStreamBody(m: Message, bodyBytesMax: number): Primitive[] {
  const b = plainContent(m, bodyBytesMax)
  if (b === null) return []
  const r = reader(m, b)
  const out: Primitive[] = []
  while (r.remaining > 0) out.push(readPrimitive(r))
  return out
}

export function writeStreamBody(values: readonly Primitive[]): Uint8Array {
  const w = new DataWriter(0x7fffffff)
  for (const v of values) writePrimitive(w, v, 'StreamMessage.content')
  return w.toBytes()
}
