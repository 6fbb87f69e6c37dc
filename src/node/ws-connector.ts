/**
 * WsConnector: one `ws://` or `wss://` connector. A WsListener (net/ws-listener.ts) does the socket side (bind, TLS,
 * HTTP upgrade, subprotocol); each upgraded connection goes to this connector's StompServer or MqttServer by its
 * subprotocol (STOMP when none is offered, as ActiveMQ's ws transport). The connector's limits map as follows:
 * `maximumConnections` and `transport.maximumConnectionsPerAddress` count TCP sockets of both protocols together
 * (ConnectionGate, before the upgrade: a refused one gets HTTP 503), `transport.maximumPendingConnects` bounds
 * sockets not yet upgraded and `transport.connectAttemptTimeout` how long an upgrade may take; after the upgrade
 * each protocol's server applies its own (frame/packet size `wireFormat.maxFrameSize`, CONNECT timeout, receive
 * budget `transport.maxReceiveSize`, send backlog `transport.maxOutboundSize`).
 */
import {
  DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
  defaultFairness,
  type ConnectorConfig,
  type ConnectorTransport,
} from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import { WsListener, type WsDuplex, type WsProtocol } from '../net/index.ts'
import type { MqttServer } from '../protocol/mqtt/index.ts'
import { DEFAULT_FRAME_LIMITS, StompServer, type Goodbye } from '../protocol/stomp/index.ts'
import { ConnectionGate } from './connection-gate.ts'
import { transportOf, type ConnectionCounts, type Connector, type ConnectorDeps } from './connector.ts'
import { mqttServerFor } from './protocol-servers.ts'

/**
 * Room for a STOMP frame's command and headers in one WebSocket message on top of the body limit (STOMP over
 * WebSocket sends one frame per message; the frame parser applies the exact header limits).
 */
export const WS_FRAME_HEADROOM_BYTES = 64 * 1024 + DEFAULT_FRAME_LIMITS.commandBytesMax

/** TLS is the listener's (wss): the servers behind it see plain duplexes. */
function innerOf(config: ConnectorConfig): ConnectorConfig {
  return { ...config, transport: 'tcp', tls: null }
}

export class WsConnector implements Connector {
  readonly transport: ConnectorTransport
  readonly stomp: StompServer
  private readonly mqtt: MqttServer
  private readonly gate: ConnectionGate
  private readonly listener: WsListener
  private closing: Promise<void> | null = null

  /** Builds the MQTT server first (the MQTT code loads with the first connector that speaks it). */
  static async create(config: ConnectorConfig, deps: ConnectorDeps): Promise<WsConnector> {
    return new WsConnector(config, deps, await mqttServerFor(innerOf(config), deps))
  }

  private constructor(
    readonly config: ConnectorConfig,
    deps: ConnectorDeps,
    mqtt: MqttServer,
  ) {
    this.transport = transportOf(config)
    const where = `connector ${config.name} (${config.uri})`
    this.stomp = new StompServer({
      broker: deps.broker,
      connector: innerOf(config),
      serverName: deps.serverName,
      authenticator: deps.authenticator,
    })
    this.mqtt = mqtt
    this.gate = new ConnectionGate(
      where,
      {
        maximumConnections: config.maximumConnections,
        maximumConnectionsPerAddress: config.maximumConnectionsPerAddress ?? config.maximumConnections,
      },
      deps.clock,
    )
    let tls:
      | { config: NonNullable<ConnectorConfig['tls']>; source: NonNullable<ConnectorDeps['tlsSource']> }
      | undefined
    if (this.transport === 'wss') {
      if (!config.tls || !deps.tlsSource) throw new BrokerError('CONFIG_INVALID', `${where}: wss:// needs <sslContext>`)
      tls = { config: config.tls, source: deps.tlsSource }
    }
    const serves: WsProtocol[] = ['stomp', 'mqtt']
    this.listener = new WsListener({
      where,
      host: config.host,
      port: config.port,
      serves,
      messageBytesMax: config.maxFrameSize + WS_FRAME_HEADROOM_BYTES,
      pendingUpgradesMax:
        config.maximumPendingConnects ?? defaultFairness(config.maximumConnections).maximumPendingConnects,
      upgradeTimeoutMs: config.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
      tls,
      admit: (raw) => (this.closing ? `${where}: closing` : this.gate.admit(raw)),
      onConnection: (socket, info) => this.onConnection(socket, info.protocol),
    })
  }

  listen(): Promise<void> {
    return this.listener.listen()
  }

  address(): { host: string; port: number } {
    return this.listener.address()
  }

  connections(): ConnectionCounts {
    return { stomp: this.stomp.connections(), mqtt: this.mqtt.connections(), openwire: 0 }
  }

  pendingConnections(): number {
    return this.listener.pendingUpgrades() + this.stomp.pendingConnections()
  }

  close(goodbye: Goodbye): Promise<void> {
    if (this.closing) return this.closing
    this.gate.close()
    this.closing = Promise.all([this.listener.close(), this.stomp.close(goodbye), this.mqtt.close()]).then(
      () => undefined,
    )
    return this.closing
  }

  private onConnection(socket: WsDuplex, protocol: WsProtocol): void {
    if (this.closing) return void socket.destroy()
    if (protocol === 'mqtt') this.mqtt.handleSocket(socket)
    else this.stomp.handleSocket(socket)
  }
}
