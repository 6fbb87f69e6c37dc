/**
 * The text `sfbroker probe-lock` prints for a ProbeReport (`--json` prints the report itself). Presentation only.
 */
import type { ProbeReport } from '../../election/index.ts'

export function formatProbe(r: ProbeReport): string {
  const L: string[] = []
  L.push(`probe-lock ${r.directory} on ${r.host} (${r.binding})`)
  L.push(
    `filesystem: ${r.filesystem ? `${r.filesystem.fsType} on ${r.filesystem.mountPoint} from ${r.filesystem.source}, options ${r.filesystem.options.join(',')}` : 'unknown'}`,
  )
  for (const k of r.kinds) {
    L.push(`${k.kind}: ${k.verdict} — ${k.reason}`)
    for (const c of k.checks) L.push(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}`)
  }
  L.push(`[${r.sameProcess.ok ? 'ok' : 'FAIL'}] ${r.sameProcess.name}: ${r.sameProcess.detail}`)
  if (r.peer) {
    L.push(`peer: ${r.peer.peer ? `${r.peer.peer.host} pid ${r.peer.peer.pid}` : 'none'}`)
    for (const k of r.peer.kinds) L.push(`  ${k.kind}: ${k.verdict} — ${k.detail}`)
  }
  for (const w of r.warnings) L.push(`WARNING: ${w}`)
  L.push(`recommendation: ${r.recommendation}`)
  if (r.savedTo) L.push(`verdict saved to ${r.savedTo} (shown by sfbroker status and the admin console)`)
  return L.join('\n')
}
