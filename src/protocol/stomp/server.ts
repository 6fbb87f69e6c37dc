/**
 * StompServer: one TCP listener for one `stomp://` connector. Owns accepting sockets, the connector's
 * `maximumConnections` (an extra client gets an ERROR frame and is closed, as ActiveMQ refuses it) and
 * `maxFrameSize` (the parser's body limit), its CONNECT timeout and heart-beat defaults (`connectAttemptTimeout`,
 * `defaultHeartBeat`, `hbGracePeriodMultiplier`; explicit server options win), and closing everything at once on lock loss
 * (each client told why by an ERROR frame first).
 * Connection fairness (per-address limit, pre-CONNECT budgets, shedding the oldest silent socket) is decided by
 * ./admission.ts; refusals and sheds are logged through its RefusalLog, at most one line per interval.
 * Does not own frame semantics (connection.ts) or what the broker does with them.
 */
import net from 'node:net'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { ConnectorConfig } from '../../config/types.ts'
import type { BrokerSession } from '../../broker/index.ts'
import pkg from '../../../package.json' with { type: 'json' }
import { MemoryUsage } from '../../broker/index.ts'
import {
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GOODBYE_LINGER_MS,
  StompConnection,
  type ConnectionOptions,
  type Goodbye,
} from './connection.ts'
import { encodeFrame } from './frame-encoder.ts'
import type { FrameLimits } from './frame.ts'
import type { HeartBeatOptions } from './heart-beat.ts'
import { defaultFairness } from '../../config/index.ts'
import { systemClock } from '../../lib/clock.ts'
import { Admission, RefusalLog, normalizeAddress } from './admission.ts'
import type { DuplexPort } from './duplex-port.ts'
import { TlsTerminator, listenOn, type TlsContextSource } from '../../net/index.ts'

const log = logger('stomp')

/**
 * 128 MiB: frames being received on one connector, all connections together (bodies over RECEIVE_SMALL_BYTES). One
 * frame of up to maxFrameSize is always let in when nothing else is held, so this never refuses a legal frame.
 */
export const DEFAULT_RECEIVE_BYTES_MAX = 128 * 1024 * 1024

/** Per-connection options are StompConnection's (same names, same defaults), passed through to each connection. */
export interface StompServerOptions
  extends Pick<
    ConnectionOptions,
    | 'broker'
    | 'heartBeat'
    | 'connectTimeoutMs'
    | 'inFlightFramesMax'
    | 'inFlightBytesMax'
    | 'outBytesMax'
    | 'closeLingerMs'
    | 'clock'
    | 'authenticator'
  > {
  /** Receive budget of this connector: body bytes of frames being received, all connections together. */
  receiveBytesMax?: number
  connector: ConnectorConfig
  /** CONNECTED `server` header; default sfbroker/<package version>. */
  serverName?: string
  /** Overrides of the frame limits; the body limit defaults to connector.maxFrameSize. */
  limits?: Partial<FrameLimits>
  /** Key material for a TLS connector (`connector.tls` set): required then, ignored otherwise. */
  tlsSource?: TlsContextSource
  /** Longest wait, after close(goodbye) wrote its ERROR, before a socket is destroyed (default DEFAULT_GOODBYE_LINGER_MS). */
  goodbyeLingerMs?: number
}

/** The connector URI's heart-beat options (`transport.defaultHeartBeat`, `transport.hbGracePeriodMultiplier`), where set. */
function connectorHeartBeat(c: ConnectorConfig): Partial<HeartBeatOptions> {
  const out: Partial<HeartBeatOptions> = {}
  if (c.defaultHeartBeat !== undefined) out.defaultHeartBeat = c.defaultHeartBeat
  if (c.hbGracePeriodMultiplier !== undefined) out.graceMultiplier = c.hbGracePeriodMultiplier
  return out
}

export class StompServer {
  private readonly opts: StompServerOptions
  private readonly server: net.Server
  private readonly live = new Set<StompConnection>()
  /** Frames being received are charged here before their bodies are read (see ConnectionOptions.receiveUsage). */
  readonly receiveUsage: MemoryUsage
  /** The broker session of each connection past CONNECT, for the console (#18). */
  private readonly sessionOf = new Map<StompConnection, BrokerSession>()
  private readonly refused = new Set<DuplexPort>()
  private bound: { host: string; port: number } | null = null
  private closed = false
  private closing: Promise<void> | null = null
  /** Keyed by socket: a shed socket is destroyed, and its connection closes itself on the socket's close. */
  private readonly admission: Admission<DuplexPort> // keyed by the TCP socket (TLS or not) or the WebSocket duplex
  private readonly refusals: RefusalLog
  /** TLS on top of each admitted socket (`stomp+ssl://`); the handshake counts against the pre-CONNECT budget. */
  private readonly tls: TlsTerminator | null = null

