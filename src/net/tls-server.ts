/**
 * TlsTerminator: the server side of TLS for any connector (STOMP today; later protocols' `+ssl` forms reuse it).
 * A connector accepts plain TCP sockets as always (its admission and limits count a socket from its first byte)
 * and hands each admitted one to `wrap()`, which returns the TLS socket to speak the protocol over. It owns:
 * - ActiveMQ's connector options mapped onto node:tls (`tlsLimits`): enabledProtocols → min/max version,
 *   enabledCipherSuites (IANA/Java names → OpenSSL names), needClientAuth / wantClientAuth;
 * - a handshake deadline: a socket that has not finished its handshake within `handshakeTimeoutMs` (the
 *   connector's connectAttemptTimeout) is destroyed, so a stalled or half-done handshake costs one socket for a
 *   bounded time; a failed handshake (garbage bytes, wrong version, bad client certificate) costs only that socket;
 * - switching to reloaded key material (TlsContextSource) for new connections; existing ones keep theirs.
 * It does not log per socket (a flood would flood the log): failures go to `onRefused`, which connectors count.
 */
import net from 'node:net'
import tls from 'node:tls'
import type { ConnectorTlsConfig } from '../config/types.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { createContext, type TlsContextSource, type TlsMaterial } from './tls-context.ts'

const log = logger('tls')

/** Java/IANA cipher suite names → OpenSSL names, for the suites a TLS 1.2 server may reasonably offer. */
export const IANA_TO_OPENSSL: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 'ECDHE-ECDSA-AES256-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 'ECDHE-RSA-AES256-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_256_CBC_SHA256: 'AES256-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
}
/** TLS 1.3 suites: the same name in Java, IANA and OpenSSL. */
export const TLS13_SUITES: readonly string[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
]

/**
 * A connector's protocol and cipher limits as tls.createSecureContext options. Java does not negotiate a version
 * none of whose suites is enabled, so a suite list without TLS 1.3 suites caps the version at TLS 1.2 and one with
 * only TLS 1.3 suites raises the floor to 1.3. `where` names the connector in errors.
 */
export function tlsLimits(t: ConnectorTlsConfig, where: string): tls.SecureContextOptions {
  const protocols = t.enabledProtocols
  let minVersion = protocols[0] as tls.SecureVersion
  let maxVersion = protocols[protocols.length - 1] as tls.SecureVersion
  const out: tls.SecureContextOptions = {}
  if (t.enabledCipherSuites !== null) {
    const v13: string[] = []
    const v12: string[] = []
    for (const name of t.enabledCipherSuites) {
      if (TLS13_SUITES.includes(name)) v13.push(name)
      else if (IANA_TO_OPENSSL[name] !== undefined) v12.push(IANA_TO_OPENSSL[name])
      else if (/^(TLS|SSL)_/.test(name)) {
        throw new BrokerError(
          'CONFIG_UNSUPPORTED',
          `${where}: transport.enabledCipherSuites: "${name}" is not a suite sfbroker offers; expected some of ${[...TLS13_SUITES, ...Object.keys(IANA_TO_OPENSSL)].join(', ')} (or OpenSSL names)`,
        )
      } else v12.push(name) // an OpenSSL name: the TLS library judges it
    }
    if (v13.length === 0 && maxVersion === 'TLSv1.3') {
      if (minVersion === 'TLSv1.3')
        throw new BrokerError(
          'CONFIG_INVALID',
          `${where}: transport.enabledProtocols is TLSv1.3 only, but transport.enabledCipherSuites has no TLS 1.3 suite; expected one of ${TLS13_SUITES.join(', ')}`,
        )
      maxVersion = 'TLSv1.2'
    }
    if (v12.length === 0) {
      if (maxVersion !== 'TLSv1.3')
        throw new BrokerError(
          'CONFIG_INVALID',
          `${where}: transport.enabledCipherSuites has only TLS 1.3 suites, but transport.enabledProtocols stops below TLSv1.3`,
        )
      minVersion = 'TLSv1.3'
    }
    out.ciphers = [...v13, ...v12].join(':')
  }
  out.minVersion = minVersion
  out.maxVersion = maxVersion
  return out
}

