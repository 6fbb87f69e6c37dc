/**
 * OpenWire codec (ActiveMQ's native protocol, versions 10–12, loose encoding): pure, no I/O. For the
 * connector (issue #16):
 *
 * - `FrameDecoder(initialFrameOptions(maxFrameSize))`: `push(chunk, onCommand)` with chunks split anywhere;
 *   throws a BrokerError (OPENWIRE_FRAME_INVALID naming type, field and offset; OPENWIRE_FRAME_TOO_LARGE before
 *   buffering an oversized frame; OPENWIRE_UNSUPPORTED for BlobMessage and other refused types). After an error
 *   the decoder stays failed: answer with ConnectionError if you can, then close.
 * - `encodeFrame(command, frameOptions)`: one frame as bytes (size prefix included).
 * - Handshake: send `brokerWireFormatInfo(offer)` at once; on the peer's WireFormatInfo run
 *   `negotiate(readWireFormatSettings(brokerInfo), readWireFormatSettings(peerInfo))` and give the result to
 *   `decoder.setOptions()` and to `encodeFrame` (a NegotiatedFormat is a FrameOptions). Tight encoding and the
 *   marshal cache are offered as false, so they negotiate off.
 * - Commands are plain objects tagged by `type` (commands.ts); Java longs are bigints; message properties and
 *   MapMessage bodies are `PrimitiveMap`s of typed values (primitive-map.ts), in wire order.
 * - Bodies: `readTextBody`, `readMapBody`, `readStreamBody`, `plainContent` (bytes; inflates compressed
 *   bodies up to a limit) and the matching writers in message-body.ts.
 */
export {
  AckType,
  DestinationOperation,
  REFUSED_TYPES,
  TransactionType,
  TypeCode,
  type TypeName,
} from './command-types.ts'
export type * from './commands.ts'
export {
  FrameDecoder,
  encodeFrame,
  FRAME_BYTES_CEILING,
  type FrameOptions,
  initialFrameOptions,
} from './frame-codec.ts'
export { NESTING_DEPTH_MAX, THROWABLE_DEPTH_MAX } from './loose-codec.ts'
export {
  plainContent,
  readMapBody,
  readStreamBody,
  readTextBody,
  writeMapBody,
  writeStreamBody,
  writeTextBody,
} from './message-body.ts'
export { PRIMITIVE_DEPTH_MAX, type Primitive, type PrimitiveMap } from './primitive-map.ts'
export {
  type BrokerOffer,
  brokerWireFormatInfo,
  type NegotiatedFormat,
  negotiate,
  OPENWIRE_MAGIC,
  OPENWIRE_VERSION_MAX,
  OPENWIRE_VERSION_MIN,
  readWireFormatSettings,
  type WireFormatSettings,
} from './wire-format.ts'
// The connector (issue #16): one OpenWireServer per tcp:// / nio:// connector over the broker core.
export {
  DEFAULT_MAXIMUM_CONNECTIONS,
  DEFAULT_OPENWIRE_PORT,
  OpenWireServer,
  type OpenWireServerOptions,
} from './server.ts'
export {
  DEFAULT_OPENWIRE_LIMITS,
  OpenWireConnection,
  type OpenWireLimits,
  type OpenWireSocket,
} from './connection.ts'
export type { OpenWireCore } from './core-port.ts'
export { fromWireMessage, toWireMessage } from './message-mapping.ts'
