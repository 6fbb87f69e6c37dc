/**
 * How each protocol spells a Destination, both ways:
 * - STOMP: `/queue/a.b`, `/topic/a.b`, `/temp-queue/a`, `/temp-topic/a` (ActiveMQ's STOMP prefixes). SEND names keep
 *   sfbroker 0.1.0's checks and wording (no wildcard character at all, no comma); SUBSCRIBE filters allow `*`/`>`.
 * - MQTT: topic `a/b` is topic `a.b`. As ActiveMQ's MQTTProtocolSupport.convertMQTTToActiveMQ, the mapping swaps
 *   character pairs (`/`↔`.`, `+`↔`*`, `#`↔`>`), so it is its own inverse and every MQTT topic round-trips, dots
 *   included (`a.b/c` ↔ `a/b.c`). MQTT 3.1.1 §4.7 rules (wildcards as whole levels, `#` last, none in names) are
 *   checked here so a bad topic never reaches the internal form.
 * - OpenWire: ActiveMQDestination's qualified string `queue://a.b` (= destinationKey) and its physical name `a.b`,
 *   with the OpenWire data structure type of each kind.
 * Errors are BROKER_DESTINATION_INVALID naming the place, the value and what was expected.
 */
import { BrokerError } from '../lib/errors.ts'
import {
  DESTINATION_KINDS,
  type Destination,
  type DestinationKind,
  validateDestinationFilter,
  validateDestinationName,
} from './destination.ts'

function bad(where: string, value: string, expected: string): never {
  throw new BrokerError('BROKER_DESTINATION_INVALID', `${where}: ${JSON.stringify(value)} ${expected}`, {
    details: { destination: value },
  })
}

// ---------------------------------------------------------------- STOMP

/** Longest STOMP destination header accepted, prefix included (sfbroker 0.1.0's DESTINATION_LENGTH_MAX). */
export const STOMP_DESTINATION_LENGTH_MAX = 1024

const STOMP_PREFIXES: [string, DestinationKind][] = [
  ['/queue/', 'queue'],
  ['/topic/', 'topic'],
  ['/temp-queue/', 'temp-queue'],
  ['/temp-topic/', 'temp-topic'],
]

function stompPrefix(value: string, where: string): [string, DestinationKind] {
  if (typeof value !== 'string' || value.length === 0)
    bad(
      where,
      String(value ?? ''),
      'is empty; expected /queue/<name>, /topic/<name>, /temp-queue/<name> or /temp-topic/<name>',
    )
  if (value.length > STOMP_DESTINATION_LENGTH_MAX)
    bad(
      where,
      `${value.slice(0, 64)}...`,
      `is ${value.length} characters long; at most ${STOMP_DESTINATION_LENGTH_MAX} are allowed`,
    )
  const hit = STOMP_PREFIXES.find(([p]) => value.startsWith(p))
  if (!hit) bad(where, value, 'must begin with one of: /queue/ /topic/ /temp-queue/ /temp-topic/')
  if (value.length === hit[0].length) bad(where, value, `has an empty name after ${hit[0]}`)
  return hit
}

/** A STOMP SEND (or reply-to) destination; the checks and messages of sfbroker 0.1.0's parseDestination. */
export function fromStompDestination(value: string, where = 'destination'): Destination {
  const [prefix, kind] = stompPrefix(value, where)
  const name = value.slice(prefix.length)
  if (/[*>]/.test(name)) bad(where, value, 'contains a wildcard (* or >); wildcard destinations are not supported yet')
  if (name.includes(',')) bad(where, value, 'contains a comma; composite destinations are not supported yet')
  // Control characters cannot round-trip through STOMP headers or store keys cleanly.
  if (/[\u0000-\u001f\u007f]/.test(name)) bad(where, value, 'contains a control character')
  return { kind, name }
}

/** A STOMP SUBSCRIBE destination: ActiveMQ wildcards allowed as whole segments (`/topic/a.*`, `/queue/a.>`). */
export function fromStompFilter(value: string, where = 'SUBSCRIBE destination'): Destination {
  const [prefix, kind] = stompPrefix(value, where)
  const name = value.slice(prefix.length)
  validateDestinationFilter(name, where)
  return { kind, name }
}

