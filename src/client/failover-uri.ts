/**
 * Broker URIs in ActiveMQ's syntax, parsed into a list of endpoints and typed failover options.
 *
 * Accepted forms:
 *   failover:(tcp://a:61613,tcp://b:61613)?randomize=false&timeout=5000
 *   failover:tcp://a:61613,tcp://b:61613          (a `?opts` after the list is taken as failover options;
 *                                                 per-URI options need the parenthesised form)
 *   tcp://host:61613  or  stomp://host:61613      (a single broker; as in ActiveMQ, no reconnect unless wrapped in failover:)
 * Inner URI schemes: tcp, stomp, stomp+nio (all plain TCP carrying STOMP). The port defaults to 61613.
 *
 * Failover options keep ActiveMQ's names and defaults (FailoverTransport.java) except `timeout`, which is FINITE
 * here (30000 ms) so a send never blocks forever; `timeout=-1` restores ActiveMQ's wait-forever. One option is ours:
 * `reconnectDelayJitter` (0..1, default 0.2): each delay is scaled by a random factor in [1-j, 1] so clients that lost
 * the same primary do not reconnect in lock step. ActiveMQ options that make no sense over STOMP (backup pools,
 * broker-pushed URI updates, message tracking caches) are rejected as unsupported rather than parsed and ignored;
 * any other unknown option is rejected too, as ActiveMQ does ("Invalid connect parameters").
 *
 * Per-endpoint options (inner URI query, or `nested.X` on the failover URI, which wins): `connectionTimeout` (ms,
 * TCP connect + CONNECTED wait, default 10000), `trace` (log frames at debug level), `wireFormat.maxFrameSize`
 * (largest incoming frame in bytes).
 */
import { BrokerError } from '../lib/errors.ts'
import { DEFAULT_FRAME_LIMITS } from '../protocol/stomp/index.ts'

export const DEFAULT_STOMP_PORT = 61613

/** Largest incoming frame by default (`wireFormat.maxFrameSize`): the broker's body limit, ActiveMQ's maxDataLength. */
export const FRAME_BYTES_MAX_DEFAULT = DEFAULT_FRAME_LIMITS.bodyBytesMax

export interface Endpoint {
  /** Normalised `tcp://host:port` form, used in logs and to match priorityURIs. */
  uri: string
  host: string
  port: number
  /** TCP connect plus the wait for CONNECTED, in ms. */
  connectionTimeoutMs: number
  trace: boolean
  frameBytesMax: number
  /** `ssl://` and `stomp+ssl://` (`stomp+nio+ssl://`): TLS options; null for plain TCP. */
  tls: EndpointTls | null
}

/**
 * Client TLS per endpoint (URI options, or ConnectOptions.tls / the CLI's --ca/--cert/--key for those not set
 * here). The broker's certificate chain is always verified (against `caFile`, else the system CAs), and its
 * name is checked against the host as ActiveMQ's client does since 5.15 (`verifyHostName=false` turns only the
 * name check off).
 */
export interface EndpointTls {
  /** PEM CA certificates to trust instead of the system's. */
  caFile?: string
  /** PEM client certificate chain and key, for brokers with transport.needClientAuth. */
  certFile?: string
  keyFile?: string
  verifyHostName: boolean
}

/** Default port of `ssl://` and `stomp+ssl://` (ActiveMQ's stomp+ssl port). */
export const DEFAULT_STOMP_SSL_PORT = 61614
const TLS_SCHEMES = ['ssl', 'stomp+ssl', 'stomp+nio+ssl']
const TLS_ENDPOINT_OPTIONS = ['caFile', 'certFile', 'keyFile', 'verifyHostName', 'socket.verifyHostName']

