/**
 * Typed application properties with the JMS types (JMS 1.1 §3.5.4): a tagged union per value, constructors that
 * check ranges, the JMS conversion table for typed reads, string forms, and the value a selector sees. Owns value
 * semantics only: which properties a message has is message.ts's, how a protocol spells them its mapping's.
 */
import { BrokerError } from '../lib/errors.ts'

export type PropertyType = 'string' | 'boolean' | 'byte' | 'short' | 'int' | 'long' | 'float' | 'double' | 'bytes'

export type PropertyValue =
  | { type: 'string'; value: string }
  | { type: 'boolean'; value: boolean }
  | { type: 'byte' | 'short' | 'int' | 'float' | 'double'; value: number }
  | { type: 'long'; value: bigint }
  | { type: 'bytes'; value: Uint8Array }

/** Insertion-ordered, so a protocol that has an order (STOMP headers) gets it back. */
export type Properties = Map<string, PropertyValue>

/** What a selector identifier evaluates to (the broker selector's SelectorValue). */
export type SelectorScalar = string | number | boolean | null

export const PROPERTY_TYPES: readonly PropertyType[] = [
  'string',
  'boolean',
  'byte',
  'short',
  'int',
  'long',
  'float',
  'double',
  'bytes',
]

const INT_RANGE = { byte: [-128, 127], short: [-32768, 32767], int: [-2147483648, 2147483647] } as const
const LONG_MIN = -(2n ** 63n)
const LONG_MAX = 2n ** 63n - 1n

function invalid(name: string, value: unknown, expected: string): never {
  const shown =
    typeof value === 'bigint' ? `${value}n` : typeof value === 'string' ? JSON.stringify(value) : String(value)
  throw new BrokerError('BROKER_HEADER_INVALID', `property ${JSON.stringify(name)}: ${shown} ${expected}`, {
    details: { property: name },
  })
}

/** Checks a value against its type's range (BROKER_HEADER_INVALID); `name` is for the message only. */
export function validateProperty(name: string, p: PropertyValue): void {
  const raw: unknown = p.value
  switch (p.type) {
    case 'string':
      if (typeof p.value !== 'string') invalid(name, raw, 'is not a string')
      return
    case 'boolean':
      if (typeof p.value !== 'boolean') invalid(name, raw, 'is not a boolean')
      return
    case 'byte':
    case 'short':
    case 'int': {
      const [lo, hi] = INT_RANGE[p.type]
      if (!Number.isInteger(p.value) || p.value < lo || p.value > hi)
        invalid(name, p.value, `is not a ${p.type} in ${lo}..${hi}`)
      return
    }
    case 'long':
      if (typeof p.value !== 'bigint' || p.value < LONG_MIN || p.value > LONG_MAX)
        invalid(name, raw, 'is not a long (a bigint in -2^63..2^63-1)')
      return
    case 'float':
      if (typeof p.value !== 'number' || (Math.fround(p.value) !== p.value && !Number.isNaN(p.value)))
        invalid(name, raw, 'is not a float (a number exactly representable in 32 bits; use Math.fround)')
      return
    case 'double':
      if (typeof p.value !== 'number') invalid(name, raw, 'is not a number')
      return
    case 'bytes':
      if (!(p.value instanceof Uint8Array)) invalid(name, raw, 'is not a Uint8Array')
      return
    default:
      invalid(
        name,
        (p as { type: unknown }).type,
        `is not a property type; expected one of ${PROPERTY_TYPES.join(', ')}`,
      )
  }
}

/** Constructors: `prop.int(5)`, `prop.long(5n)`, `prop.float(0.5)` (rounded to 32 bits). Ranges are checked. */
export const prop = {
  string: (value: string): PropertyValue => ({ type: 'string', value }),
  boolean: (value: boolean): PropertyValue => ({ type: 'boolean', value }),
  byte: (value: number): PropertyValue => checked({ type: 'byte', value }),
  short: (value: number): PropertyValue => checked({ type: 'short', value }),
  int: (value: number): PropertyValue => checked({ type: 'int', value }),
  long: (value: bigint): PropertyValue => checked({ type: 'long', value }),
  float: (value: number): PropertyValue => ({ type: 'float', value: Math.fround(value) }),
  double: (value: number): PropertyValue => ({ type: 'double', value }),
  bytes: (value: Uint8Array): PropertyValue => ({ type: 'bytes', value }),
}

function checked(p: PropertyValue): PropertyValue {
  validateProperty('value', p)
  return p
}

/**
 * Java's Double.toString / Float.toString spelling (what an ActiveMQ STOMP consumer sees for a double property):
 * `1.0`, `0.001`, `1.0E7`, `1.5E-4`, `NaN`, `-Infinity`, with the shortest digits that read back as the same
 * value (for a float: the same 32-bit value).
 */
