/**
 * SocketConnector: one connector served over plain TCP or TLS by a protocol other than STOMP-only: `mqtt://`
 * (MqttServer), OpenWire `tcp://`/`ssl://` (OpenWireServer) and `auto://` (each connection sniffed from its first
 * bytes, net/protocol-sniff.ts, then handed to OpenWire, MQTT or STOMP with those bytes put back). Binds a
 * net.Server, admits each TCP socket through the connector's ConnectionGate (`maximumConnections`,
 * `transport.maximumConnectionsPerAddress`), terminates TLS for the `+ssl` schemes (its handshake bounded by
 * `transport.connectAttemptTimeout`, as is the sniffing) and hands the socket on. close() ends every client as its
 * protocol allows (MQTT 5: DISCONNECT 0x8B; OpenWire: ShutdownInfo, so failover clients move at once; STOMP: ERROR).
 * Does not own packet semantics, the MQTT core or the broker.
 */
import net from 'node:net'
import { DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS, type ConnectorConfig, type ConnectorTransport } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { SNIFF_BYTES_MAX, TlsTerminator, listenOn, sniffProtocol, type SniffedProtocol } from '../net/index.ts'
import type { MqttServer } from '../protocol/mqtt/index.ts'
import type { OpenWireServer } from '../protocol/openwire/index.ts'
import { StompServer, type Goodbye } from '../protocol/stomp/index.ts'
import { ClusterUrlBook } from './cluster-urls.ts'
import { ConnectionGate } from './connection-gate.ts'
import { transportOf, type ConnectionCounts, type Connector, type ConnectorDeps } from './connector.ts'
import { mqttServerFor, openWireServerFor } from './protocol-servers.ts'

const log = logger('node')

/** A duplex the protocol servers take: a TCP socket or its TLS socket. */
type Accepted = net.Socket

export class SocketConnector implements Connector {
  readonly transport: ConnectorTransport
  readonly stomp: StompServer | null = null
  private readonly mqtt: MqttServer | null
  private readonly openwire: OpenWireServer | null
  /** The group's URLs as this connector's clients were last told (updateClusterClients only). */
  private readonly cluster: ClusterUrlBook | null
  /** auto:// sockets whose first bytes are still awaited. */
  private readonly sniffing = new Set<Accepted>()
  private readonly gate: ConnectionGate
  private readonly tls: TlsTerminator | null = null
  private readonly server: net.Server
  private readonly where: string
  private bound: { host: string; port: number } | null = null
  private closing: Promise<void> | null = null

  /** Builds the connector's protocol servers first (each protocol's code loads with its first connector). */
  static async create(config: ConnectorConfig, deps: ConnectorDeps): Promise<SocketConnector> {
    const inner: ConnectorConfig = { ...config, tls: null }
    const auto = config.protocol === 'auto'
    const cluster = config.updateClusterClients
      ? new ClusterUrlBook(config.updateClusterClientsOnRemove ?? false)
      : null
    const mqtt = config.protocol === 'mqtt' || auto ? await mqttServerFor(inner, deps) : null
    const openwire = config.protocol === 'openwire' || auto ? await openWireServerFor(inner, deps, cluster) : null
    return new SocketConnector(config, deps, { mqtt, openwire, cluster })
  }

  private constructor(
    readonly config: ConnectorConfig,
    deps: ConnectorDeps,
    servers: { mqtt: MqttServer | null; openwire: OpenWireServer | null; cluster: ClusterUrlBook | null },
  ) {
    this.transport = transportOf(config)
    this.where = `connector ${config.name} (${config.uri})`
    this.mqtt = servers.mqtt
    this.openwire = servers.openwire
    this.cluster = servers.cluster
    if (config.protocol === 'auto') {
      this.stomp = new StompServer({
        broker: deps.broker,
        connector: { ...config, tls: null },
        serverName: deps.serverName,
        authenticator: deps.authenticator,
      })
    }
    this.gate = new ConnectionGate(
      this.where,
      {
        maximumConnections: config.maximumConnections,
        maximumConnectionsPerAddress: config.maximumConnectionsPerAddress ?? config.maximumConnections,
      },
      deps.clock,
    )
    if (config.tls) {
      if (!deps.tlsSource) throw new BrokerError('CONFIG_INVALID', `${this.where}: a TLS connector needs <sslContext>`)
      this.tls = new TlsTerminator({
        where: this.where,
        tls: config.tls,
        source: deps.tlsSource,
        handshakeTimeoutMs: config.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
      })
    }
    this.server = net.createServer({ noDelay: true }, (raw) => this.onSocket(raw))
  }