export interface FailoverOptions {
  randomize: boolean
  initialReconnectDelay: number
  maxReconnectDelay: number
  useExponentialBackOff: boolean
  reconnectDelayExponent: number
  /** -1 forever; 0 try one pass; N > 0 give up after N failed passes (after the first successful connection). */
  maxReconnectAttempts: number
  /** Same, before the first successful connection. */
  startupMaxReconnectAttempts: number
  /** Send/receipt timeout in ms; -1 waits forever. */
  timeout: number
  priorityBackup: boolean
  /** Endpoint URIs (normalised) that priorityBackup moves back to. Empty = the first endpoint. */
  priorityURIs: string[]
  /** WARN on the first failed pass and then every N; <= 0 turns it off. */
  warnAfterReconnectAttempts: number
  reconnectDelayJitter: number
}

export interface BrokerUri {
  /** The text given. */
  source: string
  /** True for `failover:`; false for a single plain URI (no reconnect). */
  failover: boolean
  endpoints: Endpoint[]
  options: FailoverOptions
}

export const FAILOVER_DEFAULTS: Readonly<FailoverOptions> = Object.freeze({
  randomize: true,
  initialReconnectDelay: 10,
  maxReconnectDelay: 30000,
  useExponentialBackOff: true,
  reconnectDelayExponent: 2.0,
  maxReconnectAttempts: -1,
  startupMaxReconnectAttempts: -1,
  timeout: 30000,
  priorityBackup: false,
  priorityURIs: [] as string[],
  warnAfterReconnectAttempts: 10,
  reconnectDelayJitter: 0.2,
})

export const ENDPOINT_CONNECTION_TIMEOUT_MS_DEFAULT = 10000

/** ActiveMQ failover options we know but do not implement: rejected with a reason, never silently ignored. */
const UNSUPPORTED: Record<string, string> = {
  backup: 'pre-connected backup transports are not implemented',
  backupPoolSize: 'pre-connected backup transports are not implemented',
  trackMessages: 'every unreceipted SEND is always tracked and resent; there is no separate cache',
  maxCacheSize: 'every unreceipted SEND is always tracked and resent; there is no separate cache',
  trackTransactionProducers: 'transactions in flight are reported in doubt, never replayed',
  updateURIsSupported: 'STOMP brokers do not push URI lists',
  updateURIsURL: 'STOMP brokers do not push URI lists',
  rebalanceUpdateURIs: 'STOMP brokers do not push URI lists',
  reconnectSupported: 'STOMP brokers do not send reconnect commands',
}

const ENDPOINT_OPTIONS = new Set(['connectionTimeout', 'trace', 'wireFormat.maxFrameSize'])

function invalid(source: string, msg: string): BrokerError {
  return new BrokerError('CLIENT_URI_INVALID', `broker URI ${JSON.stringify(source)}: ${msg}`)
}

function parseQuery(source: string, query: string, where: string): Map<string, string> {
  const out = new Map<string, string>()
  if (query === '') return out
  for (const part of query.split('&')) {
    if (part === '') continue
    const eq = part.indexOf('=')
    if (eq <= 0) throw invalid(source, `${where} option ${JSON.stringify(part)} has no value; expected name=value`)
    let k: string
    let v: string
    try {
      k = decodeURIComponent(part.slice(0, eq))
      v = decodeURIComponent(part.slice(eq + 1))
    } catch {
      throw invalid(source, `${where} option ${JSON.stringify(part)} is not valid percent-encoding`)
    }
    if (out.has(k)) throw invalid(source, `${where} option "${k}" given twice; expected once`)
    out.set(k, v)
  }
  return out
}

function bool(source: string, k: string, v: string): boolean {
  if (v === 'true') return true
  if (v === 'false') return false
  throw invalid(source, `option ${k}=${JSON.stringify(v)}; expected true or false`)
}

function int(source: string, k: string, v: string, min: number): number {
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw invalid(source, `option ${k}=${JSON.stringify(v)}; expected an integer >= ${min}`)
  }
  return Number(v)
}

function num(source: string, k: string, v: string, min: number, max = Infinity): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw invalid(
      source,
      `option ${k}=${JSON.stringify(v)}; expected a number in [${min}, ${max === Infinity ? '∞' : max}]`,
    )
  }
  return n
}

