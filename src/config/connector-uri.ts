/**
 * Transport connector URIs: `stomp://host:port` or `stomp+nio://host:port` (the same listener in sfbroker:
 * Bun's sockets are non-blocking either way), their `+ssl` forms, the MQTT schemes `mqtt://`, `mqtt+nio://`,
 * `mqtt+ssl://`, `mqtt+nio+ssl://`, and WebSocket `ws://` / `wss://` (STOMP or MQTT per connection, chosen by the
 * WebSocket subprotocol, as ActiveMQ's ws transport does), OpenWire `tcp://`, `nio://`, `ssl://`, `nio+ssl://`
 * (default port 61616, ssl 61617) and `auto://`, `auto+nio://`, `auto+ssl://`, `auto+nio+ssl://` (OpenWire, STOMP
 * or MQTT per connection, from its first bytes, as ActiveMQ's auto transport). Each parses to a `transport` (tcp |
 * tls | ws | wss) and a `protocol` (stomp | mqtt | both | openwire | auto) so the node can pick the server.
 * Options, as ActiveMQ names them: `maximumConnections`,
 * `wireFormat.maxFrameSize`, `transport.connectAttemptTimeout` (alias `wireFormat.connectionAttemptTimeout`, as
 * ActiveMQ's STOMP transport forwards one to the other), `transport.defaultHeartBeat` and
 * `transport.hbGracePeriodMultiplier` (the last two are STOMP's: refused on an mqtt or OpenWire scheme). Other schemes and
 * options ActiveMQ has are CONFIG_UNSUPPORTED; anything else is CONFIG_INVALID naming the option, with a "did
 * you mean".
 *
 * Connection fairness (sfbroker extensions; ActiveMQ has only `maximumConnections`, named in its style):
 * `transport.maximumConnectionsPerAddress` (sockets from one remote IP, default: maximumConnections, i.e. no
 * further limit, as many clients may share a NAT address), `transport.maximumPendingConnects` (sockets that
 * have not completed CONNECT yet, default a quarter of maximumConnections) and
 * `transport.maximumPendingConnectsPerAddress` (the same per remote IP, default half of maximumPendingConnects:
 * a pool opening many connections at once from one host is pending all together for a moment).
 * StompServer (src/protocol/stomp/server.ts) says what happens when one is full.
 *
 * Memory bounds (sfbroker extensions, #19): `transport.maxReceiveSize` (the connector's receive budget for large
 * frames being received, default 128 MiB) and `transport.maxOutboundSize` (bytes queued for one consumer's socket
 * before dispatch to it pauses, default 8 MiB); both at least 64 KiB.
 *
 * Two deliberate differences from ActiveMQ, both refusing what ActiveMQ would silently accept:
 * - connectAttemptTimeout ≤ 0 turns ActiveMQ's CONNECT check off; sfbroker always closes a silent socket, so 0
 *   is CONFIG_UNSUPPORTED (an unbounded number of idle pre-CONNECT sockets is a resource leak).
 * - ActiveMQ ignores a hbGracePeriodMultiplier ≤ 1.0 without a word; sfbroker takes 1.0 (strict) and refuses
 *   values below it, which would close clients that beat exactly on time.
 */
import { BrokerError } from '../lib/errors.ts'
import type { ConnectorConfig, ConnectorProtocol, ConnectorTlsConfig, ConnectorTransport } from './types.ts'
import { parseBoolean } from './values.ts'
import { didYouMean } from './suggest.ts'
import { DURATION_MS_MAX, INTEGER_EXPECTED, SIZE_EXPECTED, parseInteger, parseSize } from './values.ts'

