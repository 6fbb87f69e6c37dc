/**
 * The one MQTT core of a serving node, shared by every MQTT connector (mqtt://, mqtt+ssl://, ws://, wss://): built
 * after the broker, started before the connectors open, stopped after they close (broker-node.ts keeps that order).
 * This factory is the only place that knows which MqttCore implementation the node runs.
 *
 * TODO(#17): the broker-backed core (protocol/mqtt/broker-core.ts, BrokerMqttCore: sessions, queued QoS 1/2 and
 * retained messages in the shared store, MQTT <-> STOMP through the broker's topics) replaces the in-memory core
 * below once it is merged; until then MQTT clients talk to each other only and keep no state across a takeover.
 */
import type { Broker } from '../broker/index.ts'
import type { Clock } from '../lib/clock.ts'
import type { Authenticator } from '../security/index.ts'
import { MemoryCore, type MqttCore } from '../protocol/mqtt/index.ts'

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
  clock: Clock
}

export function createMqttCore(deps: MqttCoreDeps): NodeMqttCore {
  const core = new MemoryCore({ clock: deps.clock, authenticator: deps.authenticator ?? undefined })
  return { core, start: async () => undefined, stop: async () => undefined }
}
