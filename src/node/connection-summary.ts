/**
 * The connection counts a primary writes into store-summary.json for `sfbroker status` (and anything else reading
 * the shared directory): totals by protocol and by transport, and each connector's split. Pure.
 */
import type { ConnectionSummary } from '../election/index.ts'
import type { ConnectorStatus } from './broker-node.ts'
import { CONNECTION_PROTOCOLS } from './connector.ts'

export function connectionSummary(connectors: readonly ConnectorStatus[]): ConnectionSummary {
  const out: ConnectionSummary = { total: 0, byProtocol: {}, byTransport: {}, connectors: [] }
  for (const c of connectors) {
    out.total += c.connections
    out.byTransport[c.transport] = (out.byTransport[c.transport] ?? 0) + c.connections
    for (const p of CONNECTION_PROTOCOLS)
      if (c.byProtocol[p] > 0 || c.speaks.includes(p)) out.byProtocol[p] = (out.byProtocol[p] ?? 0) + c.byProtocol[p]
    out.connectors.push({ name: c.name, transport: c.transport, connections: c.connections, byProtocol: c.byProtocol })
  }
  return out
}
