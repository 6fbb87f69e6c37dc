/**
 * The connection counts a primary writes into store-summary.json for `sfbroker status` (and anything else reading
 * the shared directory): totals by protocol and by transport, and each connector's split. Pure.
 */
import type { ConnectionSummary } from '../election/index.ts'
import type { ConnectorStatus } from './broker-node.ts'
import { CONNECTION_PROTOCOLS } from './connector.ts'

const TRANSPORTS = ['tcp', 'tls', 'ws', 'wss'] as const

export function connectionSummary(connectors: readonly ConnectorStatus[]): ConnectionSummary {
  const out: ConnectionSummary = { total: 0, byProtocol: {}, byTransport: {}, connectors: [] }
  // Keys in a fixed order (stomp, mqtt, openwire; tcp, tls, ws, wss), whatever the order of the connectors.
  for (const p of CONNECTION_PROTOCOLS)
    if (connectors.some((c) => c.speaks.includes(p) || c.byProtocol[p] > 0)) out.byProtocol[p] = 0
  for (const t of TRANSPORTS) if (connectors.some((c) => c.transport === t)) out.byTransport[t] = 0
  for (const c of connectors) {
    out.total += c.connections
    out.byTransport[c.transport] += c.connections
    for (const p of CONNECTION_PROTOCOLS) if (p in out.byProtocol) out.byProtocol[p] += c.byProtocol[p]
    out.connectors.push({ name: c.name, transport: c.transport, connections: c.connections, byProtocol: c.byProtocol })
  }
  return out
}
