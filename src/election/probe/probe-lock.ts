/**
 * `probe-lock`: can this filesystem be trusted for shared-store HA? Local checks, with child processes:
 *   exclusion    a second process's non-blocking exclusive attempt fails while the first holds the lock
 *   kill -9      the lock is released when its holder dies, and how long that took (measured by a blocked
 *                waiter, which also proves that a blocking waiter wakes on release)
 *   same process a second lock on the same file from one process is refused (LockFile registry)
 * plus the mount (type, options) and its known traps. A verdict per lock type and a recommended setting.
 *
 * Peer mode (`--peer`, run at the same time on two hosts on the same directory) verifies exclusion across
 * hosts through files in `<dir>/probe-peer/`: each side announces a token; then per lock type both meet at a
 * barrier, try the lock, and the holder keeps it until the peer's first attempt is visible (`peerKind`).
 * Seeing the peer hold while we hold means both had "the" lock: NOT SAFE; one side refused while the other
 * held: SAFE. Files appear to the other host subject to its attribute cache (NFS actimeo): the minimum hold
 * time (--hold-ms) should exceed it.
 *
 * The verdict is saved in the probed directory (`probe-lock.json`, status-report.ts reads it) so `sfbroker status`
 * and the admin console can show it later; a directory the probe cannot write to only loses that (a warning).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import crypto from 'node:crypto'
import { LockFile, loadLibc } from '../lock/index.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { mountOf, mountWarnings, classify, type MountInfo } from '../mountinfo.ts'
import { LockChildProcess } from './lock-child-process.ts'
import { PROBE_VERDICT_FILE, type ProbeVerdictRecord } from '../status-report.ts'

export type Kind = 'flock' | 'fcntl'
const KINDS: Kind[] = ['flock', 'fcntl']

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
  ms?: number
}

export interface KindVerdict {
  kind: Kind
  checks: CheckResult[]
  verdict: 'SAFE' | 'SAFE ON THIS HOST' | 'NOT SAFE'
  reason: string
}

export interface ProbeReport {
  directory: string
  host: string
  binding: string
  filesystem: MountInfo | null
  fsClass: string
  warnings: string[]
  kinds: KindVerdict[]
  sameProcess: CheckResult
  peer: PeerReport | null
  recommended: Kind | null
  recommendation: string
  safe: boolean
  /** Where the verdict was saved (`<dir>/probe-lock.json`), null when it could not be (see warnings). */
  savedTo: string | null
}

export interface PeerReport {
  peer: { token: string; host: string; pid: number } | null
  kinds: {
    kind: Kind
    acquired: boolean
    overlapSeen: boolean
    peerOverlapSeen: boolean | null
    verdict: 'SAFE' | 'NOT SAFE' | 'INCONCLUSIVE'
    detail: string
  }[]
}

export interface ProbeOptions {
  peer?: boolean
  /** Hold time per lock type in peer mode. */
  holdMs?: number
  /** How long to wait for the peer to show up. */
  peerTimeoutMs?: number
  /** Bound for every child step. */
  stepTimeoutMs?: number
  childArgv?: (args: string[]) => string[]
}