/** Parse one inner URI (`tcp://host:port?opts`) with `nested` options applied on top. */
function parseEndpoint(source: string, text: string, nested: Map<string, string>): Endpoint {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\[[0-9a-fA-F:.]+\]|[^:/?#\s]+)(?::(\d+))?\/?(?:\?(.*))?$/.exec(text.trim())
  if (!m)
    throw invalid(
      source,
      `${JSON.stringify(text)} is not a broker address; expected tcp://host:port or stomp://host:port`,
    )
  const [, scheme, rawHost, rawPort, query] = m
  if (scheme === 'ws' || scheme === 'wss') {
    throw invalid(
      source,
      `scheme "${scheme}" in ${JSON.stringify(text)} is not supported; expected tcp, stomp, stomp+nio, ssl or stomp+ssl`,
    )
  }
  const secure = TLS_SCHEMES.includes(scheme)
  if (!secure && scheme !== 'tcp' && scheme !== 'stomp' && scheme !== 'stomp+nio') {
    throw invalid(
      source,
      `scheme "${scheme}" in ${JSON.stringify(text)}; expected tcp, stomp, stomp+nio, ssl or stomp+ssl`,
    )
  }
  const port = rawPort === undefined ? (secure ? DEFAULT_STOMP_SSL_PORT : DEFAULT_STOMP_PORT) : Number(rawPort)
  if (!(port >= 1 && port <= 65535))
    throw invalid(source, `port ${rawPort} in ${JSON.stringify(text)}; expected 1..65535`)
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  const opts = parseQuery(source, query ?? '', `${JSON.stringify(text)}`)
  for (const [k, v] of nested) opts.set(k, v)
  const ep: Endpoint = {
    uri: `${secure ? 'ssl' : 'tcp'}://${rawHost}:${port}`,
    host,
    port,
    connectionTimeoutMs: ENDPOINT_CONNECTION_TIMEOUT_MS_DEFAULT,
    trace: false,
    frameBytesMax: FRAME_BYTES_MAX_DEFAULT,
    tls: secure ? { verifyHostName: true } : null,
  }
  for (const [k, v] of opts) {
    if (TLS_ENDPOINT_OPTIONS.includes(k)) {
      if (!ep.tls) {
        // nested.* options reach every endpoint; TLS ones only matter to the TLS endpoints among them.
        if (nested.get(k) === v) continue
        throw invalid(source, `option "${k}" on ${JSON.stringify(text)} applies to ssl:// and stomp+ssl:// only`)
      }
      if (k === 'verifyHostName' || k === 'socket.verifyHostName') ep.tls.verifyHostName = bool(source, k, v)
      else if (v === '') throw invalid(source, `option ${k} on ${JSON.stringify(text)} is empty; expected a file path`)
      else ep.tls[k as 'caFile' | 'certFile' | 'keyFile'] = v
      continue
    }
    if (!ENDPOINT_OPTIONS.has(k)) {
      throw invalid(
        source,
        `unknown option "${k}" on ${JSON.stringify(text)}; expected one of ${[...ENDPOINT_OPTIONS, ...(ep.tls ? TLS_ENDPOINT_OPTIONS : [])].join(', ')}`,
      )
    }
    if (k === 'connectionTimeout') ep.connectionTimeoutMs = int(source, k, v, 1)
    else if (k === 'trace') ep.trace = bool(source, k, v)
    else if (k === 'wireFormat.maxFrameSize') ep.frameBytesMax = int(source, k, v, 1024)
  }
  if (ep.tls && (ep.tls.certFile === undefined) !== (ep.tls.keyFile === undefined)) {
    throw invalid(
      source,
      `${JSON.stringify(text)} has ${ep.tls.certFile === undefined ? 'keyFile without certFile' : 'certFile without keyFile'}; expected both (the client certificate and its key)`,
    )
  }
  return ep
}

function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
}

