/**
 * Destinations in their one internal form: a kind (queue, topic, temp-queue, temp-topic) and a name in ActiveMQ's
 * dotted form (`ORDERS.EU`), plus validation, store keys and ActiveMQ's subscription wildcards: `*` matches one
 * segment, `>` the rest (zero or more segments), each only as a whole segment. Protocol spellings (`/queue/a.b`,
 * MQTT `a/b`, OpenWire `queue://a.b`) live in destination-mapping.ts; the fan-out index in destination-index.ts.
 *
 * Names may have empty segments (`a..b`, `.a`): MQTT topics `a//b` and `/a` map to them and ActiveMQ accepts them.
 * A filter whose first segment is a wildcard never matches a name whose first segment starts with `$` (MQTT 3.1.1
 * §4.7.2: `#` and `+` do not match `$SYS/...`), whatever the protocol of the subscriber.
 */
import { BrokerError } from '../lib/errors.ts'

export type DestinationKind = 'queue' | 'topic' | 'temp-queue' | 'temp-topic'

export interface Destination {
  kind: DestinationKind
  /** ActiveMQ's physical name, dotted: `ORDERS.EU`. */
  name: string
}

export const DESTINATION_KINDS: readonly DestinationKind[] = ['queue', 'topic', 'temp-queue', 'temp-topic']
/** Longest name accepted, in characters: names are map keys, store keys and trie paths. */
export const DESTINATION_NAME_LENGTH_MAX = 1024
/** Most segments in one name or filter: bounds the work of one trie walk. */
export const DESTINATION_SEGMENTS_MAX = 128
export const SEGMENT_SEPARATOR = '.'
/** One whole segment: matches exactly one segment. */
export const ANY_CHILD = '*'
/** The last whole segment: matches zero or more remaining segments (ActiveMQ's `A.>` matches `A` too). */
export const ANY_DESCENDANT = '>'

export function isQueueKind(kind: DestinationKind): boolean {
  return kind === 'queue' || kind === 'temp-queue'
}

export function isTempKind(kind: DestinationKind): boolean {
  return kind === 'temp-queue' || kind === 'temp-topic'
}

export function destinationsEqual(a: Destination, b: Destination): boolean {
  return a.kind === b.kind && a.name === b.name
}

/** `queue://a.b`: the store key of a destination, equal to ActiveMQ's qualified name and to sfbroker 0.1.0's keys. */
export function destinationKey(d: Destination): string {
  return `${d.kind}://${d.name}`
}

/** The inverse of destinationKey(), validating the name as a destination name (no wildcards). */
export function parseDestinationKey(key: string, where = 'destination key'): Destination {
  const sep = key.indexOf('://')
  const kind = sep < 0 ? '' : key.slice(0, sep)
  if (!(DESTINATION_KINDS as readonly string[]).includes(kind)) {
    bad(where, key, `is not <kind>://<name> with a kind of ${DESTINATION_KINDS.join(', ')}`)
  }
  const name = key.slice(sep + 3)
  validateDestinationName(name, where)
  return { kind: kind as DestinationKind, name }
}

function bad(where: string, value: string, expected: string): never {
  const shown = value.length > 80 ? `${value.slice(0, 64)}...` : value
  throw new BrokerError('BROKER_DESTINATION_INVALID', `${where}: ${JSON.stringify(shown)} ${expected}`, {
    details: { destination: value },
  })
}

/** The checks names and filters share: length, segment count, no control characters, no commas (composites). */
function validateCommon(name: string, where: string): void {
  if (name.length === 0) bad(where, name, 'is empty; expected a name such as ORDERS or a.b.c')
  if (name.length > DESTINATION_NAME_LENGTH_MAX) {
    bad(where, name, `is ${name.length} characters long; at most ${DESTINATION_NAME_LENGTH_MAX} are allowed`)
  }
  // Control characters cannot round-trip through STOMP headers or store keys cleanly.
  if (/[\u0000-\u001f\u007f]/.test(name)) bad(where, name, 'contains a control character')
  if (name.includes(',')) bad(where, name, 'contains a comma; composite destinations are not supported')
  let segments = 1
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) segments++
  if (segments > DESTINATION_SEGMENTS_MAX) {
    bad(where, name, `has ${segments} segments; at most ${DESTINATION_SEGMENTS_MAX} are allowed`)
  }
}

/**
 * Names that passed validateDestinationName lately: a SEND's name is checked by the connector's mapping, the
 * session and the commit, and a busy destination's by every message; a known name costs one lookup. Cleared when
 * it holds VALID_NAMES_MAX names (a name's validity never changes, so forgetting is always safe).
 */
const validNames = new Set<string>()
/** Names remembered by validateDestinationName before the set is cleared. */
export const VALID_NAMES_MAX = 4096

/** A name messages are sent to: no segment may be a wildcard (`a*` is a literal segment, `*` is not). */
export function validateDestinationName(name: string, where = 'destination'): void {
  if (validNames.has(name)) return
  validateCommon(name, where)
  for (const s of name.split('.')) {
    if (s === ANY_CHILD || s === ANY_DESCENDANT) {
      bad(where, name, `has a wildcard segment "${s}"; messages go to a name without * or > segments`)
    }
  }
  if (validNames.size >= VALID_NAMES_MAX) validNames.clear()
  validNames.add(name)
}

/** A subscription filter: `*` and `>` segments allowed, `>` only as the last segment. */
export function validateDestinationFilter(filter: string, where = 'subscription destination'): void {
  validateCommon(filter, where)
  const segs = filter.split('.')
  for (let i = 0; i < segs.length - 1; i++) {
    if (segs[i] === ANY_DESCENDANT) bad(where, filter, 'has ">" before the last segment; ">" may only end a filter')
  }
}

/** Whether a name or filter has a wildcard segment (only whole `*`/`>` segments are wildcards). */
export function isWildcard(name: string): boolean {
  if (!name.includes(ANY_CHILD) && !name.includes(ANY_DESCENDANT)) return false
  for (const s of name.split('.')) if (s === ANY_CHILD || s === ANY_DESCENDANT) return true
  return false
}

/**
 * Whether the filter matches the name (both of one kind, checked by the caller). A filter without wildcards
 * matches only itself. Linear in the segments; for many filters use DestinationIndex.
 */
export function filterMatches(filter: string, name: string): boolean {
  if (filter === name) return true
  if (!isWildcard(filter)) return false
  const f = filter.split('.')
  const n = name.split('.')
  if ((f[0] === ANY_CHILD || f[0] === ANY_DESCENDANT) && n[0]!.startsWith('$')) return false
  for (let i = 0; i < f.length; i++) {
    const s = f[i]!
    if (s === ANY_DESCENDANT) return true
    if (i >= n.length) return false
    if (s !== ANY_CHILD && s !== n[i]) return false
  }
  return f.length === n.length
}
