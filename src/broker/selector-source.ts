/**
 * The values a selector sees of a CoreMessage (./selector-eval.ts SelectorSource): JMS header identifiers from the
 * message's fields, typed (the model's selectorValue: JMSPriority a number, JMSDeliveryMode PERSISTENT|
 * NON_PERSISTENT, JMSDestination as its label), properties typed (a string property compares with a number when
 * it parses as one, as ActiveMQ's STOMP `convert_string_expressions:` does). Names sfbroker 0.1.0 selectors read
 * as message headers (`priority`, `expires`, `timestamp`, `persistent`, `message-id`, `destination`,
 * `correlation-id`, `type`, `reply-to`) keep reading the field when no property has that name, as the strings
 * 0.1.0 saw, so existing selectors keep matching.
 */
import { type CoreMessage, selectorValue } from '../model/index.ts'
import { propertyAsSelectorValue } from '../model/index.ts'
import { labelOf } from './destination.ts'
import type { SelectorSource } from './selector-eval.ts'
import type { SelectorValue } from './selector-parser.ts'

/** 0.1.0's header names of fields, as the strings its headers held (undefined: the header was absent). */
function legacyHeader(m: CoreMessage, name: string): string | undefined {
  switch (name) {
    case 'priority':
      return String(m.priority)
    case 'expires':
      return String(m.expiration)
    case 'timestamp':
      return String(m.timestamp)
    case 'persistent':
      return m.persistent ? 'true' : undefined
    case 'message-id':
      return m.messageId
    case 'destination':
      return labelOf(m.destination)
    case 'correlation-id':
      return m.correlationId ?? undefined
    case 'type':
      return m.type ?? undefined
    case 'reply-to':
      return m.replyTo === null ? undefined : labelOf(m.replyTo)
    default:
      return undefined
  }
}

function isJmsName(name: string): boolean {
  return name.startsWith('JMS')
}

/** A selector source over `m`; `redelivered`/`deliveryCount` default to the message's redeliveryCount. */
export function messageSource(m: CoreMessage, redelivered?: boolean, deliveryCount?: number): SelectorSource {
  return {
    value(name: string): SelectorValue {
      if (isJmsName(name)) return selectorValue(m, name, labelOf)
      const p = m.properties.get(name)
      if (p !== undefined) return propertyAsSelectorValue(p)
      return legacyHeader(m, name) ?? null
    },
    header(name: string): string | undefined {
      const p = m.properties.get(name)
      if (p !== undefined) {
        const v = propertyAsSelectorValue(p)
        return v === null ? undefined : String(v)
      }
      return legacyHeader(m, name)
    },
    redelivered: redelivered ?? m.redeliveryCount > 0,
    deliveryCount: deliveryCount ?? m.redeliveryCount + 1,
  }
}
