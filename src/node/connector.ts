/**
 * Connector: what the node holds for one `<transportConnector>` while it serves, whatever the protocol and
 * transport: listen, the bound address, connections counted by protocol, and close with a goodbye. createConnector
 * picks the implementation from the parsed URI (config/connector-uri.ts): STOMP over TCP/TLS is a StompServer,
 * MQTT, OpenWire and auto over TCP/TLS a SocketConnector (socket-connector.ts), ws/wss a WsConnector (ws-connector.ts) that hands each
 * upgraded connection to STOMP or MQTT by its subprotocol. The MQTT and OpenWire servers are imported on first use
 * (protocol-servers.ts), so a STOMP-only node never evaluates their code. Owns that choice only; limits and framing
 * belong to the servers.
 */
import type { Broker } from '../broker/index.ts'
import type { ConnectorConfig, ConnectorTransport } from '../config/index.ts'
import type { Clock } from '../lib/clock.ts'
import type { TlsContextSource } from '../net/index.ts'
import type { Authenticator } from '../security/index.ts'
import { StompServer, type Goodbye } from '../protocol/stomp/index.ts'
import type { NodeMqttCore } from './mqtt-core-factory.ts'
import { SocketConnector } from './socket-connector.ts'
import { WsConnector } from './ws-connector.ts'

/** The protocols a connection is counted under. */
export const CONNECTION_PROTOCOLS = ['stomp', 'mqtt', 'openwire'] as const
export type ConnectionProtocol = (typeof CONNECTION_PROTOCOLS)[number]
export type ConnectionCounts = Record<ConnectionProtocol, number>

export function noConnections(): ConnectionCounts {
  return { stomp: 0, mqtt: 0, openwire: 0 }
}

export interface Connector {
  readonly config: ConnectorConfig
  /** tcp, tls, ws or wss (hand-built configs without one: tls when `tls` is set). */
  readonly transport: ConnectorTransport
  listen(): Promise<void>
  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number }
  /** Open client connections, by the protocol each speaks. */
  connections(): ConnectionCounts
  /** Sockets accepted that have not completed their protocol's CONNECT (or WebSocket upgrade) yet. */
  pendingConnections(): number
  /** The STOMP server behind this connector, for the console's session list; null when it serves no STOMP. */
  readonly stomp: StompServer | null
  /** Stop accepting and end every connection, each client told why as its protocol allows. Idempotent. */
  close(goodbye: Goodbye): Promise<void>
  /** The group's OpenWire client URLs changed (connectors with updateClusterClients tell their clients). */
  clusterChanged?(urls: string[]): void
}

export interface ConnectorDeps {
  broker: Broker
  /** The node's one MQTT core; required by MQTT and WebSocket connectors. */
  mqtt: NodeMqttCore | null
  authenticator: Authenticator | null
  tlsSource: TlsContextSource | null
  serverName: string
  /** BrokerInfo.brokerName for OpenWire clients. */
  brokerName: string
  clock: Clock
}

export function transportOf(c: ConnectorConfig): ConnectorTransport {
  return c.transport ?? (c.tls ? 'tls' : 'tcp')
}

/** Whether a connector needs the MQTT core (an MQTT or WebSocket one). */
export function speaksMqtt(c: ConnectorConfig): boolean {
  return c.protocol === 'mqtt' || c.protocol === 'both' || c.protocol === 'auto'
}

/** The protocols a connector serves (a ws connector both STOMP and MQTT). */
export function protocolsOf(c: ConnectorConfig): ConnectionProtocol[] {
  if (c.protocol === 'both') return ['stomp', 'mqtt']
  if (c.protocol === 'auto') return ['openwire', 'stomp', 'mqtt']
  return [c.protocol]
}

/** The connector for `c`; MQTT and OpenWire code is imported only for a connector that speaks it. */
export async function createConnector(c: ConnectorConfig, deps: ConnectorDeps): Promise<Connector> {
  const transport = transportOf(c)
  if (transport === 'ws' || transport === 'wss') return WsConnector.create(c, deps)
  if (c.protocol === 'stomp') return new StompConnector(c, deps)
  return SocketConnector.create(c, deps)
}

/** STOMP over TCP or TLS: the StompServer does it all (admission, TLS, goodbye ERROR frames). */
class StompConnector implements Connector {
  readonly transport: ConnectorTransport
  readonly stomp: StompServer

  constructor(
    readonly config: ConnectorConfig,
    deps: ConnectorDeps,
  ) {
    this.transport = transportOf(config)
    this.stomp = new StompServer({
      broker: deps.broker,
      connector: config,
      serverName: deps.serverName,
      authenticator: deps.authenticator,
      tlsSource: deps.tlsSource ?? undefined,
    })
  }

  listen(): Promise<void> {
    return this.stomp.listen()
  }

  address(): { host: string; port: number } {
    return this.stomp.address()
  }

  connections(): ConnectionCounts {
    return { ...noConnections(), stomp: this.stomp.connections() }
  }

  pendingConnections(): number {
    return this.stomp.pendingConnections()
  }

  close(goodbye: Goodbye): Promise<void> {
    return this.stomp.close(goodbye)
  }
}
