/**
 * Outbound deliveries: Delivery → PUBLISH (topic mapped back to MQTT, remaining message expiry, subscription ids,
 * outbound topic aliases), the client's PUBACK / PUBREC / PUBCOMP settling them through the session, PUBREL resends,
 * and the client's limits: a packet over its maximum packet size is dropped as if delivered (MQTT 5 §3.1.2.11.4),
 * a QoS 0 message is dropped while the socket is backed up past outBytesMax (QoS 1/2 are bounded by the window).
 */
import type { IPublishPacket, Packet } from 'mqtt-packet'
import type { Clock } from '../../lib/clock.ts'
import type { Delivery, MqttSession } from './core-port.ts'
import { internalToMqtt } from './topic-mapping.ts'
import { toPublishProperties } from './message-properties.ts'
import { RC } from './reason-codes.ts'

export interface OutboundPort {
  readonly version: 3 | 4 | 5
  readonly clock: Clock
  /** Encoded size of a packet in this connection's protocol version. */
  encode(p: Packet): Buffer
  writeBytes(b: Buffer): void
  /** Bytes waiting in the socket. */
  backlogBytes(): number
}

export interface OutboundLimits {
  clientPacketBytesMax: number
  clientTopicAliasMaximum: number
  /** Socket backlog beyond which QoS 0 deliveries are dropped. */
  outBytesMax: number
}

export class OutboundPublisher {
  private readonly aliases = new Map<string, number>()
  /** Deliveries dropped: QoS 0 under backlog, or any over the client's maximum packet size. */
  dropped = 0
  session: MqttSession | null = null

  constructor(
    private readonly port: OutboundPort,
    private readonly limits: OutboundLimits,
  ) {}

  deliver(d: Delivery): void {
    if (d.qos === 0 && this.port.backlogBytes() > this.limits.outBytesMax) {
      this.dropped++
      return
    }
    const m = d.message
    const topic = internalToMqtt(m.topic)
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic,
      payload: m.payload,
      qos: d.qos,
      dup: d.dup,
      retain: d.retain,
    }
    if (d.qos > 0) packet.messageId = d.packetId
    if (this.port.version === 5) {
      const props = toPublishProperties(m.properties)
      if (m.expiresAt !== undefined) {
        const left = Math.ceil((m.expiresAt - this.port.clock.now()) / 1000)
        if (left <= 0) {
          // Expired between the core's check and now: as good as delivered, never sent (§3.3.2.3.3).
          if (d.qos > 0) this.session?.settle(d.packetId)
          return
        }
        props.messageExpiryInterval = left
      }
      if (d.subscriptionIds.length > 0)
        props.subscriptionIdentifier = d.subscriptionIds.length === 1 ? d.subscriptionIds[0]! : d.subscriptionIds
      const alias = this.alias(topic)
      if (alias) {
        props.topicAlias = alias.id
        if (!alias.fresh) packet.topic = ''
      }
      if (Object.keys(props).length > 0) packet.properties = props
    }
    const bytes = this.port.encode(packet)
    if (bytes.length > this.limits.clientPacketBytesMax) {
      this.dropped++
      if (d.qos > 0) this.session?.settle(d.packetId)
      return
    }
    this.port.writeBytes(bytes)
  }

  /** Resend PUBREL for a QoS 2 delivery the client had PUBREC'd before a reconnect. */
  release(packetId: number): void {
    const pubrel: Packet = { cmd: 'pubrel', messageId: packetId }
    // MQTT 5: an explicit success code lets the encoder use the 2-byte form (§3.6.2.1), which older v5 clients
    // (Debian's paho 1.6.1) require; without it mqtt-packet writes a reason code and an empty property block.
    if (this.port.version === 5) pubrel.reasonCode = RC.success
    this.port.writeBytes(this.port.encode(pubrel))
  }

  puback(packetId: number): void {
    this.session?.settle(packetId)
  }

  /** PUBREC: answer PUBREL, or settle at once when an MQTT 5 client refused the message (reason ≥ 0x80). */
  pubrec(packetId: number, reasonCode: number | undefined): void {
    const s = this.session
    if (!s) return
    if (this.port.version === 5 && reasonCode !== undefined && reasonCode >= 0x80) {
      s.settle(packetId)
      return
    }
    // PUBREL only once the PUBREC is durable (see MqttSession.received). PUBRELs of different ids may overtake
    // each other; the protocol orders nothing between packet ids.
    s.received(packetId).then(
      (known) => {
        if (this.session !== s) return
        const pubrel: Packet = { cmd: 'pubrel', messageId: packetId }
        if (this.port.version === 5) pubrel.reasonCode = known ? RC.success : RC.packetIdNotFound
        this.port.writeBytes(this.port.encode(pubrel))
      },
      // The store failed: the broker gives up the primary role; the client resends after reconnecting elsewhere.
      () => {},
    )
  }

  pubcomp(packetId: number): void {
    this.session?.settle(packetId)
  }

  /** An alias for `topic` when the client allows them: existing (fresh false) or newly assigned (fresh true). */
  private alias(topic: string): { id: number; fresh: boolean } | null {
    const known = this.aliases.get(topic)
    if (known !== undefined) return { id: known, fresh: false }
    if (this.aliases.size >= this.limits.clientTopicAliasMaximum) return null
    const id = this.aliases.size + 1
    this.aliases.set(topic, id)
    return { id, fresh: true }
  }
}