  async listen(): Promise<void> {
    if (this.closing) throw new BrokerError('BROKER_STOPPED', `${this.where}: listen() after close()`)
    const { host, port } = this.config
    this.bound = await listenOn(this.server, { host, port, where: this.where }, (err) =>
      log.error(`${this.where}: ${err.message}`),
    )
  }

  address(): { host: string; port: number } {
    return this.bound ?? { host: this.config.host, port: this.config.port }
  }

  connections(): ConnectionCounts {
    return {
      stomp: this.stomp?.connections() ?? 0,
      mqtt: this.mqtt?.connections() ?? 0,
      openwire: this.openwire?.connections() ?? 0,
    }
  }

  /** Sockets admitted whose protocol has not started yet (TLS handshakes, auto:// sniffing, STOMP pre-CONNECT). */
  pendingConnections(): number {
    return (this.tls?.handshaking() ?? 0) + this.sniffing.size + (this.stomp?.pendingConnections() ?? 0)
  }

  clusterChanged(urls: string[]): void {
    if (this.cluster?.offer(urls)) this.openwire?.announceCluster()
  }

  close(goodbye: Goodbye): Promise<void> {
    if (this.closing) return this.closing
    this.tls?.close()
    this.gate.close()
    for (const s of this.sniffing) s.destroy()
    this.sniffing.clear()
    const listener = new Promise<void>((resolve) =>
      this.server.listening ? this.server.close(() => resolve()) : resolve(),
    )
    this.closing = Promise.all([this.mqtt?.close(), this.openwire?.close(), this.stomp?.close(goodbye), listener]).then(
      () => undefined,
    )
    return this.closing
  }

  private onSocket(raw: net.Socket): void {
    raw.on('error', () => {}) // a reset costs this socket only; the connection reports its own errors
    if (this.closing || this.gate.admit(raw) !== null) return void raw.destroy()
    const socket = this.tls ? this.tls.wrap(raw) : raw
    if (this.config.protocol === 'mqtt') this.mqtt!.handleSocket(socket)
    else if (this.config.protocol === 'openwire') this.openwire!.handleSocket(socket)
    else this.sniff(socket)
  }

  /** auto://: read until the first bytes decide, put them back, hand the socket to that protocol's server. */
  private sniff(socket: Accepted): void {
    this.sniffing.add(socket)
    let seen = Buffer.alloc(0)
    const timeoutMs = this.config.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS
    const finish = (protocol: SniffedProtocol | null, why: string): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      if (!this.sniffing.delete(socket)) return
      if (protocol === null || this.closing) {
        if (!this.closing) this.gate.noteRefused(why)
        return void socket.destroy()
      }
      socket.pause()
      socket.unshift(seen)
      if (protocol === 'mqtt') this.mqtt!.handleSocket(socket)
      else if (protocol === 'openwire') this.openwire!.handleSocket(socket)
      else this.stomp!.handleSocket(socket)
      socket.resume()
    }
    const onData = (chunk: Buffer): void => {
      seen = Buffer.concat([seen, chunk])
      const p = sniffProtocol(seen)
      if (p === 'unknown' || (p === null && seen.length >= SNIFF_BYTES_MAX))
        finish(null, 'first bytes are neither OpenWire, MQTT nor STOMP')
      else if (p !== null) finish(p, '')
    }
    const onClose = (): void => finish(null, 'closed before speaking')
    const timer = setTimeout(() => finish(null, `no protocol within ${timeoutMs} ms`), timeoutMs)
    timer.unref?.()
    socket.on('data', onData)
    socket.once('close', onClose)
  }
}
