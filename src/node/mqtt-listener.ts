/**
 * MqttListener: one `mqtt://` or `mqtt+ssl://` connector. Binds a net.Server, admits each TCP socket through the
 * connector's ConnectionGate (`maximumConnections`, `transport.maximumConnectionsPerAddress`), terminates TLS for
 * `+ssl` (the connectors' TlsTerminator, its handshake bounded by the connect timeout) and hands the socket to an
 * MqttServer (protocol/mqtt/server.ts: packet limits, receive budget, CONNECT timeout) over the node's MQTT core.
 * close() ends every client (MQTT 5 clients get DISCONNECT 0x8B, "server shutting down", 3.1.1 clients a close:
 * their protocol has no way to say why). Does not own packet semantics or the core.
 */
import net from 'node:net'
import { DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS, type ConnectorConfig, type ConnectorTransport } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { TlsTerminator } from '../net/index.ts'
import { MqttServer } from '../protocol/mqtt/index.ts'
import { ConnectionGate } from './connection-gate.ts'
import { noConnections, transportOf, type ConnectionCounts, type Connector, type ConnectorDeps } from './connector.ts'
import { listenOn } from './listen.ts'

const log = logger('mqtt')

/** The MqttServer of a connector, its limits taken from the connector URI. */
export function mqttServerFor(c: ConnectorConfig, deps: ConnectorDeps): MqttServer {
  if (!deps.mqtt)
    throw new BrokerError('CONFIG_INVALID', `connector ${c.name} (${c.uri}): speaks MQTT but the node has no MQTT core`)
  return new MqttServer({
    core: deps.mqtt.core,
    name: c.name,
    host: c.host,
    port: c.port,
    maximumConnections: c.maximumConnections,
    receiveBytesMax: c.maxReceiveSize,
    outBytesMax: c.maxOutboundSize,
    limits: { packetBytesMax: c.maxFrameSize },
    connectTimeoutMs: c.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
    clock: deps.clock,
  })
}

export class MqttListener implements Connector {
  readonly transport: ConnectorTransport
  readonly stomp = null
  private readonly mqtt: MqttServer
  private readonly gate: ConnectionGate
  private readonly tls: TlsTerminator | null = null
  private readonly server: net.Server
  private readonly where: string
  private bound: { host: string; port: number } | null = null
  private closing: Promise<void> | null = null

  constructor(
    readonly config: ConnectorConfig,
    deps: ConnectorDeps,
  ) {
    this.transport = transportOf(config)
    this.where = `connector ${config.name} (${config.uri})`
    this.mqtt = mqttServerFor(config, deps)
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
    this.bound = await listenOn(this.server, this.config, (err) => log.error(`${this.where}: ${err.message}`))
  }

  address(): { host: string; port: number } {
    return this.bound ?? { host: this.config.host, port: this.config.port }
  }

  connections(): ConnectionCounts {
    return { ...noConnections(), mqtt: this.mqtt.connections() }
  }

  /** Sockets admitted whose MQTT connection has not started yet (TLS handshakes under way). */
  pendingConnections(): number {
    return this.tls?.handshaking() ?? 0
  }

  close(): Promise<void> {
    if (this.closing) return this.closing
    this.tls?.close()
    this.gate.close()
    const listener = new Promise<void>((resolve) =>
      this.server.listening ? this.server.close(() => resolve()) : resolve(),
    )
    this.closing = Promise.all([this.mqtt.close(), listener]).then(() => undefined)
    return this.closing
  }

  private onSocket(raw: net.Socket): void {
    raw.on('error', () => {}) // a reset costs this socket only; the connection reports its own errors
    if (this.closing || this.gate.admit(raw) !== null) return void raw.destroy()
    this.mqtt.handleSocket(this.tls ? this.tls.wrap(raw) : raw)
  }
}
