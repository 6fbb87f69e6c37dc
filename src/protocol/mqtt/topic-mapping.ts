/**
 * MQTT topic names and filters ↔ the broker's dotted destination names, through src/model's MQTT mapping (ActiveMQ's
 * MQTTProtocolConverter character swap: `/` ↔ `.`, `+` ↔ `*`, `#` ↔ `>`, so every topic round-trips), plus what only
 * MQTT has: U+0000 is refused (§4.7.3), the model's errors become MQTT reason codes (0x90 topic name invalid, 0x8F
 * topic filter invalid) and `$share/{group}/{filter}` is split off (§4.8.2). Does not know authorization.
 */
import { BrokerError } from '../../lib/errors.ts'
import { fromMqttFilter, fromMqttTopic, swapMqttCharacters } from '../../model/index.ts'
import { MqttProtocolError, RC } from './reason-codes.ts'

function mapped<T>(rc: number, where: string, text: string, f: () => T): T {
  if (text.includes('\u0000')) throw new MqttProtocolError(rc, `${where}: "${text}" holds U+0000`)
  try {
    return f()
  } catch (e) {
    if (e instanceof BrokerError) throw new MqttProtocolError(rc, e.message)
    throw e
  }
}

/** A PUBLISH topic name as the broker's destination name: no `+`/`#`, not empty (MQTT 3.1.1/5 §4.7). */
export function topicNameToInternal(topic: string, where: string): string {
  return mapped(RC.topicNameInvalid, where, topic, () => fromMqttTopic(topic, where).name)
}

/** A topic filter (no `$share` prefix) as a dotted filter; validates `+` and `#` placement. */
export function topicFilterToInternal(filter: string, where: string): string {
  return mapped(RC.topicFilterInvalid, where, filter, () => fromMqttFilter(filter, where).name)
}

/** A dotted destination name or filter as MQTT text. */
export function internalToMqtt(name: string): string {
  return swapMqttCharacters(name)
}

export interface ParsedFilter {
  /** The dotted filter. */
  filter: string
  /** The share group of `$share/{group}/{filter}`, else undefined. */
  shareGroup?: string
}

/** A SUBSCRIBE/UNSUBSCRIBE topic filter: validated, `$share/` split off (MQTT 5 §4.8.2), mapped. */
export function parseFilter(text: string, where: string): ParsedFilter {
  if (!text.startsWith('$share/')) return { filter: topicFilterToInternal(text, where) }
  const rest = text.slice('$share/'.length)
  const slash = rest.indexOf('/')
  const group = slash < 0 ? rest : rest.slice(0, slash)
  if (slash <= 0 || group.includes('+') || group.includes('#'))
    throw new MqttProtocolError(
      RC.topicFilterInvalid,
      `${where}: shared subscription "${text}": expected $share/{group}/{filter} with a group free of "/", "+", "#"`,
    )
  return { filter: topicFilterToInternal(rest.slice(slash + 1), where), shareGroup: group }
}