export function toStompDestination(d: Destination): string {
  return `/${d.kind}/${d.name}`
}

// ---------------------------------------------------------------- MQTT

const MQTT_SWAP: Record<string, string> = { '/': '.', '.': '/', '+': '*', '*': '+', '#': '>', '>': '#' }

/** The character-pair swap of ActiveMQ's MQTT support; its own inverse. */
export function swapMqttCharacters(s: string): string {
  return s.replace(/[/.+*#>]/g, (c) => MQTT_SWAP[c]!)
}

/** An MQTT PUBLISH topic name → topic destination. No `+` or `#` anywhere (§4.7.1), not empty (§4.7.3). */
export function fromMqttTopic(topic: string, where = 'PUBLISH topic'): Destination {
  if (topic.length === 0) bad(where, topic, 'is empty; expected a topic name such as a/b')
  if (/[+#]/.test(topic)) bad(where, topic, 'contains + or #; wildcards are allowed only in subscriptions')
  const name = swapMqttCharacters(topic)
  validateDestinationName(name, where)
  return { kind: 'topic', name }
}

/** An MQTT SUBSCRIBE filter → topic filter: `+` and `#` only as whole levels, `#` only last (§4.7.1). */
export function fromMqttFilter(filter: string, where = 'SUBSCRIBE topic filter'): Destination {
  if (filter.length === 0) bad(where, filter, 'is empty; expected a topic filter such as a/+/c or a/#')
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i]!
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1))
      bad(where, filter, `level ${i + 1} "${l}": # must be a whole level and the last one`)
    if (l.includes('+') && l !== '+') bad(where, filter, `level ${i + 1} "${l}": + must be a whole level`)
  }
  const name = swapMqttCharacters(filter)
  validateDestinationFilter(name, where)
  return { kind: 'topic', name }
}

/** The MQTT topic of a destination (any kind: MQTT subscribers see queue messages by name too, as ActiveMQ). */
export function toMqttTopic(d: Destination): string {
  return swapMqttCharacters(d.name)
}

// ---------------------------------------------------------------- OpenWire

/** OpenWire CommandTypes of ActiveMQQueue, ActiveMQTopic, ActiveMQTempQueue, ActiveMQTempTopic. */
export const OPENWIRE_DESTINATION_TYPES: Readonly<Record<DestinationKind, number>> = {
  queue: 100,
  topic: 101,
  'temp-queue': 102,
  'temp-topic': 103,
}

export function fromOpenWireType(type: number, physicalName: string, where = 'OpenWire destination'): Destination {
  const kind = DESTINATION_KINDS.find((k) => OPENWIRE_DESTINATION_TYPES[k] === type)
  if (kind === undefined) bad(where, String(type), 'is not a destination type; expected 100, 101, 102 or 103')
  return fromOpenWirePhysical(kind, physicalName, where)
}

/** A physical name (`a.b`) of a given kind; wildcard segments are allowed only when `filter` is set (consumers). */
export function fromOpenWirePhysical(
  kind: DestinationKind,
  physicalName: string,
  where = 'OpenWire destination',
  filter = false,
): Destination {
  if (filter) validateDestinationFilter(physicalName, where)
  else validateDestinationName(physicalName, where)
  return { kind, name: physicalName }
}

/** ActiveMQDestination.getQualifiedName(): `queue://a.b`. */
export function toOpenWireQualified(d: Destination): string {
  return `${d.kind}://${d.name}`
}

export function fromOpenWireQualified(value: string, where = 'OpenWire destination', filter = false): Destination {
  const sep = value.indexOf('://')
  const kind = (sep < 0 ? '' : value.slice(0, sep)) as DestinationKind
  if (!DESTINATION_KINDS.includes(kind))
    bad(where, value, 'must begin with queue://, topic://, temp-queue:// or temp-topic://')
  return fromOpenWirePhysical(kind, value.slice(sep + 3), where, filter)
}