  constructor(opts: StompServerOptions) {
    this.opts = opts
    this.receiveUsage = new MemoryUsage(
      opts.receiveBytesMax ?? opts.connector.maxReceiveSize ?? DEFAULT_RECEIVE_BYTES_MAX,
    )
    const c = opts.connector
    const d = defaultFairness(c.maximumConnections)
    this.admission = new Admission({
      maximumConnections: c.maximumConnections,
      maximumConnectionsPerAddress: c.maximumConnectionsPerAddress ?? d.maximumConnectionsPerAddress,
      maximumPendingConnects: c.maximumPendingConnects ?? d.maximumPendingConnects,
      maximumPendingConnectsPerAddress: c.maximumPendingConnectsPerAddress ?? d.maximumPendingConnectsPerAddress,
    })
    this.refusals = new RefusalLog(
      (line) => log.warn(line),
      `connector ${c.name}: sockets refused or shed`,
      opts.clock ?? systemClock,
    )
    if (c.tls) {
      if (!opts.tlsSource)
        throw new BrokerError('CONFIG_INVALID', `connector ${c.name} (${c.uri}): a TLS connector needs <sslContext>`)
      this.tls = new TlsTerminator({
        where: `connector ${c.name} (${c.uri})`,
        tls: c.tls,
        source: opts.tlsSource,
        handshakeTimeoutMs: opts.connectTimeoutMs ?? c.connectAttemptTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
        onRefused: (why) => this.refusals.note(why),
      })
    }
    this.server = net.createServer({ noDelay: true }, (socket) => this.onSocket(socket))
  }

  get maximumConnections(): number {
    return this.opts.connector.maximumConnections
  }