async function probeKind(dir: string, kind: Kind, o: ProbeOptions): Promise<KindVerdict> {
  const file = path.join(dir, `.probe-lock-${kind}-${process.pid}`)
  const t = o.stepTimeoutMs ?? 10_000
  const checks: CheckResult[] = []
  const kids: LockChildProcess[] = []
  const mk = (mode: 'try' | 'wait') => {
    const c = o.childArgv
      ? new LockChildProcess(file, kind, mode, o.childArgv([file, kind, mode]))
      : new LockChildProcess(file, kind, mode)
    kids.push(c)
    return c
  }
  try {
    const a = mk('try')
    const ea = await a.next(['locked', 'busy', 'error'], t)
    if (ea?.event !== 'locked') {
      checks.push({
        name: 'lock',
        ok: false,
        detail: `first process could not lock: ${ea ? `${ea.event} ${ea.code ?? ''} ${ea.message ?? ''}` : 'no answer'}`,
      })
      return { kind, checks, verdict: 'NOT SAFE', reason: `${kind} locks do not work here` }
    }
    checks.push({ name: 'lock', ok: true, detail: 'a process takes the exclusive lock' })
    const b = mk('try')
    const eb = await b.next(['locked', 'busy', 'error'], t)
    const excl = eb?.event === 'busy'
    checks.push({
      name: 'exclusion',
      ok: excl,
      detail: excl
        ? 'a second process is refused while the first holds it'
        : `a second process got: ${eb?.event ?? 'no answer'} — locks do not exclude`,
    })
    await b.kill9()
    const w = mk('wait')
    const ew = await w.next(['waiting', 'locked', 'error'], t)
    let releaseOk = false
    let wakeMs: number | undefined
    if (ew?.event === 'waiting') {
      await new Promise((r) => setTimeout(r, 100)) // let the waiter block in the kernel
      const early = w.events.some((e) => e.event === 'locked')
      const killedAt = Date.now()
      await a.kill9()
      const el = await w.next(['locked', 'error'], t)
      if (el?.event === 'locked' && !early) {
        releaseOk = true
        wakeMs = Math.max(0, (el.at ?? Date.now()) - killedAt)
      }
      checks.push({
        name: 'kill -9 release',
        ok: releaseOk,
        detail: releaseOk
          ? `released on kill -9; the blocked waiter had it ${wakeMs} ms after the kill`
          : early
            ? 'the waiter got the lock while the holder was alive'
            : `not released within ${t} ms of kill -9`,
        ms: wakeMs,
      })
      checks.push({
        name: 'blocking wait',
        ok: releaseOk,
        detail: releaseOk
          ? 'a blocked waiter wakes at once on release (no polling needed)'
          : 'a blocked waiter did not wake: set blockingWait=false (poll every lockAcquireSleepInterval)',
      })
    } else {
      checks.push({ name: 'kill -9 release', ok: false, detail: `waiter did not start: ${ew?.event ?? 'no answer'}` })
    }
    const ok = checks.every((c) => c.ok)
    return {
      kind,
      checks,
      verdict: ok ? 'SAFE' : 'NOT SAFE',
      reason: ok
        ? 'all local checks passed'
        : checks
            .filter((c) => !c.ok)
            .map((c) => c.name)
            .join(', ') + ' failed',
    }
  } finally {
    for (const k of kids) await k.kill9()
    fs.rmSync(file, { force: true })
  }
}

async function sameProcessCheck(dir: string): Promise<CheckResult> {
  const file = path.join(dir, `.probe-lock-same-${process.pid}`)
  const a = await LockFile.open(file, 'flock')
  try {
    a.tryLock()
    const refused: string[] = []
    for (const k of KINDS) {
      try {
        const b = await LockFile.open(file, k)
        b.close()
      } catch (e) {
        if (isBrokerError(e, 'ELECTION_LOCK_HELD')) refused.push(k)
      }
    }
    const ok = refused.length === KINDS.length
    return {
      name: 'same-process double lock',
      ok,
      detail: ok
        ? 'a second lock on the same file from this process is refused (flock and fcntl)'
        : `not refused for ${KINDS.filter((k) => !refused.includes(k)).join(', ')}`,
    }
  } finally {
    a.close()
    fs.rmSync(file, { force: true })
  }
}

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

