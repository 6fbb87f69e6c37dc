/**
 * DuplexPort: what a STOMP connection needs of its byte stream, and nothing more. A node:net or node:tls socket
 * is one as it is; an in-memory pair (src/testing/duplex-pair.ts) is one for unit tests, and a WebSocket
 * transport can be one later. Owns no behaviour: it only names the calls and events connection.ts relies on.
 */

/** The events a connection listens to, with node:net's meaning. */
export interface DuplexPortEvents {
  /** Bytes arrived, in order. May still fire once after pause() (a read already under way). */
  data: (chunk: Buffer) => void
  /** The buffer that made write() return false has been handed on: writing may go on. */
  drain: () => void
  /** A transport error; 'close' follows. */
  error: (err: Error) => void
  /** The stream is gone, whoever closed it. Fires once. */
  close: () => void
}

export interface DuplexPort {
  /** Queue bytes; false when the port's buffer is over its high-water mark ('drain' follows). */
  write(bytes: Buffer | string): boolean
  /** Stop emitting 'data' (at most a read already under way still arrives). */
  pause(): unknown
  resume(): unknown
  /** Half-close after what is queued. */
  end(): unknown
  /** Close now, dropping what is queued. */
  destroy(): unknown
  readonly destroyed: boolean
  /** Bytes queued in the port and not yet handed on (undefined: unknown, counted as 0). */
  readonly writableLength?: number
  readonly remoteAddress?: string
  readonly remotePort?: number
  /** Send small writes at once (TCP_NODELAY); absent where it means nothing. */
  setNoDelay?(noDelay?: boolean): unknown
  on(event: 'data', listener: DuplexPortEvents['data']): unknown
  on(event: 'drain', listener: DuplexPortEvents['drain']): unknown
  on(event: 'error', listener: DuplexPortEvents['error']): unknown
  on(event: 'close', listener: DuplexPortEvents['close']): unknown
}
