/**
 * BrokerError: the one error type every part throws for expected failures.
 * `code` is stable (tests assert codes, never wording); the message names the place,
 * the value found and what was expected. Broken invariants use `assert()` and crash instead.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_UNSUPPORTED'
  | 'CONFIG_NOT_FOUND'
  | 'CLI_USAGE'
  | 'ELECTION_LOCK_LOST'
  | 'ELECTION_LOCK_HELD'
  | 'ELECTION_FENCED'
  | 'ELECTION_LOCK_UNSUPPORTED'
  | 'ELECTION_NOT_BROKER_DIR'
  | 'STORAGE_CLOSED'
  | 'STORAGE_CORRUPT_RECORD'
  | 'STORAGE_TORN_TAIL'
  | 'STORAGE_FORMAT'
  | 'STORAGE_IO'
  | 'STORAGE_NOT_FOUND'
  | 'STORAGE_FENCED'
  /** A write()/load() argument the store cannot accept (bad op shape, batch over recordBytesMax). */
  | 'STORAGE_INVALID_OP'
  | 'STOMP_FRAME_INVALID'
  /** A header (command, name or value) that is not valid UTF-8 (STOMP 1.2 "Value Encoding"). */
  | 'STOMP_ENCODING_INVALID'
  | 'STOMP_FRAME_TOO_LARGE'
  | 'STOMP_PROTOCOL'
  /** OpenWire bytes that do not decode: names the command type, field and offset (protocol/openwire). */
  | 'OPENWIRE_FRAME_INVALID'
  /** An OpenWire frame whose size prefix (or encoded size) is over the negotiated maxFrameSize. */
  | 'OPENWIRE_FRAME_TOO_LARGE'
  /** Valid OpenWire that sfbroker does not implement: BlobMessage, a version below 10, cache or tight encoding. */
  | 'OPENWIRE_UNSUPPORTED'
  | 'BROKER_DESTINATION_INVALID'
  | 'BROKER_SELECTOR_INVALID'
  /** A selector past a complexity limit (length, nodes, nesting, LIKE pattern characters): see broker/selector.ts. */
  | 'BROKER_SELECTOR_TOO_COMPLEX'
  | 'BROKER_TX_UNKNOWN'
  | 'BROKER_CLIENT_ID_IN_USE'
  | 'BROKER_LIMIT'
  | 'BROKER_HEADER_INVALID'
  | 'BROKER_ACK_INVALID'
  | 'BROKER_SUBSCRIPTION_INVALID'
  | 'BROKER_SESSION_CLOSED'
  | 'BROKER_STOPPED'
  | 'SCHEDULER_HEADER_INVALID'
  | 'CLIENT_URI_INVALID'
  | 'CLIENT_TIMEOUT'
  | 'CLIENT_DISCONNECTED'
  | 'CLIENT_TX_IN_DOUBT'
  | 'CLIENT_BROKER_ERROR'
  | 'CLIENT_DESTINATION_INVALID'
  | 'CLIENT_USAGE'
  /** Wrong user name or password (ActiveMQ's "User name [x] or password is invalid."); the connection closes. */
  | 'SECURITY_AUTHENTICATION_FAILED'
  /** An operation the authorization map does not grant; ActiveMQ's text, the connection stays up. */
  | 'SECURITY_NOT_AUTHORIZED'
  /** A key store, trust store or PEM file that cannot be used (JKS, wrong password, no key, bad file); never names the password. */
  | 'TLS_KEYSTORE_INVALID'

export class BrokerError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>
  constructor(code: ErrorCode, message: string, opts: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'BrokerError'
    this.code = code
    this.details = opts.details
  }
}

export function isBrokerError(e: unknown, code?: ErrorCode): e is BrokerError {
  return e instanceof BrokerError && (code === undefined || e.code === code)
}

/** Invariant check: a failure is a bug, so it throws a plain Error that is never caught as input error. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${what}`)
}
