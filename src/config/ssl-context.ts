/**
 * `<sslContext>` and the admin endpoint's TLS attributes → SslContextConfig: absolute paths, which pieces go
 * together (a PKCS#12 keyStore or a PEM keyFile + certFile, not both; a trustStore or a caFile, not both) and
 * that a `+ssl` connector has an sslContext to use. The files themselves are read by src/net/tls-context.ts at
 * start and on each reload (so JKS detection and password checks happen there, naming the file).
 */
import { BrokerError } from '../lib/errors.ts'
import type { ConnectorConfig, SslContextConfig } from './types.ts'
import type { Locator, PathItem } from './origin.ts'
import type { Secret } from './secret.ts'

export interface SslContextInput {
  keyStore?: string
  keyStorePassword?: Secret
  trustStore?: string
  trustStorePassword?: Secret
  keyFile?: string
  certFile?: string
  caFile?: string
  keyPassword?: Secret
}

/** Check and complete one set of TLS attributes found at `at` (`['sslContext']` or `['admin']`). */
export function resolveSslContext(
  input: SslContextInput,
  at: PathItem[],
  locator: Locator,
  abs: (p: string) => string,
): SslContextConfig {
  const place = (k: string): string => locator.at([...at, k])
  if (input.keyStore !== undefined && (input.keyFile !== undefined || input.certFile !== undefined)) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${place('keyStore')}: found both keyStore and ${input.keyFile !== undefined ? 'keyFile' : 'certFile'}; expected a PKCS#12 keyStore or PEM keyFile + certFile, not both`,
    )
  }
  if ((input.keyFile === undefined) !== (input.certFile === undefined)) {
    const missing = input.keyFile === undefined ? 'keyFile' : 'certFile'
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.container(at)}: ${missing} is missing; expected keyFile (PEM private key) and certFile (PEM certificate chain) together`,
    )
  }
  if (input.trustStore !== undefined && input.caFile !== undefined) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${place('caFile')}: found both trustStore and caFile; expected one of them`,
    )
  }
  if (input.keyPassword !== undefined && input.keyFile === undefined) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${place('keyPassword')}: set without keyFile; expected it only for an encrypted PEM keyFile (a keyStore uses keyStorePassword)`,
    )
  }
  // ActiveMQ's configs name stores as Spring resources: `file:/etc/amq/broker.p12` (or `file:conf/…`) is a path.
  const opt = (p: string | undefined, key: keyof SslContextInput): string | null => {
    if (p === undefined) return null
    if (/^file:/i.test(p)) return abs(p.replace(/^file:(\/\/(?=\/))?/i, ''))
    if (/^(classpath|https?|jar):/i.test(p)) {
      throw new BrokerError(
        'CONFIG_UNSUPPORTED',
        `${place(key)}: found "${p}", a Spring resource sfbroker cannot open; expected a file path (or file:path)`,
      )
    }
    return abs(p)
  }
  return {
    keyStore: opt(input.keyStore, 'keyStore'),
    keyStorePassword: input.keyStorePassword ?? null,
    trustStore: opt(input.trustStore, 'trustStore'),
    trustStorePassword: input.trustStorePassword ?? null,
    keyFile: opt(input.keyFile, 'keyFile'),
    certFile: opt(input.certFile, 'certFile'),
    caFile: opt(input.caFile, 'caFile'),
    keyPassword: input.keyPassword ?? null,
  }
}

/** Whether a context has a key to serve with. */
export function hasKeyMaterial(c: SslContextConfig): boolean {
  return c.keyStore !== null || c.keyFile !== null
}

/** A `+ssl` connector needs `<sslContext>` with a key; needClientAuth needs something to trust. */
export function checkTlsConnectors(
  connectors: ConnectorConfig[],
  ssl: SslContextConfig | null,
  locator: Locator,
): void {
  connectors.forEach((c, i) => {
    if (!c.tls) return
    const at = locator.at(['transportConnectors', i, 'uri'])
    if (ssl === null || !hasKeyMaterial(ssl)) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${at}: found "${c.uri}", a TLS connector, but ${ssl === null ? 'there is no <sslContext>' : '<sslContext> has no keyStore or keyFile'}; expected <sslContext><sslContext keyStore="broker.p12" keyStorePassword="…"/></sslContext> (or keyFile + certFile)`,
      )
    }
    if ((c.tls.needClientAuth || c.tls.wantClientAuth) && ssl.trustStore === null && ssl.caFile === null) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${at}: transport.${c.tls.needClientAuth ? 'need' : 'want'}ClientAuth=true, but <sslContext> has no trustStore or caFile; expected the CA certificates that sign client certificates`,
      )
    }
  })
}