/** Parse a broker URI. Throws BrokerError CLIENT_URI_INVALID naming the part at fault. */
export function parseBrokerUri(source: string): BrokerUri {
  const text = source.trim()
  if (text === '') throw invalid(source, 'empty; expected failover:(tcp://host:port,...) or tcp://host:port')
  if (!text.startsWith('failover:')) {
    const ep = parseEndpoint(source, text, new Map())
    // A plain URI behaves like ActiveMQ's plain tcp transport: one attempt, no reconnect.
    return {
      source,
      failover: false,
      endpoints: [ep],
      options: {
        ...FAILOVER_DEFAULTS,
        priorityURIs: [],
        randomize: false,
        maxReconnectAttempts: 0,
        startupMaxReconnectAttempts: 0,
      },
    }
  }
  const rest = text.slice('failover:'.length)
  let list: string
  let query: string
  if (rest.startsWith('(')) {
    const close = rest.indexOf(')')
    if (close < 0) throw invalid(source, 'missing ")" closing the URI list')
    list = rest.slice(1, close)
    const after = rest.slice(close + 1)
    if (after !== '' && !after.startsWith('?'))
      throw invalid(source, `unexpected ${JSON.stringify(after)} after ")"; expected ?options or nothing`)
    query = after.slice(1)
  } else {
    // Unparenthesised: the first `?` starts the failover options (per-URI options need the parenthesised form).
    const q = rest.indexOf('?')
    list = q < 0 ? rest : rest.slice(0, q)
    query = q < 0 ? '' : rest.slice(q + 1)
  }
  const raw = parseQuery(source, query, 'failover')
  const nested = new Map<string, string>()
  const options: FailoverOptions = { ...FAILOVER_DEFAULTS, priorityURIs: [] }
  let priorityText: string | undefined
  for (const [k, v] of raw) {
    if (k.startsWith('nested.')) {
      nested.set(k.slice('nested.'.length), v)
      continue
    }
    switch (k) {
      case 'randomize':
      case 'useExponentialBackOff':
      case 'priorityBackup':
        options[k] = bool(source, k, v)
        break
      case 'initialReconnectDelay':
        options[k] = int(source, k, v, 0)
        break
      case 'maxReconnectDelay':
        options[k] = int(source, k, v, 1)
        break
      case 'reconnectDelayExponent':
        options[k] = num(source, k, v, 1)
        break
      case 'maxReconnectAttempts':
      case 'startupMaxReconnectAttempts':
      case 'timeout':
        options[k] = int(source, k, v, -1)
        break
      case 'warnAfterReconnectAttempts':
        options[k] = int(source, k, v, -1)
        break
      case 'reconnectDelayJitter':
        options[k] = num(source, k, v, 0, 1)
        break
      case 'priorityURIs':
        priorityText = v
        break
      default:
        if (k in UNSUPPORTED)
          throw invalid(source, `option "${k}" is not supported by the sfbroker client: ${UNSUPPORTED[k]}`)
        throw invalid(
          source,
          `unknown option "${k}"; expected one of randomize, initialReconnectDelay, maxReconnectDelay, useExponentialBackOff, reconnectDelayExponent, maxReconnectAttempts, startupMaxReconnectAttempts, timeout, priorityBackup, priorityURIs, warnAfterReconnectAttempts, reconnectDelayJitter, nested.*`,
        )
    }
  }
  if (options.timeout === 0) throw invalid(source, 'option timeout=0; expected -1 (forever) or a positive number of ms')
  const items = splitList(list)
  if (items.length === 0) throw invalid(source, 'no broker URIs in the list; expected at least one tcp://host:port')
  const endpoints: Endpoint[] = []
  for (const item of items) {
    const ep = parseEndpoint(source, item, nested)
    if (!endpoints.some((e) => e.uri === ep.uri)) endpoints.push(ep)
  }
  if (priorityText !== undefined) {
    for (const p of splitList(priorityText)) {
      const ep = parseEndpoint(source, p, new Map())
      if (!endpoints.some((e) => e.uri === ep.uri))
        throw invalid(source, `priorityURIs entry ${JSON.stringify(p)} is not in the URI list`)
      options.priorityURIs.push(ep.uri)
    }
  }
  if (options.priorityBackup && options.priorityURIs.length === 0) options.priorityURIs.push(endpoints[0].uri)
  return { source, failover: true, endpoints, options }
}
