/**
 * SUBSCRIBE and UNSUBSCRIBE: each filter validated and mapped on its own (an invalid one gets its failure code in
 * SUBACK, the others go ahead), MQTT 5 subscription options and identifier, `$share/` groups, and the SUBACK /
 * UNSUBACK with one code per filter (MQTT 5 §3.8, §3.9, §3.10, §3.11; 3.1.1 §3.8 to §3.11).
 */
import type { ISubackPacket, ISubscribePacket, IUnsubackPacket, IUnsubscribePacket } from 'mqtt-packet'
import type { MqttSession, QoS } from './core-port.ts'
import { MqttProtocolError, RC, reasonOfCoreError } from './reason-codes.ts'
import { parseFilter } from './topic-mapping.ts'

/** 3.1.1 SUBACK failure return code (§3.9.3). */
const V3_SUBACK_FAILURE = 0x80

export interface SubscribePort {
  readonly version: 3 | 4 | 5
  readonly session: MqttSession
  readonly problemInfo: boolean
}

/** Resolves with the SUBACK; throws MqttProtocolError for packet-level violations. */
export async function handleSubscribe(port: SubscribePort, p: ISubscribePacket): Promise<ISubackPacket> {
  const v5 = port.version === 5
  const subscriptionId = v5 ? p.properties?.subscriptionIdentifier : undefined
  if (subscriptionId === 0)
    throw new MqttProtocolError(
      RC.protocolError,
      `SUBSCRIBE ${p.messageId}: subscription identifier 0, expected 1 or more`,
    )
  if (p.subscriptions.length === 0)
    throw new MqttProtocolError(
      RC.protocolError,
      `SUBSCRIBE ${p.messageId}: no topic filter, expected at least one (MQTT 5 §3.8.3, 3.1.1 §3.8.3)`,
    )
  const granted: number[] = []
  const problems: string[] = []
  for (const [i, s] of p.subscriptions.entries()) {
    const where = `SUBSCRIBE ${p.messageId} filter ${i + 1}`
    if (![0, 1, 2].includes(s.qos) || ![undefined, 0, 1, 2].includes(s.rh))
      throw new MqttProtocolError(
        RC.malformedPacket,
        `${where}: QoS ${s.qos}, retain handling ${s.rh ?? 0}, expected 0 to 2`,
      )
    try {
      const { filter, shareGroup } = parseFilter(s.topic, where)
      if (shareGroup !== undefined && v5 && s.nl)
        throw new MqttProtocolError(RC.protocolError, `${where}: no-local on a shared subscription (§3.8.3.1)`)
      const rh = (s.rh ?? 0) as 0 | 1 | 2
      await port.session.subscribe(filter, {
        qos: s.qos as QoS,
        noLocal: v5 && s.nl === true,
        retainAsPublished: v5 ? s.rap === true : false,
        retainHandling: v5 ? rh : 0,
        ...(subscriptionId !== undefined ? { subscriptionId } : {}),
        ...(shareGroup !== undefined ? { shareGroup } : {}),
      })
      granted.push(s.qos)
    } catch (e) {
      if (e instanceof MqttProtocolError && e.reason === RC.protocolError) throw e
      granted.push(v5 ? reasonOfCoreError(e) : V3_SUBACK_FAILURE)
      problems.push((e as Error).message)
    }
  }
  const suback: ISubackPacket = { cmd: 'suback', messageId: p.messageId, granted }
  if (v5 && port.problemInfo && problems.length > 0) suback.properties = { reasonString: problems.join('; ') }
  return suback
}

export async function handleUnsubscribe(port: SubscribePort, p: IUnsubscribePacket): Promise<IUnsubackPacket> {
  if (p.unsubscriptions.length === 0)
    throw new MqttProtocolError(
      RC.protocolError,
      `UNSUBSCRIBE ${p.messageId}: no topic filter, expected at least one (MQTT 5 §3.10.3, 3.1.1 §3.10.3)`,
    )
  const codes: number[] = []
  for (const [i, text] of p.unsubscriptions.entries()) {
    try {
      const { filter, shareGroup } = parseFilter(text, `UNSUBSCRIBE ${p.messageId} filter ${i + 1}`)
      codes.push((await port.session.unsubscribe(filter, shareGroup)) ? RC.success : RC.noSubscriptionExisted)
    } catch (e) {
      codes.push(reasonOfCoreError(e))
    }
  }
  if (port.version !== 5) return { cmd: 'unsuback', messageId: p.messageId, granted: [] }
  return { cmd: 'unsuback', messageId: p.messageId, granted: codes }
}
