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
import { LockFile, loadLibc } from '../lock/index.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { mountOf, mountWarnings, classify } from '../mountinfo.ts'
import { LockChildProcess } from './lock-child-process.ts'
import { PROBE_VERDICT_FILE, type ProbeVerdictRecord } from '../probe-verdict.ts'

import { peerProbe } from './peer-probe.ts'
import {
  KINDS,
  type CheckResult,
  type Kind,
  type KindVerdict,
  type ProbeOptions,
  type ProbeReport,
} from './probe-types.ts'

export type { CheckResult, Kind, KindVerdict, PeerReport, ProbeOptions, ProbeReport } from './probe-types.ts'

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