  /** Bind host:port of the connector. EADDRINUSE and friends become a BrokerError naming the connector URI. */
  async listen(): Promise<void> {
    const { host, port, uri, name } = this.opts.connector
    const where = `connector ${name} (${uri})`
    if (this.closed) throw new BrokerError('BROKER_STOPPED', `${where}: listen() after close()`)
    // Errors after a successful bind (rare: accept failures) are logged, never thrown.
    this.bound = await listenOn(this.server, { host, port, where }, (err) => log.error(`${where}: ${err.message}`))
  }

  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number } {
    return this.bound ?? { host: this.opts.connector.host, port: this.opts.connector.port }
  }

  connections(): number {
    return this.live.size
  }

  /** Management (#18): connections past CONNECT with their broker session and STOMP version. */
  connectedSessions(): { session: BrokerSession; version: string }[] {
    return [...this.sessionOf].map(([c, session]) => ({ session, version: c.negotiatedVersion() }))
  }

  /** Management (#18): end the connection of session `sessionId` with an ERROR saying why; false if none here. */
  closeSession(sessionId: string, message: string): boolean {
    for (const [c, s] of this.sessionOf) {
      if (s.sessionId !== sessionId) continue
      c.goodbye({ reason: 'shutdown', message }, this.opts.goodbyeLingerMs ?? DEFAULT_GOODBYE_LINGER_MS)
      return true
    }
    return false
  }

  /** Sockets that have not completed CONNECT yet (the pre-CONNECT budget in use). */
  pendingConnections(): number {
    return this.admission.pendingTotal
  }

  /**
   * Stop accepting and end every connection at once (lock lost: no client may be served a moment longer).
   * With a `goodbye`, each client first gets an ERROR saying why (connection.ts goodbye(): written, never waited
   * for; the socket is destroyed after at most goodbyeLingerMs); without one, sockets are destroyed.
   * Sessions are closed by their connections; the promise resolves when the listener is closed. Idempotent: the
   * first call's goodbye is the one sent.
   */
  close(goodbye?: Goodbye): Promise<void> {
    if (this.closing) return this.closing
    this.closed = true
    this.refusals.close()
    this.tls?.close()
    for (const c of [...this.live]) {
      if (goodbye) c.goodbye(goodbye, this.opts.goodbyeLingerMs ?? DEFAULT_GOODBYE_LINGER_MS)
      else c.destroy()
    }
    for (const s of this.refused) s.destroy()
    this.refused.clear()
    this.closing = new Promise<void>((resolve) => {
      if (!this.server.listening) return resolve()
      this.server.close(() => resolve())
    })
    return this.closing
  }

  private onSocket(raw: net.Socket): void {
    if (this.closed) {
      raw.destroy()
      return
    }
    // Admission sees the TCP socket (its first byte, before any handshake); the protocol speaks over TLS if set.
    // A socket shed later is the raw one; destroying it destroys its TLS socket too (tls-server.ts).
    if (this.tls) raw.on('error', () => {}) // the TLS socket reports; a reset under it must not be unhandled
    this.onAdmitted(raw, this.tls ? this.tls.wrap(raw) : raw)
  }

  /**
   * A connection that arrived through another transport (the WebSocket listener's WsDuplex): it goes through the
   * same admission (per-address limit, pre-CONNECT budget) and connection path as a TCP socket of this connector.
   */
  handleSocket(socket: DuplexPort): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    this.onAdmitted(socket, socket)
  }

  private onAdmitted(raw: DuplexPort, socket: DuplexPort): void {
    if (this.closed) {
      socket.destroy()
      return
    }
    const { connector } = this.opts
    const address = normalizeAddress(raw.remoteAddress)
    const verdict = this.admission.admit(address, raw)
    for (const old of verdict.shed) {
      this.refusals.note('silent sockets shed (pre-CONNECT budget full, oldest first)')
      old.destroy()
    }
    if (!verdict.ok) {
      const perAddress = verdict.reason === 'maximumConnectionsPerAddress'
      const name = perAddress ? 'transport.maximumConnectionsPerAddress' : 'maximumConnections'
      const limit = perAddress ? this.admission.limits.maximumConnectionsPerAddress : connector.maximumConnections
      this.refusals.note(`refused by ${name} ${limit}`)
      this.refuse(
        socket,
        `connector ${connector.name} (${connector.uri}): ${name} ${limit} reached${perAddress ? ` for ${address}` : ''}, try again later`,
      )
      return
    }
    const broker = this.opts.broker
    // The broker as this connection sees it: a successful CONNECT takes the socket out of the pre-CONNECT budget.
    const marking: StompServerOptions['broker'] = {
      connect: (info) => {
        const session = broker.connect(info)
        this.admission.connected(raw)
        this.sessionOf.set(conn, session)
        return session
      },
      route: (req) => broker.route(req),
      setScheduler: (sch) => broker.setScheduler(sch),
      addTopicTap: (tap) => broker.addTopicTap(tap),
      storeWrite: (ops) => broker.storeWrite(ops),
      storeLoad: (key, after, limit) => broker.storeLoad(key, after, limit),
      storeKeys: (prefix) => broker.storeKeys(prefix),
      authorize: (session, op, dest) => broker.authorize(session, op, dest),
      newMessageId: () => broker.newMessageId(),
      metrics: () => broker.metrics(),
      stop: () => broker.stop(),
    }
    const conn = new StompConnection({
      broker: marking,
      socket,
      serverName: this.opts.serverName ?? `sfbroker/${pkg.version}`,
      limits: { bodyBytesMax: connector.maxFrameSize, ...this.opts.limits },
      heartBeat: { ...connectorHeartBeat(connector), ...this.opts.heartBeat },
      connectTimeoutMs: this.opts.connectTimeoutMs ?? connector.connectAttemptTimeout,
      inFlightFramesMax: this.opts.inFlightFramesMax,
      inFlightBytesMax: this.opts.inFlightBytesMax,
      outBytesMax: this.opts.outBytesMax ?? this.opts.connector.maxOutboundSize,
      receiveUsage: this.receiveUsage,
      closeLingerMs: this.opts.closeLingerMs,
      authenticator: this.opts.authenticator,
      clock: this.opts.clock,
      onClose: (c) => {
        this.live.delete(c)
        this.sessionOf.delete(c)
        this.admission.release(raw)
      },
    })
    this.live.add(conn)
  }

  private refuse(socket: DuplexPort, message: string): void {
    this.refused.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => this.refused.delete(socket))
    socket.write(
      encodeFrame(
        'ERROR',
        [
          ['message', message],
          ['content-type', 'text/plain'],
          ['code', 'BROKER_LIMIT'],
        ],
        Buffer.from(message + '\n'),
        '1.0',
      ),
    )
    socket.end()
    const t = setTimeout(() => socket.destroy(), this.opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS)
    t.unref?.()
  }
}
