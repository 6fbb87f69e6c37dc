/**
 * What `BrokerNode.status()` reports: the node's role and term, and per connector its listening address and open
 * connections by protocol. The shapes, and the one function that reads them off the live connectors. Pure: it
 * opens, closes and counts nothing itself.
 */
import type { ConnectorConfig } from '../config/index.ts'
import type { Role } from '../election/index.ts'
import {
  protocolsOf,
  transportOf,
  type ConnectionCounts,
  type ConnectionProtocol,
  type Connector,
} from './connector.ts'

export interface NodeStatus {
  nodeId: string
  brokerName: string
  role: Role
  epoch: number | null
  since: number
  connectors: ConnectorStatus[]
}

export interface ConnectorStatus {
  name: string
  uri: string
  /** tcp, tls, ws or wss. */
  transport: string
  listening: string | null
  /** Open connections, all protocols together. */
  connections: number
  /** The protocols this connector serves. */
  speaks: ConnectionProtocol[]
  /** Open connections by the protocol each speaks. */
  byProtocol: ConnectionCounts
}

/** One status per configured connector, in config order; `live` holds the open ones (none when not serving). */
export function connectorStatuses(
  configs: readonly ConnectorConfig[],
  live: readonly Connector[] | undefined,
): ConnectorStatus[] {
  return configs.map((c, i) => {
    const cn = live?.[i]
    const addr = cn ? cn.address() : null
    const byProtocol = cn ? cn.connections() : { stomp: 0, mqtt: 0, openwire: 0 }
    return {
      name: c.name,
      uri: c.uri,
      transport: transportOf(c),
      speaks: protocolsOf(c),
      listening: addr ? `${addr.host}:${addr.port}` : null,
      connections: byProtocol.stomp + byProtocol.mqtt + byProtocol.openwire,
      byProtocol,
    }
  })
}
