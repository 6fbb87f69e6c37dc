/**
 * Destination names: parsing and validating STOMP/ActiveMQ destination strings (`/queue/X`, `/topic/X`,
 * `/temp-queue/X`, `/temp-topic/X`) and mapping them to store keys. Owns naming only, not destination state.
 *
 * Not supported yet (rejected with BROKER_DESTINATION_INVALID rather than silently misread): ActiveMQ wildcards
 * (`*`, `>`), composite destinations (comma lists), `/remote-temp-*` names, and names without a prefix.
 */
import { BrokerError } from '../lib/errors.ts'

export type DestinationKind = 'queue' | 'topic' | 'temp-queue' | 'temp-topic'

export interface DestinationName {
  kind: DestinationKind
  /** The name after the prefix, e.g. `ORDERS` for `/queue/ORDERS`. */
  name: string
  /** The full STOMP name, e.g. `/queue/ORDERS`. */
  stomp: string
}

/** ActiveMQ's shared dead-letter queue (sharedDeadLetterStrategy). */
export const DLQ_DESTINATION = '/queue/ActiveMQ.DLQ'
/** Longest destination name accepted, in characters (a named limit: names are map keys and store keys). */
export const DESTINATION_LENGTH_MAX = 1024

const PREFIXES: [string, DestinationKind][] = [
  ['/queue/', 'queue'],
  ['/topic/', 'topic'],
  ['/temp-queue/', 'temp-queue'],
  ['/temp-topic/', 'temp-topic'],
]

function bad(where: string, value: string, expected: string): never {
  throw new BrokerError('BROKER_DESTINATION_INVALID', `${where}: ${JSON.stringify(value)} ${expected}`, {
    details: { destination: value },
  })
}

/** Parse and validate; `where` names the header or field for the error message. */
export function parseDestination(value: string, where = 'destination'): DestinationName {
  if (typeof value !== 'string' || value.length === 0)
    bad(
      where,
      String(value ?? ''),
      'is empty; expected /queue/<name>, /topic/<name>, /temp-queue/<name> or /temp-topic/<name>',
    )
  if (value.length > DESTINATION_LENGTH_MAX)
    bad(
      where,
      value.slice(0, 64) + '...',
      `is ${value.length} characters long; at most ${DESTINATION_LENGTH_MAX} are allowed`,
    )
  const hit = PREFIXES.find(([p]) => value.startsWith(p))
  if (!hit) bad(where, value, 'must begin with one of: /queue/ /topic/ /temp-queue/ /temp-topic/')
  const [prefix, kind] = hit
  const name = value.slice(prefix.length)
  if (name.length === 0) bad(where, value, `has an empty name after ${prefix}`)
  if (/[*>]/.test(name)) bad(where, value, 'contains a wildcard (* or >); wildcard destinations are not supported yet')
  if (name.includes(',')) bad(where, value, 'contains a comma; composite destinations are not supported yet')
  // Control characters cannot round-trip through STOMP headers or store keys cleanly.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) bad(where, value, 'contains a control character')
  return { kind, name, stomp: value }
}

export function isTemp(d: DestinationName): boolean {
  return d.kind === 'temp-queue' || d.kind === 'temp-topic'
}

/** Store key of a queue's messages. Temp destinations are memory-only and have none. */
export function queueStoreKey(queueName: string): string {
  return `queue://${queueName}`
}

/** Store key of a durable topic subscription's messages. */
export function durableStoreKey(clientId: string, subscriptionName: string): string {
  return `durable://${clientId}:${subscriptionName}`
}