export const STOMP_SCHEMES = ['stomp', 'stomp+nio', 'stomp+ssl', 'stomp+nio+ssl'] as const
export const MQTT_SCHEMES = ['mqtt', 'mqtt+nio', 'mqtt+ssl', 'mqtt+nio+ssl'] as const
export const WS_SCHEMES = ['ws', 'wss'] as const
/** ActiveMQ's OpenWire schemes (nio is the same listener in sfbroker, as for stomp+nio). */
export const OPENWIRE_SCHEMES = ['tcp', 'nio', 'ssl', 'nio+ssl'] as const
/** ActiveMQ's auto-detecting schemes: OpenWire, STOMP or MQTT per connection, from its first bytes. */
export const AUTO_SCHEMES = ['auto', 'auto+nio', 'auto+ssl', 'auto+nio+ssl'] as const
/** Every scheme sfbroker serves, in the order error messages list them. */
export const CONNECTOR_SCHEMES: readonly string[] = [
  ...STOMP_SCHEMES,
  ...MQTT_SCHEMES,
  ...WS_SCHEMES,
  ...OPENWIRE_SCHEMES,
  ...AUTO_SCHEMES,
]
/** Schemes served over TLS (src/net/tls-server.ts; keys from `<sslContext>`). */
export const TLS_SCHEMES: readonly string[] = [
  'stomp+ssl',
  'stomp+nio+ssl',
  'mqtt+ssl',
  'mqtt+nio+ssl',
  'wss',
  'ssl',
  'nio+ssl',
  'auto+ssl',
  'auto+nio+ssl',
]
/** ActiveMQ's default port of `stomp+ssl://` when the URI gives none. */
export const DEFAULT_STOMP_SSL_PORT = 61614
/** The IANA MQTT ports, used when an mqtt URI gives none. */
export const DEFAULT_MQTT_PORT = 1883
export const DEFAULT_MQTT_SSL_PORT = 8883
/** ActiveMQ's ws:// port in its shipped activemq.xml, used when a ws URI gives none. */
export const DEFAULT_WS_PORT = 61614
/** ActiveMQ's OpenWire port (tcp://, nio://, auto://) and its usual ssl:// port, used when a URI gives none. */
export const DEFAULT_OPENWIRE_PORT = 61616
export const DEFAULT_OPENWIRE_SSL_PORT = 61617
/** The port used when a URI gives none; a scheme not here needs host:port (stomp:// as before, wss://). */
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'stomp+ssl': DEFAULT_STOMP_SSL_PORT,
  'stomp+nio+ssl': DEFAULT_STOMP_SSL_PORT,
  mqtt: DEFAULT_MQTT_PORT,
  'mqtt+nio': DEFAULT_MQTT_PORT,
  'mqtt+ssl': DEFAULT_MQTT_SSL_PORT,
  'mqtt+nio+ssl': DEFAULT_MQTT_SSL_PORT,
  ws: DEFAULT_WS_PORT,
  tcp: DEFAULT_OPENWIRE_PORT,
  nio: DEFAULT_OPENWIRE_PORT,
  auto: DEFAULT_OPENWIRE_PORT,
  'auto+nio': DEFAULT_OPENWIRE_PORT,
  ssl: DEFAULT_OPENWIRE_SSL_PORT,
  'nio+ssl': DEFAULT_OPENWIRE_SSL_PORT,
  'auto+ssl': DEFAULT_OPENWIRE_SSL_PORT,
  'auto+nio+ssl': DEFAULT_OPENWIRE_SSL_PORT,
}
/**
 * The pre-CONNECT budgets: STOMP's admission sheds silent sockets by them, a ws connector bounds pending upgrades
 * by the first; an MQTT or OpenWire connector bounds silent sockets by its connect timeout only, so there they
 * would be ignored and are refused.
 */
const PENDING_OPTIONS: readonly string[] = [
  'transport.maximumPendingConnects',
  'transport.maximumPendingConnectsPerAddress',
]
/** Options that configure STOMP's heart-beat; meaningless on an MQTT-only connector. */
const STOMP_ONLY_OPTIONS: readonly string[] = ['transport.defaultHeartBeat', 'transport.hbGracePeriodMultiplier']
/** A port to show in a "host:port" example, per scheme (ActiveMQ's usual ones). */
const EXAMPLE_PORTS: Readonly<Record<string, number>> = {
  stomp: 61613,
  'stomp+nio': 61613,
  ...DEFAULT_PORTS,
  wss: DEFAULT_WS_PORT,
}
const SCHEMES_EXPECTED = `expected one of ${CONNECTOR_SCHEMES.map((x) => `${x}://`).join(', ')}`

