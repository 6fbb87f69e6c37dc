/**
 * The protocol-neutral model (issue #13 §1): CoreMessage with typed JMS properties, Destination in ActiveMQ's
 * dotted form with wildcard matching and a fan-out index, each protocol's destination spelling, and the stores'
 * binary message record. Pure: no I/O, imports only lib. Every part above may import it through this file.
 */
export * from './destination.ts'
export { DestinationIndex } from './destination-index.ts'
export * from './destination-mapping.ts'
export * from './property.ts'
export * from './message.ts'
export { encodeMessage, MESSAGE_FORMAT_VERSION, MESSAGE_RECORD_BYTES_MAX } from './message-codec.ts'
export { decodeMessage } from './message-decoder.ts'
