/**
 * The store summary the primary leaves in the shared directory for `status` and the console, and the integrity
 * findings it carries (kept structural: election does not import storage), with the lines and warnings they read as.
 */
export interface StoreSummary {
  adapter: string
  bytes: number
  messages: number
  destinations: { destination: string; count: number; bytes: number }[]
  scheduler: { jobs: number; nextDueAt: number | null } | null
  /** What the primary's stores found wrong with their own files (absent in summaries of older versions). */
  integrity?: { store: StoreIntegritySummary | null; scheduler: StoreIntegritySummary | null }
  /** Open client connections when the summary was written (absent in summaries of older versions). */
  connections?: ConnectionSummary
  updatedAt: number
}

/** Connections by protocol (stomp, mqtt, openwire) and transport (tcp, tls, ws, wss), and per connector. */
export interface ConnectionSummary {
  total: number
  byProtocol: Record<string, number>
  byTransport: Record<string, number>
  connectors: { name: string; transport: string; connections: number; byProtocol: Record<string, number> }[]
}

/** The part of the storage's StoreIntegrity that status reads (kept structural: election does not import storage). */
export interface StoreIntegritySummary {
  corrupt: { file: string; offset: number; reason: string }[]
  corruptCount: number
  tornTail: { file: string; offset: number; bytes: number } | null
  fencedRecordsIgnored: number
  verification: string
  verifiedMessages: number
}

/** Lines and warnings for one store's integrity report. */
export function integrityLines(
  what: string,
  it: StoreIntegritySummary | null | undefined,
): { lines: string[]; warnings: string[] } {
  const lines: string[] = []
  const warnings: string[] = []
  if (!it) return { lines, warnings }
  const verifying = it.verification === 'running' ? ' (verification of checkpointed messages still running)' : ''
  if (it.corruptCount > 0) {
    warnings.push(
      `${what}: ${it.corruptCount} corrupt record(s) or message(s) found in the store, not delivered${verifying}; first at ${it.corrupt[0] ? `${it.corrupt[0].file}:${it.corrupt[0].offset}` : '?'}`,
    )
    for (const c of it.corrupt.slice(0, 10)) lines.push(`  ${what} corrupt: ${c.file}:${c.offset}: ${c.reason}`)
    if (it.corruptCount > 10) lines.push(`  ${what} corrupt: ... ${it.corruptCount - 10} more (see the broker log)`)
  } else if (verifying) lines.push(`  ${what}: no corrupt records found so far${verifying}`)
  if (it.tornTail)
    lines.push(
      `  ${what}: torn tail cut off at recovery: ${it.tornTail.file}:${it.tornTail.offset} (${it.tornTail.bytes} bytes, never acknowledged)`,
    )
  if (it.fencedRecordsIgnored > 0)
    lines.push(
      `  ${what}: ${it.fencedRecordsIgnored} record(s) of a deposed primary written after its epoch ended were ignored`,
    )
  return { lines, warnings }
}
