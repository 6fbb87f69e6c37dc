/**
 * The protocol-neutral security contract: who a connection is (Subject), how it proves it (Credentials →
 * Authenticator), and what it may do to a destination (Authorizer). STOMP calls it today; OpenWire, MQTT and the
 * admin HTTP endpoint call the same functions. Nothing here knows a socket, a frame or a file format.
 */

/** An authenticated user: ActiveMQ's SecurityContext (user name plus group principals). */
export interface Subject {
  readonly user: string
  readonly groups: ReadonlySet<string>
  /** True for the anonymous subject of `anonymousAccessAllowed` (no login given). */
  readonly anonymous?: boolean
}

/** What a client presented. Absent username/password mean the client sent none (ActiveMQ's null). */
export interface Credentials {
  username?: string
  password?: string
  /** `host:port` or `host` of the peer, for backoff, logs and error texts. */
  remoteAddress: string
  /** A verified TLS client certificate, when the connector has one (reserved for certificate login). */
  clientCertificate?: { subject: string; fingerprint256?: string }
}

export interface Authenticator {
  /**
   * The subject for these credentials. Rejects with BrokerError SECURITY_AUTHENTICATION_FAILED and ActiveMQ's
   * message ("User name [x] or password is invalid."); the message never holds the password.
   */
  authenticate(credentials: Credentials): Promise<Subject>
}

/** The three rights of an `<authorizationEntry>`. */
export type Operation = 'read' | 'write' | 'admin'

/** A destination as the authorization map sees it: kind and the name after the kind prefix. */
export interface SecuredDestination {
  kind: 'queue' | 'topic' | 'temp-queue' | 'temp-topic'
  name: string
}

export interface Authorizer {
  /**
   * Throws BrokerError SECURITY_NOT_AUTHORIZED ("User x is not authorized to write to: queue://y") unless
   * `subject` may do `op` on `destination`. A null subject (no authentication plugin configured) is refused every
   * operation with "User is not authenticated.", as ActiveMQ's AuthorizationBroker does.
   */
  check(subject: Subject | null, op: Operation, destination: SecuredDestination): void
}

/** Counters for /metrics; monotonic over the process (they outlive a primary term). */
export interface SecurityStats {
  authSuccesses: number
  authFailures: number
  authorizationDenials: number
  /** Addresses currently tracked by the login backoff (bounded by loginBackoff.addressesMax). */
  backoffAddresses: number
}
