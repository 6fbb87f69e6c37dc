/**
 * The loose-encoding interpreter: reads and writes any structure of layouts.ts. A structure on the wire is its
 * type byte then its fields in layout order; a frame's command is one structure, nested ones are prefixed by a
 * "present" boolean. Recursion is bounded by `NESTING_DEPTH_MAX` (structures in structures) and
 * `THROWABLE_DEPTH_MAX` (causes); counts are checked against the bytes left before any loop. Tight encoding
 * and the marshal cache are not implemented: wire-format.ts declines both in negotiation.
 */
import { BrokerError } from '../../lib/errors.ts'
import { REFUSED_TYPES, TypeCode, type TypeName, typeName } from './command-types.ts'
import type { DataStructure, WireThrowable } from './commands.ts'
import type { DataReader } from './data-reader.ts'
import type { DataWriter } from './data-writer.ts'
import { type Field, LAYOUTS } from './layouts.ts'
import { readPrimitiveMapBody, writePrimitiveMapBody } from './primitive-map.ts'

/** Structures nested in structures (a message in a dispatch, an id in a message id...) past this are refused. */
export const NESTING_DEPTH_MAX = 16
/** Exception causes past this are refused. */
export const THROWABLE_DEPTH_MAX = 16

export type LooseOptions = {
  /** Negotiated StackTraceEnabled: throwables then carry their stack frames and cause. */
  stackTraceEnabled: boolean
}

/** Reads the type byte and the structure after it. */
export function readStructure(r: DataReader, opts: LooseOptions, path = '', depth = 0): DataStructure {
  const at = r.offset
  r.at(path === '' ? 'command' : path, ' ', 'type')
  const code = r.u8()
  const name = typeName(code)
  if (name === undefined) {
    const refused = REFUSED_TYPES.get(code)
    if (refused !== undefined)
      throw new BrokerError('OPENWIRE_UNSUPPORTED', `openwire ${r.where} at offset ${at}: ${refused}`, {
        details: { type: code, offset: at },
      })
    throw r.fail(`data structure type ${code}`, 'a known OpenWire type', at)
  }
  return readBody(r, name, opts, path === '' ? name : `${path}>${name}`, depth)
}

function readBody(r: DataReader, name: TypeName, opts: LooseOptions, path: string, depth: number): DataStructure {
  if (depth > NESTING_DEPTH_MAX) throw r.fail(`nesting depth ${depth}`, `at most ${NESTING_DEPTH_MAX}`)
  const out: Record<string, unknown> = { type: name }
  for (const f of LAYOUTS[name]) {
    r.at(path, '.', f.name)
    out[f.name] = readField(r, f, opts, depth)
  }
  return out as DataStructure
}

function readField(r: DataReader, f: Field, opts: LooseOptions, depth: number): unknown {
  switch (f.kind) {
    case 'bool':
      return r.bool()
    case 'byte':
      return r.i8()
    case 'int':
      return r.i32()
    case 'long':
      return r.i64()
    case 'string':
      return r.bool() ? r.readUtf() : null
    case 'bytes':
      return r.bool() ? r.take(r.i32(), f.name) : null
    case 'map': {
      if (!r.bool()) return null
      const inner = r.sub(r.i32(), f.name)
      const start = inner.offset
      const m = readPrimitiveMapBody(inner)
      if (m === null) throw inner.fail('map count -1', 'a marshalled map with a count >= 0', start)
      if (inner.remaining !== 0)
        throw inner.fail(`${inner.remaining} byte(s) after the map`, 'the map to fill its bytes')
      return m
    }
    case 'magic':
      return r.take(8, 'magic')
    case 'nested':
    case 'cached':
      return readNested(r, f, opts, depth)
    case 'array': {
      if (!r.bool()) return null
      const countAt = r.offset
      // Each element takes at least its "present" byte.
      const count = r.count(r.i16(), 1, 'array count', countAt)
      const where = r.where
      const out: unknown[] = []
      for (let i = 0; i < count; i++) {
        r.where = `${where}[${i}]`
        out.push(readNested(r, f, opts, depth))
      }
      return out
    }
    case 'throwable':
      return readThrowable(r, opts, 0)
  }
}

function readNested(r: DataReader, f: Field, opts: LooseOptions, depth: number): DataStructure | null {
  if (!r.bool()) return null
  const at = r.offset
  const path = r.wherePath
  const sep = r.whereSep
  const field = r.whereField
  const s = readStructure(r, opts, r.where, depth + 1)
  r.at(path, sep, field)
  if (f.accepts !== undefined && f.accepts.length > 0 && !f.accepts.includes(s.type))
    throw r.fail(`a ${s.type}`, f.accepts.join(' or '), at)
  return s
}

function readThrowable(r: DataReader, opts: LooseOptions, depth: number): WireThrowable | null {
  if (depth > THROWABLE_DEPTH_MAX) throw r.fail(`cause depth ${depth}`, `at most ${THROWABLE_DEPTH_MAX}`)
  if (!r.bool()) return null
  const str = () => (r.bool() ? r.readUtf() : null)
  const t: WireThrowable = { className: str(), message: str() }
  if (opts.stackTraceEnabled) {
    const countAt = r.offset
    // A frame is at least three "absent" booleans and an int: 7 bytes.
    const count = r.count(r.i16(), 7, 'stack depth', countAt)
    t.stackTrace = []
    for (let i = 0; i < count; i++)
      t.stackTrace.push({ className: str(), methodName: str(), fileName: str(), line: r.i32() })
    t.cause = readThrowable(r, opts, depth + 1)
  }
  return t
}

