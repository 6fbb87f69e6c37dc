/**
 * Public API of the sfbroker client library (package export "sfbroker/client"): a STOMP 1.2 client with
 * ActiveMQ-style failover URIs. Start with `connect(uri, options)`; see client.ts for what survives a failover.
 */
export { connect, StompClient } from './client.ts'
export type {
  ClientState,
  ClientStats,
  ConnectedInfo,
  ConnectOptions,
  InterruptedInfo,
  SendBody,
  SendOptions,
} from './client-types.ts'
export { Subscription } from './subscription.ts'
export type { MessageHandler, SubscribeOptions, UnsubscribeOptions } from './subscription.ts'
export { ClientMessage } from './message.ts'
export type { AckMode, AckOptions } from './message.ts'
export { Transaction } from './transaction.ts'
export type { TxState } from './transaction.ts'
export {
  parseBrokerUri,
  FAILOVER_DEFAULTS,
  DEFAULT_STOMP_PORT,
  ENDPOINT_CONNECTION_TIMEOUT_MS_DEFAULT,
} from './failover-uri.ts'
export type { BrokerUri, Endpoint, EndpointTls, FailoverOptions } from './failover-uri.ts'
export { ReconnectBackoff, passOrder } from './backoff.ts'
export { normalizeDestination, isQueue } from './destination.ts'
export { BrokerLink, clientFrameLimits } from './broker-link.ts'
/** @deprecated Renamed BrokerLink (the broker's own StompConnection is protocol/stomp's); kept for old importers. */
export { BrokerLink as StompConnection } from './broker-link.ts'
export type { ClientFrame, ClientStompVersion } from './broker-link.ts'