function javaDecimal(v: number, float: boolean): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return 'Infinity'
  if (v === -Infinity) return '-Infinity'
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0'
  let d = v
  if (float) {
    for (let digits = 1; digits <= 9; digits++) {
      const s = Number(v.toPrecision(digits))
      if (Math.fround(s) === v) {
        d = s
        break
      }
    }
  }
  const a = Math.abs(d)
  if (a >= 1e-3 && a < 1e7) {
    const s = String(d)
    return s.includes('.') ? s : `${s}.0`
  }
  const [m, e] = d.toExponential().split('e') as [string, string]
  return `${m.includes('.') ? m : `${m}.0`}E${Number(e)}`
}

/** The string form (JMS getStringProperty); null for a byte array, which JMS cannot read as a string. */
export function propertyAsString(p: PropertyValue): string | null {
  switch (p.type) {
    case 'string':
      return p.value
    case 'boolean':
      return p.value ? 'true' : 'false'
    case 'long':
      return p.value.toString()
    case 'float':
      return javaDecimal(p.value, true)
    case 'double':
      return javaDecimal(p.value, false)
    case 'bytes':
      return null
    default:
      return String(p.value)
  }
}

/**
 * The value a selector sees: strings, booleans and numbers as they are; a long as a number (exact up to 2^53,
 * the selector's arithmetic is in doubles); a byte array is NULL (JMS selectors cannot compare it).
 */
export function propertyAsSelectorValue(p: PropertyValue | undefined): SelectorScalar {
  if (p === undefined) return null
  switch (p.type) {
    case 'long':
      return Number(p.value)
    case 'bytes':
      return null
    default:
      return p.value
  }
}

/** Which typed reads JMS allows from each stored type (JMS 1.1 §3.5.4); string reads parse. */
const READABLE_AS: Record<PropertyType, readonly PropertyType[]> = {
  boolean: ['boolean', 'string'],
  byte: ['byte', 'short', 'int', 'long', 'string'],
  short: ['short', 'int', 'long', 'string'],
  int: ['int', 'long', 'string'],
  long: ['long', 'string'],
  float: ['float', 'double', 'string'],
  double: ['double', 'string'],
  string: ['boolean', 'byte', 'short', 'int', 'long', 'float', 'double', 'string'],
  bytes: ['bytes'],
}

/**
 * A typed read with JMS's conversions (getIntProperty on a short, getLongProperty on "42", ...). A conversion JMS
 * refuses, or a string that does not parse as the type, is BROKER_HEADER_INVALID naming the property.
 */
export function convertProperty(name: string, p: PropertyValue, to: PropertyType): PropertyValue {
  if (p.type === to) return p
  if (!READABLE_AS[p.type].includes(to)) invalid(name, p.value, `is a ${p.type}; JMS cannot read it as a ${to}`)
  if (to === 'string') return { type: 'string', value: propertyAsString(p)! }
  if (p.type !== 'string') {
    if (to === 'long') return { type: 'long', value: BigInt(p.value as number) }
    return { type: to, value: p.value as number } as PropertyValue
  }
  const s = p.value
  switch (to) {
    case 'boolean':
      // Java's Boolean.valueOf: "true" in any case is true, anything else false.
      return { type: 'boolean', value: s.toLowerCase() === 'true' }
    case 'long':
      if (!/^[+-]?\d+$/.test(s)) invalid(name, s, 'is not a long')
      return checked({ type: 'long', value: BigInt(s) })
    case 'float':
    case 'double': {
      const v = s.trim() === '' ? Number.NaN : Number(s)
      if (Number.isNaN(v) && s.trim() !== 'NaN') invalid(name, s, `is not a ${to}`)
      return to === 'float' ? prop.float(v) : prop.double(v)
    }
    default: {
      if (!/^[+-]?\d+$/.test(s)) invalid(name, s, `is not a ${to}`)
      const v = Number(s)
      const [lo, hi] = INT_RANGE[to as 'byte' | 'short' | 'int']
      if (v < lo || v > hi) invalid(name, s, `is not a ${to} in ${lo}..${hi}`)
      return { type: to as 'byte', value: v }
    }
  }
}

/** Bytes a property is charged in memory accounting: name, value, and a small per-entry overhead. */
export function propertySize(name: string, p: PropertyValue): number {
  const overhead = 8
  switch (p.type) {
    case 'string':
      return overhead + name.length + p.value.length
    case 'bytes':
      return overhead + name.length + p.value.length
    case 'long':
    case 'double':
      return overhead + name.length + 8
    default:
      return overhead + name.length + 4
  }
}

export function propertiesEqual(a: PropertyValue, b: PropertyValue): boolean {
  if (a.type !== b.type) return false
  if (a.type === 'bytes') {
    const x = a.value,
      y = b.value as Uint8Array
    if (x.length !== y.length) return false
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
    return true
  }
  return Object.is(a.value, b.value)
}