/** Writes the type byte and the structure. */
export function writeStructure(w: DataWriter, s: DataStructure, opts: LooseOptions): void {
  const layout = LAYOUTS[s.type]
  if (layout === undefined) throw encodeError(s.type, 'type', `type "${String(s.type)}"`, 'a known OpenWire type')
  w.u8(TypeCode[s.type])
  const rec = s as unknown as Record<string, unknown>
  for (const f of layout) writeField(w, f, rec[f.name], opts, s.type)
}

/** `owner` is the structure's type; the field's full name is only joined for an error or a nested value. */
function writeField(w: DataWriter, f: Field, v: unknown, opts: LooseOptions, owner: string): void {
  switch (f.kind) {
    case 'bool':
      if (typeof v !== 'boolean') break
      return w.bool(v)
    case 'long':
      if (typeof v !== 'bigint') break
      return w.i64(v)
    case 'int':
      if (typeof v !== 'number' || (v | 0) !== v) break
      return w.i32(v)
    case 'string':
      if (v === null) return w.bool(false)
      if (typeof v !== 'string') break
      w.bool(true)
      return w.writeUtf(v, owner, f.name)
  }
  writeFieldChecked(w, f, v, opts, `${owner}.${f.name}`)
}

function writeFieldChecked(w: DataWriter, f: Field, v: unknown, opts: LooseOptions, where: string): void {
  switch (f.kind) {
    case 'bool':
      return w.bool(expectType(v, 'boolean', where))
    case 'byte':
      return w.u8(expectInt(v, -128, 127, where))
    case 'int':
      return w.i32(expectInt(v, -(2 ** 31), 2 ** 31 - 1, where))
    case 'long':
      return w.i64(expectType(v, 'bigint', where))
    case 'string':
      w.bool(v !== null)
      if (v !== null) w.writeUtf(expectType(v, 'string', where), where)
      return
    case 'bytes':
    case 'magic': {
      if (f.kind === 'bytes') w.bool(v !== null)
      if (v === null) return
      if (!(v instanceof Uint8Array)) throw encodeError(where, '', typeof v, 'a Uint8Array')
      if (f.kind === 'magic' && v.length !== 8) throw encodeError(where, '', `${v.length} bytes`, '8 bytes')
      if (f.kind === 'bytes') w.i32(v.length)
      return w.bytes(v)
    }
    case 'map': {
      w.bool(v !== null)
      if (v === null) return
      if (!(v instanceof Map)) throw encodeError(where, '', typeof v, 'a PrimitiveMap')
      const lenAt = w.length
      w.i32(0)
      writePrimitiveMapBody(w, v, where)
      w.patchI32(lenAt, w.length - lenAt - 4)
      return
    }
    case 'nested':
    case 'cached':
      return writeNested(w, f, v, opts, where)
    case 'array': {
      w.bool(v !== null)
      if (v === null) return
      if (!Array.isArray(v) || v.length > 0x7fff) throw encodeError(where, '', typeof v, 'an array of up to 32767')
      w.i16(v.length)
      for (const x of v) writeNested(w, f, x, opts, where)
      return
    }
    case 'throwable':
      return writeThrowable(w, v as WireThrowable | null, opts, where)
  }
}

function writeNested(w: DataWriter, f: Field, v: unknown, opts: LooseOptions, where: string): void {
  w.bool(v !== null)
  if (v === null) return
  const s = v as DataStructure
  if (f.accepts !== undefined && f.accepts.length > 0 && !f.accepts.includes(s.type))
    throw encodeError(where, '', `a ${String(s?.type)}`, f.accepts.join(' or '))
  writeStructure(w, s, opts)
}

function writeThrowable(w: DataWriter, t: WireThrowable | null, opts: LooseOptions, where: string): void {
  w.bool(t !== null)
  if (t === null) return
  const str = (s: string | null) => {
    w.bool(s !== null)
    if (s !== null) w.writeUtf(s, where)
  }
  str(t.className)
  str(t.message)
  if (!opts.stackTraceEnabled) return
  const frames = t.stackTrace ?? []
  w.i16(Math.min(frames.length, 0x7fff))
  for (const fr of frames.slice(0, 0x7fff)) {
    str(fr.className)
    str(fr.methodName)
    str(fr.fileName)
    w.i32(fr.line)
  }
  writeThrowable(w, t.cause ?? null, opts, `${where}.cause`)
}

function expectType<T extends 'boolean' | 'bigint' | 'string'>(
  v: unknown,
  t: T,
  where: string,
): T extends 'boolean' ? boolean : T extends 'bigint' ? bigint : string {
  if (typeof v !== t) throw encodeError(where, '', typeof v, `a ${t}`)
  return v as never
}

function expectInt(v: unknown, lo: number, hi: number, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
    throw encodeError(where, '', String(v), `an integer in [${lo}, ${hi}]`)
  return v
}

function encodeError(where: string, field: string, found: string, expected: string): BrokerError {
  const w = field === '' ? where : `${where}.${field}`
  return new BrokerError('OPENWIRE_FRAME_INVALID', `openwire encode ${w}: found ${found}, expected ${expected}`)
}
