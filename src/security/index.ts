/**
 * The security part: authentication (simpleAuthenticationPlugin, jaasAuthenticationPlugin with ActiveMQ's
 * PropertiesLoginModule), authorization (authorizationPlugin's authorizationMap), passwords at rest and the
 * login backoff. Protocol-neutral: STOMP, later OpenWire and MQTT, and the admin endpoint call the same API.
 *
 *     const security = new Security(config.security)
 *     const subject = await security.authenticator?.authenticate({ username, password, remoteAddress })
 *     security.authorizer?.check(subject ?? null, 'write', { kind: 'queue', name: 'orders' })
 *
 * Both throw BrokerError: SECURITY_AUTHENTICATION_FAILED / SECURITY_NOT_AUTHORIZED with ActiveMQ's texts.
 * TLS (key stores, the TLS terminator, certificate reloads) is not here: it is the `src/net/` part.
 */
export type {
  Subject,
  Credentials,
  Authenticator,
  Authorizer,
  Operation,
  SecuredDestination,
  SecurityStats,
} from './types.ts'
export { Security, inGroup, type SecurityDeps } from './security.ts'
export { AuthorizationMap, destinationText } from './authorization-map.ts'
export {
  hashPassword,
  verifyPassword,
  parseStoredPassword,
  storedPasswordProblem,
  SCRYPT_DEFAULTS,
  SCRYPT_EXPECTED,
} from './password.ts'
export { LoginBackoff, LOGIN_BACKOFF_DEFAULTS, addressKey, type LoginBackoffOptions } from './login-backoff.ts'
export { nodeFiles, resolveJaasFiles, type FilePort } from './jaas-authenticator.ts'
