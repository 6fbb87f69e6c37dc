/**
 * The typed values of ActiveMQ's MarshallingSupport: message properties, the MapMessage body and the
 * StreamMessage body, and WireFormatInfo's properties. Each value keeps its Java type (a JMS int property is
 * not a long), longs are bigints, and a map keeps the order it was read in, so re-encoding a decoded map gives
 * the same bytes. Strings of 8191 UTF-16 units or more are written as BIG_STRING (int length), as Java does.
 * Nesting is bounded by `PRIMITIVE_DEPTH_MAX`; entry counts are checked against the bytes left before looping.
 */
import type { DataReader } from './data-reader.ts'
import type { DataWriter } from './data-writer.ts'

export type Primitive =
  | { kind: 'null' }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'byte' | 'short' | 'int' | 'float' | 'double'; value: number }
  | { kind: 'char'; value: string }
  | { kind: 'long'; value: bigint }
  | { kind: 'string'; value: string }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'map'; value: PrimitiveMap }
  | { kind: 'list'; value: Primitive[] }

export type PrimitiveMap = Map<string, Primitive>

/** MarshallingSupport's type tags. */
export const PrimitiveTag = {
  NULL: 0,
  BOOLEAN: 1,
  BYTE: 2,
  CHAR: 3,
  SHORT: 4,
  INTEGER: 5,
  LONG: 6,
  DOUBLE: 7,
  FLOAT: 8,
  STRING: 9,
  BYTE_ARRAY: 10,
  MAP: 11,
  LIST: 12,
  BIG_STRING: 13,
} as const

/** Maps and lists nested deeper than this are refused (ActiveMQ allows 127; nothing real nests past a few). */
export const PRIMITIVE_DEPTH_MAX = 32

/** Java switches to BIG_STRING at Short.MAX_VALUE / 4 UTF-16 units. */
const BIG_STRING_UNITS = 8191

export function readPrimitive(r: DataReader, depth = 0): Primitive {
  const at = r.offset
  const tag = r.u8()
  switch (tag) {
    case PrimitiveTag.NULL:
      return { kind: 'null' }
    case PrimitiveTag.BOOLEAN:
      return { kind: 'boolean', value: r.bool() }
    case PrimitiveTag.BYTE:
      return { kind: 'byte', value: r.i8() }
    case PrimitiveTag.CHAR:
      return { kind: 'char', value: String.fromCharCode(r.u16()) }
    case PrimitiveTag.SHORT:
      return { kind: 'short', value: r.i16() }
    case PrimitiveTag.INTEGER:
      return { kind: 'int', value: r.i32() }
    case PrimitiveTag.LONG:
      return { kind: 'long', value: r.i64() }
    case PrimitiveTag.DOUBLE:
      return { kind: 'double', value: r.f64() }
    case PrimitiveTag.FLOAT:
      return { kind: 'float', value: r.f32() }
    case PrimitiveTag.STRING:
      return { kind: 'string', value: r.readUtf() }
    case PrimitiveTag.BIG_STRING: {
      const n = r.i32()
      if (n < 0) throw r.fail(`string length ${n}`, 'a non-negative length', r.offset - 4)
      return { kind: 'string', value: r.utf(n) }
    }
    case PrimitiveTag.BYTE_ARRAY:
      return { kind: 'bytes', value: r.take(r.i32(), 'a byte array value') }
    case PrimitiveTag.MAP: {
      const m = readPrimitiveMapBody(r, depth + 1)
      if (m === null) throw r.fail('map count -1 (null map)', 'a nested map with a count >= 0', at + 1)
      return { kind: 'map', value: m }
    }
    case PrimitiveTag.LIST:
      return { kind: 'list', value: readPrimitiveList(r, depth + 1) }
    default:
      throw r.fail(`primitive type tag ${tag}`, 'a MarshallingSupport type 0..13', at)
  }
}

function checkDepth(r: DataReader, depth: number): void {
  if (depth > PRIMITIVE_DEPTH_MAX) throw r.fail(`nesting depth ${depth}`, `at most ${PRIMITIVE_DEPTH_MAX}`)
}

/** MarshallingSupport.unmarshalPrimitiveMap: an int count (-1 = null), then (writeUTF key, value) pairs. */
export function readPrimitiveMapBody(r: DataReader, depth = 0): PrimitiveMap | null {
  checkDepth(r, depth)
  const countAt = r.offset
  const count = r.i32()
  if (count === -1) return null
  // Each entry takes at least 3 bytes (2-byte key length, 1-byte tag): a count the bytes cannot hold is refused
  // before the loop, so a forged count costs nothing.
  r.count(count, 3, 'map count', countAt)
  const m: PrimitiveMap = new Map()
  for (let i = 0; i < count; i++) {
    const keyAt = r.offset
    const key = r.readUtf()
    if (m.has(key)) throw r.fail(`duplicate key "${key}"`, 'distinct map keys', keyAt)
    m.set(key, readPrimitive(r, depth))
  }
  return m
}

function readPrimitiveList(r: DataReader, depth: number): Primitive[] {
  checkDepth(r, depth)
  const countAt = r.offset
  const count = r.count(r.i32(), 1, 'list count', countAt)
  const out: Primitive[] = []
  for (let i = 0; i < count; i++) out.push(readPrimitive(r, depth))
  return out
}

export function writePrimitive(w: DataWriter, v: Primitive, where: string): void {
  switch (v.kind) {
    case 'null':
      return w.u8(PrimitiveTag.NULL)
    case 'boolean':
      w.u8(PrimitiveTag.BOOLEAN)
      return w.bool(v.value)
    case 'byte':
      w.u8(PrimitiveTag.BYTE)
      return w.u8(v.value)
    case 'char':
      w.u8(PrimitiveTag.CHAR)
      return w.u16(v.value.charCodeAt(0))
    case 'short':
      w.u8(PrimitiveTag.SHORT)
      return w.i16(v.value)
    case 'int':
      w.u8(PrimitiveTag.INTEGER)
      return w.i32(v.value)
    case 'long':
      w.u8(PrimitiveTag.LONG)
      return w.i64(v.value)
    case 'double':
      w.u8(PrimitiveTag.DOUBLE)
      return w.f64(v.value)
    case 'float':
      w.u8(PrimitiveTag.FLOAT)
      return w.f32(v.value)
    case 'string':
      if (v.value.length < BIG_STRING_UNITS) {
        w.u8(PrimitiveTag.STRING)
        return w.writeUtf(v.value, where)
      }
      w.u8(PrimitiveTag.BIG_STRING)
      {
        const lenAt = w.length
        w.i32(0)
        w.patchI32(lenAt, w.utf(v.value))
      }
      return
    case 'bytes':
      w.u8(PrimitiveTag.BYTE_ARRAY)
      w.i32(v.value.length)
      return w.bytes(v.value)
    case 'map':
      w.u8(PrimitiveTag.MAP)
      return writePrimitiveMapBody(w, v.value, where)
    case 'list':
      w.u8(PrimitiveTag.LIST)
      w.i32(v.value.length)
      for (const x of v.value) writePrimitive(w, x, where)
  }
}

export function writePrimitiveMapBody(w: DataWriter, m: PrimitiveMap | null, where: string): void {
  if (m === null) return w.i32(-1)
  w.i32(m.size)
  for (const [k, v] of m) {
    w.writeUtf(k, `${where} key`)
    writePrimitive(w, v, `${where}["${k}"]`)
  }
}