/** Why a TLS socket was closed before it could be used, as counted by a connector. */
export type TlsRefusal = 'TLS handshake timed out' | 'TLS handshake failed' | 'TLS client certificate refused'

export interface TlsTerminatorOptions {
  /** `connector stomp-ssl (stomp+ssl://0.0.0.0:61614)`, for errors and logs. */
  where: string
  tls: ConnectorTlsConfig
  source: TlsContextSource
  /** A handshake not finished within this is abandoned (the connector's connectAttemptTimeout). */
  handshakeTimeoutMs: number
  onRefused?: (why: TlsRefusal) => void
}

export class TlsTerminator {
  private context: tls.SecureContext
  private readonly limits: tls.SecureContextOptions
  private readonly unsubscribe: () => void
  private readonly pending = new Set<tls.TLSSocket>()

  /** Builds the context now: limits that fit no key (a bad cipher list) throw here, at start. */
  constructor(private readonly opts: TlsTerminatorOptions) {
    this.limits = tlsLimits(opts.tls, opts.where)
    this.context = createContext(opts.source.material(), this.limits, opts.where)
    this.unsubscribe = opts.source.onChange((m) => this.setSecureContext(m))
  }

  /** New connections use `material` from now on (node's server.setSecureContext, for a socket-level server). */
  setSecureContext(material: TlsMaterial): void {
    this.context = createContext(material, this.limits, this.opts.where)
    log.debug(`${this.opts.where}: new TLS context in use for new connections`)
  }

  /** Sockets whose handshake is still running. */
  handshaking(): number {
    return this.pending.size
  }

  /**
   * Start the server side of TLS on an accepted socket. The returned socket is usable at once (writes wait for
   * the handshake); it is destroyed with `raw` on a failed, refused or late handshake, and `raw` with it.
   */
  wrap(raw: net.Socket): tls.TLSSocket {
    const { tls: t } = this.opts
    const s = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert: t.needClientAuth || t.wantClientAuth,
      rejectUnauthorized: t.needClientAuth,
    })
    this.pending.add(s)
    // Bun's TLSSocket over an existing socket reports no peer address; connectors log and count by it.
    for (const k of ['remoteAddress', 'remotePort', 'remoteFamily'] as const) {
      if (s[k] === undefined && raw[k] !== undefined) Object.defineProperty(s, k, { value: raw[k], configurable: true })
    }
    let done = false
    const fail = (why: TlsRefusal): void => {
      if (done) return
      done = true
      this.pending.delete(s)
      clearTimeout(timer)
      this.opts.onRefused?.(why)
      s.destroy()
      raw.destroy()
    }
    const timer = setTimeout(() => fail('TLS handshake timed out'), this.opts.handshakeTimeoutMs)
    timer.unref?.()
    s.once('secure', () => {
      if (done) return
      // wantClientAuth: no certificate is fine, a certificate the trust store does not vouch for is not (as Java).
      if (t.wantClientAuth && !t.needClientAuth && !s.authorized && hasPeerCertificate(s))
        return fail('TLS client certificate refused')
      done = true
      this.pending.delete(s)
      clearTimeout(timer)
    })
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (!done)
        fail(
          /certificate|alert.*(bad|unknown|unsupported)_cert|PEER_DID_NOT_RETURN|NO_CERT/i.test(
            String(err.message ?? err.code),
          )
            ? 'TLS client certificate refused'
            : 'TLS handshake failed',
        )
      else s.destroy()
    })
    s.once('close', () => {
      this.pending.delete(s)
      clearTimeout(timer)
      raw.destroy()
    })
    raw.once('close', () => s.destroy())
    return s
  }

  close(): void {
    this.unsubscribe()
    for (const s of this.pending) s.destroy()
    this.pending.clear()
  }
}

function hasPeerCertificate(s: tls.TLSSocket): boolean {
  const c = s.getPeerCertificate()
  return c !== null && c !== undefined && Object.keys(c).length > 0
}