/** What a scheme is served with and what it speaks (ws carries either protocol, chosen per connection). */
function schemeKind(scheme: string): { transport: ConnectorTransport; protocol: ConnectorProtocol } {
  if (scheme === 'ws' || scheme === 'wss') return { transport: scheme, protocol: 'both' }
  const transport = TLS_SCHEMES.includes(scheme) ? 'tls' : 'tcp'
  if (scheme.startsWith('mqtt')) return { transport, protocol: 'mqtt' }
  if (scheme.startsWith('stomp')) return { transport, protocol: 'stomp' }
  if (scheme.startsWith('auto')) return { transport, protocol: 'auto' }
  return { transport, protocol: 'openwire' }
}
/** ActiveMQ's enabledProtocols names sfbroker accepts, oldest first; the default is TLSv1.2 and up. */
export const TLS_PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const
export const DEFAULT_TLS_PROTOCOLS: readonly string[] = ['TLSv1.2', 'TLSv1.3']
const TLS_OPTIONS = [
  'transport.needClientAuth',
  'transport.wantClientAuth',
  'transport.enabledProtocols',
  'transport.enabledCipherSuites',
] as const
const OTHER_ACTIVEMQ_SCHEMES = [
  'amqp',
  'amqp+ssl',
  'amqp+nio',
  'amqp+nio+ssl',
  'vm',
  'udp',
  'http',
  'https',
  'openwire',
  'failover',
  'discovery',
  'multicast',
  'static',
  'peer',
  'fanout',
]
const OPTIONS = [
  'maximumConnections',
  'wireFormat.maxFrameSize',
  'transport.connectAttemptTimeout',
  'wireFormat.connectionAttemptTimeout',
  'transport.defaultHeartBeat',
  'transport.hbGracePeriodMultiplier',
  'transport.maximumConnectionsPerAddress',
  'transport.maximumPendingConnects',
  'transport.maximumPendingConnectsPerAddress',
  'transport.maxReceiveSize',
  'transport.maxOutboundSize',
  ...TLS_OPTIONS,
] as const
/** Smallest transport.maxReceiveSize / transport.maxOutboundSize: one typical socket read. */
export const CONNECTOR_BYTES_MIN = 64 * 1024

export const DEFAULT_MAXIMUM_CONNECTIONS = 1000
export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024
export const MAXIMUM_CONNECTIONS_MAX = 1_000_000
/** ActiveMQ's StompWireFormat default: a socket has 30 s to send CONNECT. */
export const DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS = 30_000
/** ActiveMQ's default: no heart-beat assumed for a CONNECT without the header. */
export const DEFAULT_HEART_BEAT = '0,0'
/** sfbroker's default read grace (ActiveMQ's is 1.0; its docs recommend 1.5). */
export const DEFAULT_HB_GRACE_PERIOD_MULTIPLIER = 1.5
export const HB_GRACE_PERIOD_MULTIPLIER_MAX = 100
/** Default pre-CONNECT budget: this fraction of maximumConnections (at least 1). */
export const DEFAULT_PENDING_CONNECTS_FRACTION = 1 / 4
/** Default per-address pre-CONNECT budget: this fraction of maximumPendingConnects (at least 1). */
export const DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION = 1 / 2

/** The fairness limits a connector gets when its URI does not set them (also used for hand-built connectors). */
export function defaultFairness(maximumConnections: number): {
  maximumConnectionsPerAddress: number
  maximumPendingConnects: number
  maximumPendingConnectsPerAddress: number
} {
  const maximumPendingConnects = Math.max(1, Math.floor(maximumConnections * DEFAULT_PENDING_CONNECTS_FRACTION))
  return {
    maximumConnectionsPerAddress: maximumConnections,
    maximumPendingConnects,
    maximumPendingConnectsPerAddress: Math.max(
      1,
      Math.floor(maximumPendingConnects * DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION),
    ),
  }
}

