/**
 * The one MQTT core of a serving node, shared by every MQTT connector (mqtt://, mqtt+ssl://, ws://, wss://): built
 * after the broker, started before the connectors open, stopped after they close (broker-node.ts keeps that order).
 * This factory is the only place that knows which MqttCore implementation the node runs.
 *
 * The core is BrokerMqttCore (protocol/mqtt/broker-core.ts): sessions, queued QoS 1/2 and retained messages and
 * the QoS 2 receive state in the shared store; MQTT <-> STOMP/OpenWire through the broker's topics.
 */
import type { Broker } from '../broker/index.ts'
import type { Authenticator } from '../security/index.ts'
import type { MqttCore } from '../protocol/mqtt/index.ts'

export interface NodeMqttCore {
  readonly core: MqttCore
  /** Recovers what the core keeps (sessions, retained messages) before any MQTT client is accepted. */
  start(): Promise<void>
  /** After the connectors closed: no client is attached any more. */
  stop(): Promise<void>
}

export interface MqttCoreDeps {
  broker: Broker
  authenticator: Authenticator | null
}

/** Imports the MQTT code on first use: a node without MQTT connectors never evaluates it (mqtt-packet, streams). */
export async function createMqttCore(deps: MqttCoreDeps): Promise<NodeMqttCore> {
  const { BrokerMqttCore } = await import('../protocol/mqtt/index.ts')
  const core = new BrokerMqttCore({ broker: deps.broker, authenticator: deps.authenticator ?? undefined })
  return { core, start: () => core.start(), stop: () => core.stop() }
}
