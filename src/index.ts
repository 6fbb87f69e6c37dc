/**
 * Package entry ("sfbroker"): what a program embedding sfbroker needs: the STOMP client with failover URIs
 * (also at "sfbroker/client"), the config loader and its typed model, and the error type with its stable codes.
 * Starting a broker node in-process is `startNode(loadConfig(...))` from "sfbroker/src/node/index.ts"; it is not
 * re-exported here so that importing the client does not load storage, election and the native lock binding.
 */
export * from './client/index.ts'
export { loadConfig, defaultConfig, parseConnectorUri, DEFAULTS } from './config/index.ts'
export type * from './config/index.ts'
export { BrokerError, isBrokerError, type ErrorCode } from './lib/errors.ts'
export { VERSION } from './lib/version.ts'
