/**
 * Leaf value parsers shared by the XML reader (every attribute is a string), the JSON reader (native numbers and
 * booleans, or the same strings) and the CLI flags. Each returns the typed value or undefined; the schema turns
 * undefined into an issue whose message is the `expected` text next to the parser, so every error names what was
 * expected. Nothing here throws.
 */

/** Largest duration a Node/Bun timer honours (2^31-1 ms, about 24.8 days); longer ones fire at once. */
export const DURATION_MS_MAX = 2_147_483_647

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
}

export const SIZE_EXPECTED = 'a size > 0 such as 33554432, "32mb" or "64 mb" (units b, kb, mb, gb, tb; 1024-based)'

/** ActiveMQ-style sizes: a byte count, or a number with a 1024-based unit ("32mb", "64 mb", "1.5 GB"). */
export function parseSize(value: unknown): number | undefined {
  let n: number
  if (typeof value === 'number') n = value
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
    if (!m) return undefined
    const unit = SIZE_UNITS[m[2].toLowerCase()]
    if (unit === undefined) return undefined
    n = Math.floor(Number(m[1]) * unit)
  } else return undefined
  return Number.isSafeInteger(n) && n > 0 ? n : undefined
}

export const DURATION_EXPECTED = `a whole number of milliseconds from 0 to ${DURATION_MS_MAX}`

/** A duration in milliseconds, as ActiveMQ writes them: a plain non-negative integer. */
export function parseDurationMs(value: unknown): number | undefined {
  let n: number
  if (typeof value === 'number') n = value
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) n = Number(value)
  else return undefined
  return Number.isInteger(n) && n >= 0 && n <= DURATION_MS_MAX ? n : undefined
}

export const BOOLEAN_EXPECTED = 'true or false'

/** A boolean; strings are read case-insensitively, as Spring does for ActiveMQ XML. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') {
    const s = value.trim().toLowerCase()
    if (s === 'true') return true
    if (s === 'false') return false
  }
  return undefined
}

export const INTEGER_EXPECTED = (min: number, max: number): string => `a whole number from ${min} to ${max}`

export function parseInteger(value: unknown, min: number, max: number): number | undefined {
  let n: number
  if (typeof value === 'number') n = value
  else if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) n = Number(value)
  else return undefined
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined
}

/** One of a fixed set of words, case-insensitively; returns the canonical spelling. */
export function parseChoice<T extends string>(value: unknown, choices: readonly T[]): T | undefined {
  if (typeof value !== 'string') return undefined
  const s = value.trim().toLowerCase()
  return choices.find((c) => c.toLowerCase() === s)
}

/** A non-empty single-line string of at most `maxLength` characters. */
export function parseText(value: unknown, maxLength = 4096): string | undefined {
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  // eslint-disable-next-line no-control-regex
  if (s === '' || s.length > maxLength || /[\u0000-\u001f\u007f]/.test(s)) return undefined
  return s
}

export interface HostPort {
  host: string
  port: number
}

export const HOST_PORT_EXPECTED = 'host:port with a port from 0 to 65535, e.g. "127.0.0.1:8161" or "[::1]:8161"'

/** `host:port`, `[v6]:port` or a bare port (host 127.0.0.1). */
export function parseHostPort(value: unknown): HostPort | undefined {
  if (typeof value === 'number') value = String(value)
  if (typeof value !== 'string') return undefined
  const s = value.trim()
  let host: string
  let portText: string
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s)
  if (v6) {
    host = v6[1]
    portText = v6[2]
  } else if (/^\d+$/.test(s)) {
    host = '127.0.0.1'
    portText = s
  } else {
    const m = /^([A-Za-z0-9.-]+):(\d+)$/.exec(s)
    if (!m) return undefined
    host = m[1]
    portText = m[2]
  }
  const port = Number(portText)
  return port <= 65535 ? { host, port } : undefined
}
