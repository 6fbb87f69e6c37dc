/**
 * The text `sfbroker status` prints for a StatusReport (election/status-report.ts gathers it; `--json` prints the
 * report itself). Presentation only: no I/O.
 */
import { integrityLines, type ConnectionSummary, type StatusReport } from '../../election/index.ts'

function ago(ms: number | null): string {
  if (ms === null) return '-'
  return ms < 10_000 ? `${ms} ms ago` : `${Math.round(ms / 1000)} s ago`
}

/** `12 (stomp 7, mqtt 5; tcp 9, ws 3)`, then each connector with connections: `; stomp 7, ws 3 (mqtt 3)`. */
export function connectionsLine(c: ConnectionSummary): string {
  const split = (m: Record<string, number>): string =>
    Object.entries(m)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')
  const per = c.connectors
    .filter((x) => x.connections > 0)
    .map(
      (x) =>
        `${x.name} ${x.connections} (${split(Object.fromEntries(Object.entries(x.byProtocol).filter(([, n]) => n > 0)))})`,
    )
  return `${c.total} (${split(c.byProtocol)}; ${split(c.byTransport)})${per.length ? `; ${per.join(', ')}` : ''}`
}

export function formatStatus(r: StatusReport): string {
  const L: string[] = []
  L.push(`shared directory: ${r.directory}`)
  if (r.error) {
    L.push(`error: ${r.error}`)
    return L.join('\n')
  }
  if (r.filesystem) L.push(`filesystem: ${r.filesystem.fsType} on ${r.filesystem.mountPoint} (${r.filesystem.source})`)
  L.push(
    `primary: ${r.primary ? 'YES, the lock is held' : r.lockFile.held === null ? 'UNKNOWN' : 'NONE (lock not held)'} [${r.lockFile.method}${r.lockFile.holderPids.length ? `, pid ${r.lockFile.holderPids.join(',')}` : ''}]`,
  )
  if (r.holder) {
    const h = r.holder
    L.push(
      `holder record: ${h.nodeId} broker ${h.brokerName} on ${h.host} pid ${h.pid}, epoch ${h.epoch}, acquired ${new Date(h.acquiredAt).toISOString()}, renewed ${ago(r.renewedAgoMs)}${r.primary ? '' : ' (last holder)'}`,
    )
    L.push(
      `  connectors: ${h.connectors.join(', ') || '-'}; lock ${h.lockType}, keep-alive ${h.lockKeepAlivePeriod} ms; version ${h.version || '-'}${h.adapter ? `; adapter ${h.adapter}` : ''}`,
    )
  } else L.push('holder record: none')
  L.push(`current epoch: ${r.currentEpoch}`)
  L.push(`replicas: ${r.replicas.length === 0 ? 'none registered' : ''}`)
  for (const rep of r.replicas)
    L.push(
      `  ${rep.nodeId} on ${rep.host} pid ${rep.pid}${rep.preferred ? ' (preferred, failback)' : ''}: waiting since ${new Date(rep.since).toISOString()}, heartbeat ${ago(rep.ageMs)}${rep.fresh ? '' : ' STALE'}`,
    )
  const t = r.lastTakeover
  if (t) {
    L.push(
      `last takeover: ${t.nodeId} epoch ${t.epoch} at ${new Date(t.lockAcquiredAt).toISOString()}: lock +0 ms, epoch +${t.epochClaimedMs} ms, store +${t.storeRecoveredMs ?? '-'} ms, connectors +${t.connectorsOpenMs ?? '-'} ms${t.previousHolder ? ` (from ${t.previousHolder}${t.previousHolderLastRenewedAgoMs !== null ? `, last renewed ${t.previousHolderLastRenewedAgoMs} ms before` : ''}${t.previousHolderEnd ? `: ${t.previousHolderEnd}` : ''})` : ''}${t.waitedGraceMs ? `, waited ${t.waitedGraceMs} ms grace` : ''}`,
    )
  } else L.push('last takeover: none recorded')
  if (r.store) {
    L.push(
      `store: ${r.store.adapter}, ${r.store.bytes} bytes, ${r.store.messages} messages in ${r.store.destinations.length} destinations (summary ${ago(r.store.ageMs)})`,
    )
    for (const d of r.store.destinations.slice(0, 20))
      L.push(`  ${d.destination}: ${d.count} messages, ${d.bytes} bytes`)
    if (r.store.scheduler)
      L.push(
        `  scheduler: ${r.store.scheduler.jobs} jobs${r.store.scheduler.nextDueAt ? `, next due ${new Date(r.store.scheduler.nextDueAt).toISOString()}` : ''}`,
      )
    const cn = r.store.connections
    if (cn) L.push(`connections: ${connectionsLine(cn)}`)
    for (const [what, it] of [
      ['store', r.store.integrity?.store],
      ['scheduler store', r.store.integrity?.scheduler],
    ] as const)
      L.push(...integrityLines(what, it).lines)
  } else L.push('store: no summary yet (written by the primary every few seconds)')
  const pl = r.probeLock
  if (pl) {
    L.push(
      `probe-lock: ${pl.verdict}${pl.recommended ? ` (lock type ${pl.recommended} recommended)` : ''}, run on ${pl.host} ${ago(pl.ageMs)}${pl.peer ? ` with --peer ${pl.peer.host ?? '(no peer showed up)'}` : ''}`,
    )
    L.push(
      `  ${pl.kinds.map((k) => `${k.kind} ${k.verdict}`).join(', ')}${pl.mount ? `; ${pl.mount.fsType} on ${pl.mount.mountPoint}` : ''}`,
    )
  } else L.push(`probe-lock: no saved verdict (run sfbroker probe-lock ${r.directory})`)
  for (const w of r.warnings) L.push(`WARNING: ${w}`)
  return L.join('\n')
}
