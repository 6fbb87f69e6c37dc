/**
 * The one place MQTT 5 PUBLISH properties map onto the core's MessageProperties and back (§3.3.2.3): payload format,
 * content type, response topic (dotted internally), correlation data and user properties (ordered pairs inside the
 * core; mqtt-packet's object form on the wire, where repeats of a key become an array). Message expiry and topic
 * aliases are per hop and belong to the connection, subscription identifiers to the delivery.
 */
import type { IPublishPacket, UserProperties } from 'mqtt-packet'
import type { MessageProperties } from './core-port.ts'
import { internalToMqtt, topicNameToInternal } from './topic-mapping.ts'
import { MqttProtocolError, RC } from './reason-codes.ts'

type PublishProps = NonNullable<IPublishPacket['properties']>

export function userPropertiesToPairs(u: UserProperties | undefined): [string, string][] | undefined {
  if (!u) return undefined
  const out: [string, string][] = []
  for (const [k, v] of Object.entries(u)) for (const one of Array.isArray(v) ? v : [v]) out.push([k, String(one)])
  return out.length > 0 ? out : undefined
}

export function pairsToUserProperties(pairs: [string, string][] | undefined): UserProperties | undefined {
  if (!pairs || pairs.length === 0) return undefined
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of pairs) {
    const had = out[k]
    out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v]
  }
  return out
}

/** Inbound: a PUBLISH's (or will's) properties as message properties; validates the response topic name. */
export function fromPublishProperties(p: Partial<PublishProps> | undefined, where: string): MessageProperties {
  const out: MessageProperties = {}
  if (!p) return out
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator
  if (p.contentType !== undefined) out.contentType = p.contentType
  if (p.responseTopic !== undefined) out.responseTopic = topicNameToInternal(p.responseTopic, `${where} response topic`)
  if (p.correlationData !== undefined) out.correlationData = Buffer.from(p.correlationData)
  const user = userPropertiesToPairs(p.userProperties)
  if (user) out.userProperties = user
  return out
}

/** Outbound: message properties as PUBLISH properties (without expiry, alias and subscription ids). */
export function toPublishProperties(m: MessageProperties): PublishProps {
  const out: PublishProps = {}
  if (m.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = m.payloadFormatIndicator
  if (m.contentType !== undefined) out.contentType = m.contentType
  if (m.responseTopic !== undefined) out.responseTopic = internalToMqtt(m.responseTopic)
  if (m.correlationData !== undefined) out.correlationData = m.correlationData
  const user = pairsToUserProperties(m.userProperties)
  if (user) out.userProperties = user
  return out
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Payload format indicator 1 promises UTF-8 (§3.3.2.3.2); a payload that is not is refused with 0x99. */
export function checkPayloadFormat(m: MessageProperties, payload: Buffer, where: string): void {
  if (!m.payloadFormatIndicator) return
  try {
    utf8.decode(payload)
  } catch {
    throw new MqttProtocolError(
      RC.payloadFormatInvalid,
      `${where}: payload format indicator is UTF-8 but the payload is not`,
    )
  }
}