async function peerProbe(dir: string, o: ProbeOptions): Promise<PeerReport> {
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

export async function runProbe(dirArg: string, o: ProbeOptions = {}): Promise<ProbeReport> {
  const dir = path.resolve(dirArg)
  fs.mkdirSync(dir, { recursive: true })
  const lib = await loadLibc()
  const filesystem = mountOf(dir)
  const fsClass = filesystem ? classify(filesystem.fsType) : 'other'
  const warnings = mountWarnings(filesystem)
  const kinds: KindVerdict[] = []
  for (const k of KINDS) kinds.push(await probeKind(dir, k, o))
  const sameProcess = await sameProcessCheck(dir)
  const peer = o.peer ? await peerProbe(dir, o) : null
  const hostLocal = fsClass === 'local'
  for (const kv of kinds) {
    const pk = peer?.kinds.find((x) => x.kind === kv.kind)
    if (kv.verdict !== 'SAFE') continue
    if (pk?.verdict === 'NOT SAFE') {
      kv.verdict = 'NOT SAFE'
      kv.reason = pk.detail
    } else if (pk?.verdict === 'SAFE') kv.reason = `local checks passed and ${pk.detail}`
    else if (!hostLocal) {
      kv.verdict = 'SAFE ON THIS HOST'
      kv.reason = `local checks passed; ${filesystem?.fsType ?? 'this filesystem'} is shared: verify other hosts with --peer`
    }
    if (warnings.some((w) => w.includes('NOT SAFE'))) {
      kv.verdict = 'NOT SAFE'
      kv.reason = warnings.find((w) => w.includes('NOT SAFE'))!
    }
  }
  const pick = (v: KindVerdict['verdict']) => kinds.find((k) => k.verdict === v)?.kind ?? null
  const recommended = sameProcess.ok ? (pick('SAFE') ?? pick('SAFE ON THIS HOST')) : null
  const recommendation = recommended
    ? `use lock type ${recommended}${kinds.find((k) => k.kind === recommended)!.verdict === 'SAFE ON THIS HOST' ? ' (after probe-lock --peer from a second host says SAFE)' : ''}`
    : 'do NOT use this directory for shared-store HA'
  const report: ProbeReport = {
    directory: dir,
    host: os.hostname(),
    binding: lib.binding,
    filesystem,
    fsClass,
    warnings,
    kinds,
    sameProcess,
    peer,
    recommended,
    recommendation,
    safe: recommended !== null && kinds.find((k) => k.kind === recommended)!.verdict === 'SAFE',
    savedTo: null,
  }
  try {
    report.savedTo = saveVerdict(report)
  } catch (e) {
    report.warnings.push(`verdict not saved in ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  return report
}

/** The verdict record status and the console read back; bounded (two kinds, short texts, at most 20 warnings). */
export function verdictRecord(r: ProbeReport, at = Date.now()): ProbeVerdictRecord {
  const cut = (t: string): string => (t.length > 500 ? t.slice(0, 500) + '…' : t)
  const kv = r.recommended ? r.kinds.find((k) => k.kind === r.recommended) : undefined
  return {
    v: 1,
    verdict: kv?.verdict ?? 'NOT SAFE',
    recommended: r.recommended,
    recommendation: cut(r.recommendation),
    kinds: r.kinds.map((k) => ({ kind: k.kind, verdict: k.verdict, reason: cut(k.reason) })),
    peer: r.peer
      ? { host: r.peer.peer?.host ?? null, kinds: r.peer.kinds.map((k) => ({ kind: k.kind, verdict: k.verdict })) }
      : null,
    mount: r.filesystem
      ? {
          fsType: r.filesystem.fsType,
          mountPoint: r.filesystem.mountPoint,
          source: r.filesystem.source,
          options: r.filesystem.options.slice(0, 50),
        }
      : null,
    warnings: r.warnings.slice(0, 20).map(cut),
    host: r.host,
    pid: process.pid,
    at,
  }
}

/** Write `<dir>/probe-lock.json` whole (temp file, fsync, rename), so a reader never sees half a verdict. */
function saveVerdict(r: ProbeReport): string {
  const file = path.join(r.directory, PROBE_VERDICT_FILE)
  const tmp = `${file}.${process.pid}.tmp`
  try {
    const fd = fs.openSync(tmp, 'w', 0o644)
    try {
      fs.writeSync(fd, JSON.stringify(verdictRecord(r), null, 2) + '\n')
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
  return file
}

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
