/**
 * The MQTT 3.1.1 / 5.0 connector: public surface of src/protocol/mqtt. The node creates one MqttServer per connector
 * over an MqttCore: BrokerMqttCore (broker-core.ts, state in the broker's shared store; the node calls start() when it
 * becomes primary, before the connector opens, and stop() before the broker stops) or MemoryCore for tests.
 */
export { MqttServer, type MqttServerOptions, DEFAULT_RECEIVE_BYTES_MAX, DEFAULT_MAXIMUM_CONNECTIONS } from './server.ts'
export { MqttConnection } from './connection.ts'
export {
  type MqttConnectionOptions,
  type MqttSocket,
  DEFAULT_SERVER_LIMITS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_OUT_BYTES_MAX,
} from './connection-options.ts'
export type { ServerLimits } from './connect-handler.ts'
export type * from './core-port.ts'
export { BrokerMqttCore, BROKER_MQTT_CORE_DEFAULTS, type BrokerMqttCoreOptions } from './broker-core.ts'
export type { MqttBrokerPort } from './broker-port.ts'
export { MemoryCore, MEMORY_CORE_DEFAULTS, type MemoryCoreOptions } from './memory-core.ts'
export { RC, MqttProtocolError, reasonOfCoreError } from './reason-codes.ts'
export { topicNameToInternal, topicFilterToInternal, internalToMqtt, parseFilter } from './topic-mapping.ts'
export { ReceiveBudget } from './receive-budget.ts'
