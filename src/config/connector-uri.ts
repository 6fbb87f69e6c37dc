/**
 * Transport connector URIs: `scheme://host:port?options`. Which schemes exist and what each serves is
 * connector-schemes.ts; limits, their defaults and the fairness rules connector-limits.ts; TLS options
 * connector-tls.ts. This file reads one URI: its shape, the host and port, and each option by ActiveMQ's name:
 * `maximumConnections`, `wireFormat.maxFrameSize`, `transport.connectAttemptTimeout` (alias
 * `wireFormat.connectionAttemptTimeout`, as ActiveMQ's STOMP transport forwards one to the other),
 * `transport.defaultHeartBeat` and `transport.hbGracePeriodMultiplier` (the last two are STOMP's: refused on an
 * mqtt or OpenWire scheme), the fairness and memory options, the TLS options. Other schemes and options ActiveMQ has
 * are CONFIG_UNSUPPORTED; anything else is CONFIG_INVALID naming the option, with a "did you mean".
 *
 * Two deliberate differences from ActiveMQ, both refusing what ActiveMQ would silently accept:
 * - connectAttemptTimeout ≤ 0 turns ActiveMQ's CONNECT check off; sfbroker always closes a silent socket, so 0
 *   is CONFIG_UNSUPPORTED (an unbounded number of idle pre-CONNECT sockets is a resource leak).
 * - ActiveMQ ignores a hbGracePeriodMultiplier ≤ 1.0 without a word; sfbroker takes 1.0 (strict) and refuses
 *   values below it, which would close clients that beat exactly on time.
 */
import { BrokerError } from '../lib/errors.ts'
import type { ConnectorConfig } from './types.ts'
import { didYouMean } from './suggest.ts'
import { DURATION_MS_MAX, INTEGER_EXPECTED, SIZE_EXPECTED, parseInteger, parseSize } from './values.ts'
import {
  CONNECTOR_SCHEMES,
  DEFAULT_PORTS,
  EXAMPLE_PORTS,
  OTHER_ACTIVEMQ_SCHEMES,
  SCHEMES_EXPECTED,
  TLS_SCHEMES,
  schemeKind,
} from './connector-schemes.ts'
import {
  CONNECTOR_BYTES_MIN,
  DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_HB_GRACE_PERIOD_MULTIPLIER,
  DEFAULT_HEART_BEAT,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_MAXIMUM_CONNECTIONS,
  HB_GRACE_PERIOD_MULTIPLIER_MAX,
  HEART_BEAT_MS_MAX,
  MAXIMUM_CONNECTIONS_MAX,
  settleFairness,
} from './connector-limits.ts'
import { TLS_OPTIONS, defaultTls, parseTlsOption } from './connector-tls.ts'

export { defaultFairness, DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS } from './connector-limits.ts'

/**
 * The pre-CONNECT budgets: STOMP's and MQTT's admission shed silent sockets by them, a ws connector bounds pending
 * upgrades by the first; an OpenWire connector bounds silent sockets by its handshake timeout only, so there they
 * would be ignored and are refused.
 */
const PENDING_OPTIONS: readonly string[] = [
  'transport.maximumPendingConnects',
  'transport.maximumPendingConnectsPerAddress',
]
/** Options that configure STOMP's heart-beat; meaningless on an MQTT-only connector. */
const STOMP_ONLY_OPTIONS: readonly string[] = ['transport.defaultHeartBeat', 'transport.hbGracePeriodMultiplier']
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
  const tls = defaultTls()
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
    if (kind.protocol === 'openwire' && PENDING_OPTIONS.includes(key))
      throw bad(
        `option ${key} sets a pre-CONNECT budget; expected it on a stomp, mqtt, ws or auto connector, not ${scheme}:// (there transport.connectAttemptTimeout bounds the handshake)`,
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
  const fair = settleFairness(maximumConnections, { perAddress, pending, pendingPerAddress }, bad)
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
    maximumConnectionsPerAddress: fair.maximumConnectionsPerAddress,
    maximumPendingConnects: fair.maximumPendingConnects,
    maximumPendingConnectsPerAddress: fair.maximumPendingConnectsPerAddress,
    ...bytes,
    ...(secure ? { tls } : {}),
  }
}
