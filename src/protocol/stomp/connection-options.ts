/**
 * The options of one STOMP connection and their defaults (re-exported by connection.ts and index.ts), and the
 * goodbye a connector says to every client when it stops serving. Values only: no behaviour.
 */
import type { MemoryUsage } from '../../broker/index.ts'
import type { BrokerCore } from '../../broker/types.ts'
import type { Clock } from '../../lib/clock.ts'
import type { Authenticator } from '../../security/index.ts'
import type { StompConnection } from './connection.ts'
import type { DuplexPort } from './duplex-port.ts'
import type { FrameLimits } from './frame.ts'
import type { HeartBeatOptions } from './heart-beat.ts'

export interface ConnectionOptions {
  broker: BrokerCore
  /** The byte stream: a node:net/tls socket, or any DuplexPort (an in-memory pair in unit tests). */
  socket: DuplexPort
  /** CONNECTED `server` header, e.g. sfbroker/0.1.0 */
  serverName: string
  limits?: Partial<FrameLimits>
  heartBeat?: Partial<HeartBeatOptions>
  /** Close a connection that sent no CONNECT within this (ActiveMQ connectAttemptTimeout, 30000). */
  connectTimeoutMs?: number
  /** Most operations awaiting the broker before the socket stops reading. */
  inFlightFramesMax?: number
  /** Most SEND body bytes awaiting the broker before the socket stops reading (one larger frame still passes). */
  inFlightBytesMax?: number
  /**
   * Receive budget shared by the connector's connections: a frame's declared body is reserved here before its
   * bytes are read (a frame that does not fit pauses its socket until it does) and released once the broker has
   * taken the frame (for a SEND: when it settles). Absent: no budget.
   */
  receiveUsage?: MemoryUsage
  /** Bytes queued for this socket (ours plus the socket's own buffer) above which dispatch to it pauses. */
  outBytesMax?: number
  /** After an ERROR the socket is half-closed; it is destroyed if the peer has not closed within this. */
  closeLingerMs?: number
  clock?: Clock
  onClose?: (conn: StompConnection) => void
  /** Checks CONNECT's login/passcode (src/security); absent = every CONNECT is accepted with no subject. */
  authenticator?: Authenticator | null
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
export const DEFAULT_IN_FLIGHT_FRAMES_MAX = 1000
/** 4 MiB: hundreds of typical messages per connection in flight (group commit stays fed), a bounded overshoot. */
export const DEFAULT_IN_FLIGHT_BYTES_MAX = 4 * 1024 * 1024
export const DEFAULT_CLOSE_LINGER_MS = 5_000
/** 8 MiB: a slow consumer makes the broker hold at most this (plus one message) for its socket. */
export const DEFAULT_OUT_BYTES_MAX = 8 * 1024 * 1024
/** Bodies up to this are not charged to the receive budget (so they never wait behind a large frame). */
export const RECEIVE_SMALL_BYTES = 64 * 1024
/**
 * After the goodbye ERROR of a connector that stops serving, the socket is destroyed after at most this long,
 * whether or not the peer read it: a client that does not read must not hold a step-down.
 */
export const DEFAULT_GOODBYE_LINGER_MS = 500

/** ERROR header naming why a connector closes every connection (README "When the broker stops serving"). */
export const REASON_HEADER = 'sfbroker-reason'

/**
 * Why a connector says goodbye to all its clients: `not-primary` (lock lost, fenced, store failure: another
 * broker serves, or will), `shutdown` (a requested stop). Either way a failover client should move on at once.
 */
export interface Goodbye {
  reason: 'not-primary' | 'shutdown'
  /** The ERROR's `message` header, e.g. "broker is no longer primary: keep-alive: ...". */
  message: string
}