/** Each side of a heart-beat, as the STOMP parser accepts it (at most 9 digits). */
const HEART_BEAT_MS_MAX = 999_999_999

/**
 * Parse one connector URI. `where` names its place for errors (e.g. `broker.xml:9: <transportConnector>
 * attribute "uri"`). `name` defaults to the URI, as ActiveMQ names unnamed connectors.
 */
export function parseConnectorUri(uri: string, name: string | undefined, where: string): ConnectorConfig {
  const bad = (msg: string, code: 'CONFIG_INVALID' | 'CONFIG_UNSUPPORTED' = 'CONFIG_INVALID'): BrokerError =>
    new BrokerError(code, `${where}: found "${uri}", ${msg}`)
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^?#]*)(\?[^#]*)?(#.*)?$/.exec(uri.trim())
  if (!m) throw bad('expected a URI such as "stomp://0.0.0.0:61613"')
  const scheme = m[1].toLowerCase()
  if (!CONNECTOR_SCHEMES.includes(scheme)) {
    if (OTHER_ACTIVEMQ_SCHEMES.includes(scheme)) {
      throw bad(
        `scheme "${m[1]}" is not supported: sfbroker speaks STOMP, MQTT and OpenWire only; ${SCHEMES_EXPECTED}`,
        'CONFIG_UNSUPPORTED',
      )
    }
    throw bad(`unknown scheme "${m[1]}"${didYouMean(scheme, CONNECTOR_SCHEMES)}; ${SCHEMES_EXPECTED}`)
  }
  const secure = TLS_SCHEMES.includes(scheme)
  const kind = schemeKind(scheme)
  const defaultPort = DEFAULT_PORTS[scheme]
  if (m[4] !== undefined) throw bad('a fragment (#...) is not allowed in a connector URI')
  let authority = m[2]
  if (authority.endsWith('/')) authority = authority.slice(0, -1)
  if (authority.includes('/')) throw bad('expected no path after host:port')
  if (authority.includes('@')) throw bad('expected no user info (user@) in a connector URI')
  let host: string
  let portText: string
  const v6 = /^\[([0-9A-Fa-f:.]+)\]:(\d+)$/.exec(authority)
  const v4 = /^([A-Za-z0-9.-]+):(\d+)$/.exec(authority)
  if (v6) [host, portText] = [v6[1], v6[2]]
  else if (v4) [host, portText] = [v4[1], v4[2]]
  else if (defaultPort !== undefined && /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)$/.test(authority))
    [host, portText] = [authority.replace(/^\[|\]$/g, ''), String(defaultPort)]
  else
    throw bad(`expected host:port after the scheme, e.g. ${scheme}://0.0.0.0:${EXAMPLE_PORTS[scheme]} (port 0-65535)`)
  const port = Number(portText)
  if (port > 65535) throw bad(`port ${portText} is out of range; expected 0 to 65535`)

  let maximumConnections = DEFAULT_MAXIMUM_CONNECTIONS
  let maxFrameSize = DEFAULT_MAX_FRAME_SIZE
  let connectAttemptTimeout = DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS
  let connectAttemptKey: string | null = null
  let defaultHeartBeat = DEFAULT_HEART_BEAT
  let hbGracePeriodMultiplier = DEFAULT_HB_GRACE_PERIOD_MULTIPLIER
  let perAddress: number | undefined
  let pending: number | undefined
  let pendingPerAddress: number | undefined
  const bytes: { maxReceiveSize?: number; maxOutboundSize?: number } = {}
  const tls: ConnectorTlsConfig = {
    needClientAuth: false,
    wantClientAuth: false,
    enabledProtocols: [...DEFAULT_TLS_PROTOCOLS],
    enabledCipherSuites: null,
  }
  const seen = new Set<string>()
  const query = m[3] ? m[3].slice(1) : ''
  for (const part of query === '' ? [] : query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    let key: string
    let value: string
    try {
      key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq))
      value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1))
    } catch {
      throw bad(`option "${part}" is not valid percent-encoding`)
    }
    if (seen.has(key)) throw bad(`option "${key}" is given twice; expected it once`)
    seen.add(key)
    if ((kind.protocol === 'mqtt' || kind.protocol === 'openwire') && STOMP_ONLY_OPTIONS.includes(key))
      throw bad(
        `option ${key} configures STOMP heart-beats; expected it on a stomp, ws or auto connector, not ${scheme}://`,
      )
    if ((kind.protocol === 'mqtt' || kind.protocol === 'openwire') && PENDING_OPTIONS.includes(key))
      throw bad(
        `option ${key} sets a STOMP pre-CONNECT budget; expected it on a stomp, ws or auto connector, not ${scheme}:// (there transport.connectAttemptTimeout bounds silent sockets)`,
      )
    if (key === 'maximumConnections') {
      const n = parseInteger(value, 1, MAXIMUM_CONNECTIONS_MAX)
      if (n === undefined)
        throw bad(`option maximumConnections="${value}": expected ${INTEGER_EXPECTED(1, MAXIMUM_CONNECTIONS_MAX)}`)
      maximumConnections = n
    } else if (key === 'wireFormat.maxFrameSize') {
      const n = parseSize(value)
      if (n === undefined) throw bad(`option wireFormat.maxFrameSize="${value}": expected ${SIZE_EXPECTED}`)
      maxFrameSize = n
    } else if (key === 'transport.connectAttemptTimeout' || key === 'wireFormat.connectionAttemptTimeout') {
      if (connectAttemptKey !== null)
        throw bad(`options ${connectAttemptKey} and ${key} set the same timeout; expected only one of them`)
      connectAttemptKey = key
      const n = parseInteger(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      if (n !== undefined && n <= 0) {
        throw bad(
          `option ${key}="${value}": turning the CONNECT timeout off is not supported (sfbroker always closes a socket that sends no CONNECT); expected ${INTEGER_EXPECTED(1, DURATION_MS_MAX)} ms`,
          'CONFIG_UNSUPPORTED',
        )
      }
      if (n === undefined || n > DURATION_MS_MAX)
        throw bad(`option ${key}="${value}": expected ${INTEGER_EXPECTED(1, DURATION_MS_MAX)} ms`)
      connectAttemptTimeout = n
    } else if (key === 'transport.defaultHeartBeat') {
      const hb = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(value)
      if (!hb)
        throw bad(
          `option transport.defaultHeartBeat="${value}": expected "<cx>,<cy>", two whole numbers of ms from 0 to ${HEART_BEAT_MS_MAX} (what the client sends, what it wants), e.g. "10000,0"`,
        )
      defaultHeartBeat = `${Number(hb[1])},${Number(hb[2])}`
    } else if (key === 'transport.hbGracePeriodMultiplier') {
      const n = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN
      if (!(n >= 1 && n <= HB_GRACE_PERIOD_MULTIPLIER_MAX)) {
        throw bad(
          `option transport.hbGracePeriodMultiplier="${value}": expected a number from 1.0 (strict) to ${HB_GRACE_PERIOD_MULTIPLIER_MAX}, e.g. 1.5; below 1.0 healthy clients would be closed`,
        )
      }
      hbGracePeriodMultiplier = n
    } else if (
      key === 'transport.maximumConnectionsPerAddress' ||
      key === 'transport.maximumPendingConnects' ||
      key === 'transport.maximumPendingConnectsPerAddress'
    ) {
      const n = parseInteger(value, 1, MAXIMUM_CONNECTIONS_MAX)
      if (n === undefined)
        throw bad(`option ${key}="${value}": expected ${INTEGER_EXPECTED(1, MAXIMUM_CONNECTIONS_MAX)}`)
      if (key === 'transport.maximumConnectionsPerAddress') perAddress = n
      else if (key === 'transport.maximumPendingConnects') pending = n
      else pendingPerAddress = n
    } else if (key === 'transport.maxReceiveSize' || key === 'transport.maxOutboundSize') {
      const n = parseSize(value)
      if (n === undefined || n < CONNECTOR_BYTES_MIN)
        throw bad(`option ${key}="${value}": expected ${SIZE_EXPECTED}, at least 64kb`)
      bytes[key === 'transport.maxReceiveSize' ? 'maxReceiveSize' : 'maxOutboundSize'] = n
    } else if ((TLS_OPTIONS as readonly string[]).includes(key)) {
      if (!secure)
        throw bad(
          `option ${key} applies to TLS connectors only; expected ${TLS_SCHEMES.map((t) => `${t}://`).join(', ')} (or drop the option)`,
        )
      parseTlsOption(key, value, tls, bad)
    } else if (
      key === 'needClientAuth' ||
      key === 'wantClientAuth' ||
      key === 'enabledProtocols' ||
      key === 'enabledCipherSuites'
    ) {
      throw bad(
        `option "${key}" needs the transport. prefix on a broker connector, as in ActiveMQ; expected transport.${key}`,
      )
    } else if (
      key.startsWith('transport.') ||
      key.startsWith('wireFormat.') ||
      key.startsWith('stomp.') ||
      key === 'needClientAuth' ||
      key === 'wantClientAuth'
    ) {
      const hint = didYouMean(key, OPTIONS)
      throw bad(
        `option "${key}" is not supported by sfbroker${hint}; supported: ${OPTIONS.join(', ')}`,
        hint ? 'CONFIG_INVALID' : 'CONFIG_UNSUPPORTED',
      )
    } else {
      throw bad(`unknown option "${key}"${didYouMean(key, OPTIONS)}; supported: ${OPTIONS.join(', ')}`)
    }
  }
  // Judged after every option is read, so their order in the URI does not matter.
  const d = defaultFairness(maximumConnections)
  const maximumConnectionsPerAddress = perAddress ?? d.maximumConnectionsPerAddress
  if (maximumConnectionsPerAddress > maximumConnections) {
    throw bad(
      `option transport.maximumConnectionsPerAddress="${maximumConnectionsPerAddress}" is above maximumConnections (${maximumConnections}); expected at most ${maximumConnections}`,
    )
  }
  if (pending !== undefined && pending > maximumConnections) {
    throw bad(
      `option transport.maximumPendingConnects="${pending}" is above maximumConnections (${maximumConnections}); expected at most ${maximumConnections} (sockets before CONNECT are connections too)`,
    )
  }
  const maximumPendingConnects = pending ?? d.maximumPendingConnects
  const perAddressDefault =
    pending === undefined
      ? d.maximumPendingConnectsPerAddress
      : Math.max(1, Math.floor(pending * DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION))
  const maximumPendingConnectsPerAddress =
    pendingPerAddress ?? Math.min(perAddressDefault, maximumConnectionsPerAddress)
  if (maximumPendingConnectsPerAddress > maximumPendingConnects) {
    throw bad(
      `option transport.maximumPendingConnectsPerAddress="${maximumPendingConnectsPerAddress}" is above transport.maximumPendingConnects (${maximumPendingConnects}); expected at most ${maximumPendingConnects}`,
    )
  }
  if (maximumPendingConnectsPerAddress > maximumConnectionsPerAddress) {
    throw bad(
      `option transport.maximumPendingConnectsPerAddress="${maximumPendingConnectsPerAddress}" is above transport.maximumConnectionsPerAddress (${maximumConnectionsPerAddress}); expected at most ${maximumConnectionsPerAddress}`,
    )
  }
  return {
    name: name ?? uri,
    uri,
    transport: kind.transport,
    protocol: kind.protocol,
    host,
    port,
    maximumConnections,
    maxFrameSize,
    connectAttemptTimeout,
    defaultHeartBeat,
    hbGracePeriodMultiplier,
    maximumConnectionsPerAddress,
    maximumPendingConnects,
    maximumPendingConnectsPerAddress,
    ...bytes,
    ...(secure ? { tls } : {}),
  }
}

/** A cipher suite name: IANA/Java (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) or OpenSSL (`ECDHE-RSA-AES128-GCM-SHA256`). */
const CIPHER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{2,80}$/

function parseTlsOption(key: string, value: string, tls: ConnectorTlsConfig, bad: (msg: string) => BrokerError): void {
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
