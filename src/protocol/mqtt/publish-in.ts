/**
 * Inbound PUBLISH and PUBREL: topic aliases set by the client, validation (topic name, DUP on QoS 0, subscription
 * identifiers, payload format), the server's receive maximum, and the exactly-once flow of QoS 2 (the core records
 * the packet id with the message, so a resend after a reconnect or takeover is answered, never routed twice).
 * Answers (PUBACK, PUBREC, PUBCOMP) go through the connection's ordered answer queue.
 */
import type { IPublishPacket, IPubrelPacket, Packet } from 'mqtt-packet'
import type { Clock } from '../../lib/clock.ts'
import type { MqttMessage, MqttSession, QoS } from './core-port.ts'
import { MqttProtocolError, RC, reasonOfCoreError } from './reason-codes.ts'
import { topicNameToInternal } from './topic-mapping.ts'
import { checkPayloadFormat, fromPublishProperties } from './message-properties.ts'

export interface InboundPort {
  readonly version: 3 | 4 | 5
  readonly clock: Clock
  readonly session: MqttSession
  readonly problemInfo: boolean
  /** Queues an answer behind earlier ones; a rejection fails the connection with its reason. */
  answer(p: Promise<Packet | null>): void
}

export class InboundPublisher {
  private readonly aliases = new Map<number, string>()
  /** QoS 1 publishes not yet answered, and QoS 2 packet ids not yet released: together the receive maximum's count. */
  private qos1Pending = 0
  private readonly qos2Ids = new Set<number>()

  constructor(
    private readonly port: InboundPort,
    private readonly receiveMaximum: number,
    private readonly topicAliasMaximum: number,
  ) {}

  /** Handles one PUBLISH; throws MqttProtocolError for violations that end the connection. */
  publish(p: IPublishPacket): void {
    const { version } = this.port
    const where = `PUBLISH${p.messageId !== undefined ? ` ${p.messageId}` : ''}`
    if (p.qos === 0 && p.dup) throw new MqttProtocolError(RC.malformedPacket, `${where}: DUP set on QoS 0`)
    const props = p.properties
    if (props?.subscriptionIdentifier !== undefined)
      throw new MqttProtocolError(RC.protocolError, `${where}: a subscription identifier from a client`)
    let topic = p.topic
    if (version === 5 && props?.topicAlias !== undefined) {
      const alias = props.topicAlias
      if (alias === 0 || alias > this.topicAliasMaximum)
        throw new MqttProtocolError(
          RC.topicAliasInvalid,
          `${where}: topic alias ${alias}, expected 1 to ${this.topicAliasMaximum}`,
        )
      if (topic.length > 0) this.aliases.set(alias, topic)
      else {
        const known = this.aliases.get(alias)
        if (known === undefined)
          throw new MqttProtocolError(RC.protocolError, `${where}: topic alias ${alias} used before it was set`)
        topic = known
      }
    }
    const name = topicNameToInternal(topic, where)
    const properties = version === 5 ? fromPublishProperties(props, where) : {}
    const payload = Buffer.from(p.payload)
    const id = p.messageId ?? 0
    const counted = p.qos === 2 && this.qos2Ids.has(id)
    if (p.qos > 0 && !counted) {
      // 3.1.1 has no receive maximum: the connection stops reading while answers are pending instead.
      if (version === 5 && this.qos1Pending + this.qos2Ids.size >= this.receiveMaximum)
        throw new MqttProtocolError(
          RC.receiveMaximumExceeded,
          `${where}: more than receive maximum ${this.receiveMaximum} QoS 1/2 publishes unacknowledged`,
        )
      if (p.qos === 1) this.qos1Pending++
      else this.qos2Ids.add(id)
    }
    const expiry = props?.messageExpiryInterval
    const message: MqttMessage = {
      topic: name,
      payload,
      qos: p.qos as QoS,
      retain: p.retain,
      properties,
      ...(version === 5 && expiry !== undefined ? { expiresAt: this.port.clock.now() + expiry * 1000 } : {}),
    }
    if (p.qos === 0) {
      checkPayloadFormat(properties, payload, where)
      this.port.answer(
        this.port.session.publish(message).then(
          () => null,
          (e) => this.failQos0(e),
        ),
      )
      return
    }
    const ackCmd = p.qos === 1 ? 'puback' : 'pubrec'
    const work = (async (): Promise<Packet | null> => {
      try {
        checkPayloadFormat(properties, payload, where)
        const r = await this.port.session.publish(message, p.qos === 2 ? { exactlyOnceId: id } : {})
        if (p.qos === 1) this.qos1Pending--
        const reasonCode = r.matched || r.duplicate ? RC.success : RC.noMatchingSubscribers
        return version === 5 ? { cmd: ackCmd, messageId: id, reasonCode } : { cmd: ackCmd, messageId: id }
      } catch (e) {
        if (p.qos === 1) this.qos1Pending--
        else this.qos2Ids.delete(id)
        // 3.1.1 has no way to refuse a publish: the connection closes (§4.8 of 3.1.1 leaves no other answer).
        if (version !== 5) throw e
        const reasonCode = reasonOfCoreError(e)
        const properties = this.port.problemInfo ? { reasonString: (e as Error).message } : undefined
        return { cmd: ackCmd, messageId: id, reasonCode, ...(properties ? { properties } : {}) }
      }
    })()
    this.port.answer(work)
  }

  /**
   * PUBREL: the core forgets the packet id; PUBCOMP answers success even for an id it does not hold. An unknown id
   * means this PUBREL was already processed and its PUBCOMP lost (a takeover in between: the client resends PUBREL
   * to the new primary), so the message was routed exactly once and "complete" is the truth for the application;
   * MQTT 5's 0x92 ("not an error during recovery", §3.7.2.1) would make clients such as MQTT.js fail a publish
   * that succeeded.
   */
  pubrel(p: IPubrelPacket): void {
    const id = p.messageId ?? 0
    const work = this.port.session.release(id).then((): Packet => {
      this.qos2Ids.delete(id)
      if (this.port.version !== 5) return { cmd: 'pubcomp', messageId: id }
      return { cmd: 'pubcomp', messageId: id, reasonCode: RC.success }
    })
    this.port.answer(work)
  }

  /** A QoS 0 publish the core refused: nothing to answer in MQTT 5 (§4.13.1 lets it be dropped), fatal in 3.1.1. */
  private failQos0(e: unknown): null {
    if (this.port.version !== 5) throw e
    return null
  }
}
