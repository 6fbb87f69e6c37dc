/**
 * MQTT topic names and filters ↔ the broker's dotted destination names, with ActiveMQ's rules
 * (MQTTProtocolConverter): `/` ↔ `.`, `+` ↔ `*`, `#` ↔ `>`, and a `.` inside an MQTT level ↔ `/` internally.
 * Also the MQTT validity rules for names and filters (MQTT 5 §4.7, 3.1.1 §4.7) and `$share/{group}/{filter}`.
 * TODO(#17): src/model/destination.ts owns the same mapping for every protocol; use it once it lands.
 * Does not know destinations' kinds or authorization.
 */
import { MqttProtocolError, RC } from './reason-codes.ts'

/** One MQTT topic name or filter mapped character by character (the mapping is its own inverse on names). */
function swap(s: string, from: 'mqtt' | 'internal'): string {
  let out = ''
  for (const ch of s) {
    if (ch === '/') out += '.'
    else if (ch === '.') out += '/'
    else if (from === 'mqtt' && ch === '+') out += '*'
    else if (from === 'mqtt' && ch === '#') out += '>'
    else if (from === 'internal' && ch === '*') out += '+'
    else if (from === 'internal' && ch === '>') out += '#'
    else out += ch
  }
  return out
}

/**
 * A PUBLISH topic name as the broker's destination name. `*` and `>` are wildcards in dotted names, so a topic
 * name holding them cannot be published to (as in ActiveMQ); that is refused as an invalid topic name.
 */
export function topicNameToInternal(topic: string, where: string): string {
  if (topic.length === 0) throw new MqttProtocolError(RC.topicNameInvalid, `${where}: empty topic name`)
  for (const ch of topic) {
    if (ch === '+' || ch === '#')
      throw new MqttProtocolError(
        RC.topicNameInvalid,
        `${where}: topic name "${topic}" holds the wildcard "${ch}", expected none in a topic name`,
      )
    if (ch === '*' || ch === '>')
      throw new MqttProtocolError(
        RC.topicNameInvalid,
        `${where}: topic name "${topic}" holds "${ch}", which this broker reserves for wildcards`,
      )
    if (ch === '\u0000') throw new MqttProtocolError(RC.topicNameInvalid, `${where}: topic name holds U+0000`)
  }
  return swap(topic, 'mqtt')
}

/** A topic filter (no `$share` prefix) as a dotted filter; validates `+` and `#` placement. */
export function topicFilterToInternal(filter: string, where: string): string {
  if (filter.length === 0) throw new MqttProtocolError(RC.topicFilterInvalid, `${where}: empty topic filter`)
  const levels = filter.split('/')
  levels.forEach((level, i) => {
    const bad = (what: string) =>
      new MqttProtocolError(RC.topicFilterInvalid, `${where}: topic filter "${filter}": ${what}`)
    if (level.includes('\u0000')) throw bad('holds U+0000')
    if (level.includes('*') || level.includes('>')) throw bad('holds "*" or ">", which this broker reserves')
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      throw bad('"#" must be a whole level and the last one')
    if (level.includes('+') && level !== '+') throw bad('"+" must be a whole level')
  })
  return swap(filter, 'mqtt')
}

/** A dotted destination name or filter as MQTT text. */
export function internalToMqtt(name: string): string {
  return swap(name, 'internal')
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
