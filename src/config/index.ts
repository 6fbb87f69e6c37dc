/**
 * The config part: `loadConfig` (XML or JSON file + flags + defaults → BrokerConfig) and the typed model.
 * Other parts import from here only.
 */
export type * from './types.ts'
export { loadConfig, defaultConfig, type ConfigOverrides, type LoadConfigOptions } from './load-config.ts'
export { warnings } from './config-warnings.ts'
export { parseConnectorUri, defaultFairness, DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS } from './connector-uri.ts'
export { parseSize, parseDurationMs, parseHostPort } from './values.ts'
export { closest, didYouMean } from './suggest.ts'
export { DEFAULTS } from './defaults.ts'
export { policyEntryFor, matchesPattern } from './destination-policy.ts'
export { parseScrypt, storedPasswordProblem, SCRYPT_EXPECTED, type ScryptHash } from './stored-password.ts'
export { SECURITY_DEFAULTS, holdsPasswords } from './security-config.ts'
