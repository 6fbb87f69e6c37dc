/**
 * A TLS connector URI's own options, as ActiveMQ names them: `transport.needClientAuth`,
 * `transport.wantClientAuth`, `transport.enabledProtocols` (a contiguous range of TLSv1..TLSv1.3; default TLSv1.2
 * and up; SSLv2Hello is Java's hello format and ignored) and `transport.enabledCipherSuites` (IANA or OpenSSL
 * names). Owns reading their values into ConnectorTlsConfig; whether an option may appear on a scheme is
 * connector-uri.ts's.
 */
import type { BrokerError } from '../lib/errors.ts'
import type { ConnectorTlsConfig } from './types.ts'
import { parseBoolean } from './values.ts'
import { didYouMean } from './suggest.ts'

/** ActiveMQ's enabledProtocols names sfbroker accepts, oldest first; the default is TLSv1.2 and up. */
export const TLS_PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const
export const DEFAULT_TLS_PROTOCOLS: readonly string[] = ['TLSv1.2', 'TLSv1.3']
export const TLS_OPTIONS = [
  'transport.needClientAuth',
  'transport.wantClientAuth',
  'transport.enabledProtocols',
  'transport.enabledCipherSuites',
] as const

/** A cipher suite name: IANA/Java (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) or OpenSSL (`ECDHE-RSA-AES128-GCM-SHA256`). */
const CIPHER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,80}$/

/** The TLS settings of a URI that sets none. */
export function defaultTls(): ConnectorTlsConfig {
  return {
    needClientAuth: false,
    wantClientAuth: false,
    enabledProtocols: [...DEFAULT_TLS_PROTOCOLS],
    enabledCipherSuites: null,
  }
}

/** Read one of TLS_OPTIONS into `tls`; `bad` makes the error naming the URI and its place. */
export function parseTlsOption(
  key: string,
  value: string,
  tls: ConnectorTlsConfig,
  bad: (msg: string) => BrokerError,
): void {
  if (key === 'transport.needClientAuth' || key === 'transport.wantClientAuth') {
    const b = parseBoolean(value)
    if (b === undefined) throw bad(`option ${key}="${value}": expected true or false`)
    if (key === 'transport.needClientAuth') tls.needClientAuth = b
    else tls.wantClientAuth = b
    return
  }
  const list = value
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
  if (list.length === 0) throw bad(`option ${key}="${value}": expected a comma-separated list`)
  if (key === 'transport.enabledProtocols') {
    const known = TLS_PROTOCOLS as readonly string[]
    const out: string[] = []
    for (const p of list) {
      if (p === 'SSLv2Hello') continue // Java's hello format, not a protocol version; nothing to enable
      const canonical = known.find((k) => k.toLowerCase() === p.toLowerCase())
      if (canonical === undefined) {
        const sslv3 = /^SSLv[23]$/i.test(p)
        throw bad(
          `option ${key}: "${p}" is ${sslv3 ? 'not supported (broken protocol)' : `not a protocol${didYouMean(p, TLS_PROTOCOLS)}`}; expected some of ${TLS_PROTOCOLS.join(', ')}`,
        )
      }
      if (!out.includes(canonical)) out.push(canonical)
    }
    if (out.length === 0) throw bad(`option ${key}="${value}": expected at least one of ${TLS_PROTOCOLS.join(', ')}`)
    // A TLS library takes a lowest and a highest version, so the set must have no hole.
    const idx = out.map((p) => known.indexOf(p)).sort((a, b) => a - b)
    if (idx[idx.length - 1] - idx[0] + 1 !== idx.length) {
      throw bad(
        `option ${key}="${value}": expected a contiguous range of versions (e.g. TLSv1.2,TLSv1.3); ${known
          .slice(idx[0], idx[idx.length - 1] + 1)
          .filter((p) => !out.includes(p))
          .join(', ')} is missing in between`,
      )
    }
    tls.enabledProtocols = idx.map((i) => known[i])
    return
  }
  for (const c of list) {
    if (!CIPHER_NAME.test(c))
      throw bad(
        `option ${key}: "${c}" is not a cipher suite name; expected names such as TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, comma-separated`,
      )
  }
  tls.enabledCipherSuites = list
}
