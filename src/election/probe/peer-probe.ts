/**
 * probe-lock's peer mode (`--peer`): the cross-host exclusion exchange through files in `<dir>/probe-peer/`
 * (the protocol is described in probe-lock.ts's header). Owns the exchange only; probe-lock.ts runs it and folds
 * the result into the report.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import { LockFile } from '../lock/index.ts'
import { KINDS, type Kind, type PeerReport, type ProbeOptions } from './probe-types.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type PeerKindReport = PeerReport['kinds'][number]

/**
 * One lock type's cross-host exchange. Both sides meet at a per-kind barrier (`<kind>.ready`), then try the
 * lock. A side that is refused writes `<kind>.refused` once and keeps trying; a side that gets the lock writes
 * `<kind>.held` and keeps it until the peer's outcome of its first attempt is visible (its `.held` = overlap,
 * its `.refused` = exclusion, or its `.done` = it already had its turn) and at least holdMs have passed, then
 * writes `<kind>.done` (before unlocking) and unlocks. Because a holder waits for the peer's outcome instead of
 * a fixed time, the verdict does not depend on how fast the two sides run.
 */
async function peerKind(
  pdir: string,
  kind: Kind,
  holdMs: number,
  own: (s: string) => string,
  peerFile: (s: string) => string,
  peer: { host: string; pid: number },
): Promise<PeerKindReport> {
  const peerHas = (suffix: string) => fs.existsSync(peerFile(suffix))
  const bound = holdMs * 3 + 20_000
  fs.writeFileSync(own(`${kind}.ready`), String(Date.now()))
  const readyBy = Date.now() + bound
  while (!peerHas(`${kind}.ready`) && Date.now() < readyBy) await sleep(20)
  if (!peerHas(`${kind}.ready`))
    return {
      kind,
      acquired: false,
      overlapSeen: false,
      peerOverlapSeen: null,
      verdict: 'INCONCLUSIVE',
      detail: `${peer.host} (pid ${peer.pid}) did not reach the ${kind} step within ${bound} ms`,
    }
  const lf = await LockFile.open(path.join(pdir, `lock-${kind}`), kind)
  let acquired = false
  let refused = false
  let overlapSeen = false
  let peerRefusedSeen = false
  try {
    const deadline = Date.now() + bound
    while (!acquired && Date.now() < deadline) {
      acquired = lf.tryLock()
      if (!acquired) {
        if (!refused) fs.writeFileSync(own(`${kind}.refused`), String(Date.now()))
        refused = true
        await sleep(20)
      }
    }
    if (acquired) {
      fs.writeFileSync(own(`${kind}.held`), String(Date.now()))
      const minUntil = Date.now() + holdMs
      const maxUntil = Date.now() + bound
      let outcome = false
      while (Date.now() < maxUntil && (!outcome || Date.now() < minUntil)) {
        const held = peerHas(`${kind}.held`)
        const done = peerHas(`${kind}.done`)
        if (held && !done) overlapSeen = true
        if (peerHas(`${kind}.refused`)) peerRefusedSeen = true
        outcome = overlapSeen || peerRefusedSeen || done
        await sleep(20)
      }
      fs.writeFileSync(own(`${kind}.done`), JSON.stringify({ overlapSeen, refused, peerRefusedSeen }))
    }
  } finally {
    lf.close()
  }
  // Wait for the peer's verdict on this kind, so both sides report both views.
  let peerView: { overlapSeen: boolean; refused: boolean; peerRefusedSeen: boolean } | null = null
  const waitUntil = Date.now() + bound
  while (!peerView && Date.now() < waitUntil) {
    try {
      peerView = JSON.parse(fs.readFileSync(peerFile(`${kind}.done`), 'utf8'))
    } catch {
      await sleep(50)
    }
  }
  const peerOverlapSeen = peerView ? peerView.overlapSeen === true : null
  const overlap = overlapSeen || peerOverlapSeen === true
  // Exclusion was observed when one side was refused while the other held (either side may have seen it).
  const excluded = refused || peerRefusedSeen || peerView?.refused === true || peerView?.peerRefusedSeen === true
  const verdict: PeerKindReport['verdict'] = overlap
    ? 'NOT SAFE'
    : acquired && peerView && excluded
      ? 'SAFE'
      : 'INCONCLUSIVE'
  return {
    kind,
    acquired,
    overlapSeen,
    peerOverlapSeen,
    verdict,
    detail: overlap
      ? `both hosts held the ${kind} lock at the same time: locks do not exclude across these mounts`
      : verdict === 'SAFE'
        ? `the ${kind} lock excluded ${peer.host} (pid ${peer.pid})`
        : `incomplete exchange (acquired=${acquired}, peer answer=${peerView ? 'yes' : 'none'}, exclusion observed=${excluded})`,
  }
}

export async function peerProbe(dir: string, o: ProbeOptions): Promise<PeerReport> {
  const pdir = path.join(dir, 'probe-peer')
  fs.mkdirSync(pdir, { recursive: true })
  const token = `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`
  const me = { token, host: os.hostname(), pid: process.pid, startedAt: Date.now() }
  const own = (suffix: string) => path.join(pdir, `${token}.${suffix}`)
  fs.writeFileSync(own('hello'), JSON.stringify(me))
  const holdMs = o.holdMs ?? 3000
  const deadline = Date.now() + (o.peerTimeoutMs ?? 60_000)
  let peer = null as typeof me | null
  const report: PeerReport = { peer: null, kinds: [] }
  try {
    while (!peer && Date.now() < deadline) {
      for (const n of fs.readdirSync(pdir)) {
        if (!n.endsWith('.hello') || n.startsWith(token)) continue
        try {
          const p = JSON.parse(fs.readFileSync(path.join(pdir, n), 'utf8')) as typeof me
          if (Math.abs(p.startedAt - me.startedAt) < (o.peerTimeoutMs ?? 60_000) + 10_000) peer = p
        } catch {
          // being written
        }
      }
      if (!peer) await sleep(50)
    }
    if (!peer) {
      report.kinds = KINDS.map((kind) => ({
        kind,
        acquired: false,
        overlapSeen: false,
        peerOverlapSeen: null,
        verdict: 'INCONCLUSIVE',
        detail: 'no peer showed up: run probe-lock --peer on the other host at the same time',
      }))
      return report
    }
    report.peer = { token: peer.token, host: peer.host, pid: peer.pid }
    const peerFile = (suffix: string) => path.join(pdir, `${peer!.token}.${suffix}`)
    for (const kind of KINDS) report.kinds.push(await peerKind(pdir, kind, holdMs, own, peerFile, peer))
    return report
  } finally {
    // Give the peer time to read our last files, then remove ours.
    await sleep(Math.min(2000, holdMs))
    for (const n of fs.readdirSync(pdir)) if (n.startsWith(token + '.')) fs.rmSync(path.join(pdir, n), { force: true })
  }
}
