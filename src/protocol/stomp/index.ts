/**
 * The STOMP connector: public surface of src/protocol/stomp. The node creates one StompServer per connector;
 * the client library may reuse the parser and encoder.
 */
export { StompServer, type StompServerOptions } from './server.ts'
export {
  StompConnection,
  type ConnectionOptions,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_IN_FLIGHT_FRAMES_MAX,
  DEFAULT_IN_FLIGHT_BYTES_MAX,
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_GOODBYE_LINGER_MS,
  REASON_HEADER,
  type Goodbye,
} from './connection.ts'
export type { DuplexPort, DuplexPortEvents } from './duplex-port.ts'
export { FrameParser, unescapeHeader } from './frame-parser.ts'
export { encodeFrame, escapeHeader } from './frame-encoder.ts'
export {
  negotiateHeartBeat,
  DEFAULT_HEART_BEAT_OPTIONS,
  type HeartBeatOptions,
  type HeartBeatPlan,
} from './heart-beat.ts'
export {
  DEFAULT_FRAME_LIMITS,
  SUPPORTED_VERSIONS,
  emptyHeaders,
  type FrameLimits,
  type StompFrame,
  type StompVersion,
} from './frame.ts'
export { fromStompSend, toStompHeaders, fromLegacyStored } from './message-mapping.ts'
