/**
 * STOMP frame model and wire limits shared by the parser, the encoder and the connection handler.
 * Owns: the `StompFrame` shape, the version names, and the named limits with ActiveMQ's defaults
 * (`StompWireFormat`: command line 1024 B, header line 10240 B, 1000 headers, body 100 MiB).
 * Does not own: what a command means (connection.ts) or how bytes reach us (server.ts).
 */

export type StompVersion = '1.0' | '1.1' | '1.2'

/** Highest first: negotiation picks the first one the client accepts. */
export const SUPPORTED_VERSIONS: readonly StompVersion[] = ['1.2', '1.1', '1.0']

export interface StompFrame {
  command: string
  /**
   * Decoded headers. A repeated header keeps its first value (STOMP 1.2 "Repeated Header Entries").
   * Null-prototype object so a header named `__proto__` is just a header.
   */
  headers: Record<string, string>
  body: Uint8Array
}

export interface FrameLimits {
  /** Longest command line in bytes (ActiveMQ MAX_COMMAND_LENGTH). */
  commandBytesMax: number
  /** Longest header line in bytes, name + ':' + value (ActiveMQ MAX_HEADER_LENGTH). */
  headerLineBytesMax: number
  /** Most header lines per frame (ActiveMQ MAX_HEADERS). */
  headersMax: number
  /** Largest body in bytes (ActiveMQ maxDataLength; the connector's `wireFormat.maxFrameSize`). */
  bodyBytesMax: number
}

export const DEFAULT_FRAME_LIMITS: Readonly<FrameLimits> = Object.freeze({
  commandBytesMax: 1024,
  headerLineBytesMax: 10 * 1024,
  headersMax: 1000,
  bodyBytesMax: 100 * 1024 * 1024,
})

/** Make an empty header record with no prototype (see StompFrame.headers). */
export function emptyHeaders(): Record<string, string> {
  return Object.create(null) as Record<string, string>
}

/** CONNECT, STOMP and CONNECTED headers are never escaped (STOMP 1.2 "Value Encoding"). */
export function isUnescapedCommand(command: string): boolean {
  return command === 'CONNECT' || command === 'STOMP' || command === 'CONNECTED'
}
