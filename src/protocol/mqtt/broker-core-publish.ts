/**
 * The publishing side of BrokerMqttCore (broker-core.ts): an MQTT message goes out through a broker session
 * (authorization, flow control, dedupe, other protocols' subscribers and the store all apply), with the retained
 * limit checked first, whether any subscriber took it read back from the router's tap (`matched`), and a QoS 2
 * packet id recorded in the message's own batch for persistent sessions so a resend is never routed twice.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { MqttBrokerPort, StoreOp } from './broker-port.ts'
import type { MqttMessage, PublishOptions } from './core-port.ts'
import { mqttToCore } from './message-map.ts'
import { keys, qos2InRecord } from './mqtt-store.ts'
import type { MqttRouter, Publishing } from './broker-core-router.ts'
import type { SessionState } from './broker-core-session.ts'

export class MqttPublisher {
  constructor(
    private readonly broker: MqttBrokerPort,
    private readonly router: MqttRouter,
    private readonly limits: { retainedMax: number },
  ) {}

  /** Sends an MQTT message through a broker session; `extraOps` go in its batch. */
  async send(
    session: ReturnType<MqttBrokerPort['connect']>,
    clientId: string,
    m: MqttMessage,
    extraOps: StoreOp[] = [],
  ): Promise<{ matched: boolean }> {
    if (
      m.retain &&
      m.payload.length > 0 &&
      !this.router.retained.has(m.topic) &&
      this.router.retained.size >= this.limits.retainedMax
    )
      throw new BrokerError('BROKER_LIMIT', `mqtt: retainedMax ${this.limits.retainedMax} retained messages reached`)
    const core = mqttToCore(m, {
      messageId: this.broker.newMessageId(),
      nowMs: this.broker.clock.now(),
    })
    const mine: Publishing = { clientId }
    this.router.publishing.set(core.messageId, mine)
    try {
      await session.send({ message: core, ...(extraOps.length > 0 ? { extraOps } : {}) })
      // Not seen by the tap (scheduled for later, or a duplicate): someone may yet take it.
      return { matched: mine.matched ?? true }
    } finally {
      this.router.publishing.delete(core.messageId)
    }
  }

  /** Handle.publish with an exactly-once id: the id is recorded in the message's batch (persistent sessions). */
  async publishOnce(
    s: SessionState,
    session: ReturnType<MqttBrokerPort['connect']>,
    m: MqttMessage,
    opts: PublishOptions,
  ): Promise<{ duplicate: boolean; matched: boolean }> {
    const id = opts.exactlyOnceId
    if (id === undefined) return { duplicate: false, ...(await this.send(session, s.clientId, m)) }
    if (s.exactlyOnce.has(id)) return { duplicate: true, matched: false }
    s.exactlyOnce.add(id)
    const extra: StoreOp[] = s.durable
      ? [{ op: 'add', destination: keys.qos2In(s.clientId, id), message: qos2InRecord(id, this.broker.clock.now()) }]
      : []
    try {
      const { matched } = await this.send(session, s.clientId, m, extra)
      if (extra.length > 0) s.stored = true
      return { duplicate: false, matched }
    } catch (e) {
      s.exactlyOnce.delete(id)
      throw e
    }
  }

  async release(s: SessionState, packetId: number): Promise<boolean> {
    if (!s.exactlyOnce.delete(packetId)) return false
    if (s.stored) await s.write([{ op: 'purge', destination: keys.qos2In(s.clientId, packetId) }])
    return true
  }
}
