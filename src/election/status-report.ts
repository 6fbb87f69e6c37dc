/**
 * `sfbroker status` without the CLI: read a shared directory and say who is primary, without disturbing it.
 *
 * Whether the lock is held, without taking it (an exclusive attempt could make a replica miss it):
 *  - fcntl locks, and flock on NFS (which Linux emulates with POSIX locks): F_OFD_GETLK, a pure query that the
 *    NFS client answers from the server (LOCKT / NLM TEST), so it sees holders on other hosts;
 *  - flock on a local filesystem: /proc/locks, matched by device and inode (every holder is on this host);
 *  - flock elsewhere (FUSE, CIFS, cluster filesystems): a LOCK_SH|LOCK_NB attempt released at once. This is
 *    safe: a shared lock cannot take the lock away from a holder; a replica blocked in LOCK_EX stays queued and
 *    is woken by the release; at worst a polling replica's attempt in that microsecond window sees "busy" and
 *    retries one lockAcquireSleepInterval later, and a failIfLocked start at that instant refuses to start.
 * Exit codes: 0 a live primary holds the lock, 3 no primary, 4 unreadable or not a broker directory.
 */
import fs from 'node:fs'
import path from 'node:path'
import {
  sharedPaths,
  readHolderRecordFd,
  parseHolderRecord,
  readReplicas,
  readTakeovers,
  maxEpoch,
  type HolderRecord,
  type ReplicaRecord,
  type TakeoverRecord,
} from './shared-dir.ts'
import { loadLibc, LibcError } from './lock/index.ts'
import { mountOf, mountWarnings, classify, type MountInfo } from './mountinfo.ts'
import { readProbeVerdict, type ProbeVerdictRecord } from './probe-verdict.ts'
import { integrityLines, type StoreSummary } from './store-summary.ts'

export const STATUS_EXIT = { primary: 0, noPrimary: 3, unreadable: 4 } as const

export interface StatusReport {
  directory: string
  now: number
  lockFile: { exists: boolean; held: boolean | null; method: string; holderPids: number[] }
  holder: HolderRecord | null
  renewedAgoMs: number | null
  currentEpoch: number
  replicas: (ReplicaRecord & { ageMs: number; fresh: boolean })[]
  lastTakeover: TakeoverRecord | null
  takeovers: TakeoverRecord[]
  store: (StoreSummary & { ageMs: number }) | null
  filesystem: MountInfo | null
  /** The last `sfbroker probe-lock` verdict saved in the directory, with its age; null when none was saved. */
  probeLock: (ProbeVerdictRecord & { ageMs: number }) | null
  warnings: string[]
  primary: boolean
  exitCode: number
  error?: string
}

function devMajorMinor(dev: number): string {
  const d = BigInt(dev)
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn))
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn))
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`
}

/** Holders of locks on (dev, ino) listed in /proc/locks (granted entries only, not waiters). */
export function procLocksHolders(dev: number, ino: number, text?: string): { kind: string; pid: number }[] {
  let t = text
  if (t === undefined) {
    try {
      t = fs.readFileSync('/proc/locks', 'utf8')
    } catch {
      return []
    }
  }
  const want = `${devMajorMinor(dev)}:${ino}`
  const out: { kind: string; pid: number }[] = []
  for (const line of t.split('\n')) {
    if (line.includes('->')) continue
    const f = line.trim().split(/\s+/)
    // "1: FLOCK ADVISORY WRITE 7749 fe:00:2146725 0 EOF"
    if (f.length >= 6 && f[5] === want) out.push({ kind: `${f[1]}/${f[3]}`, pid: Number(f[4]) })
  }
  return out
}

async function lockHeld(
  file: string,
  lockType: string,
  mount: MountInfo | null,
): Promise<{ held: boolean | null; method: string; holderPids: number[] }> {
  const fd = fs.openSync(file, 'r')
  try {
    const st = fs.fstatSync(fd)
    const cls = mount ? classify(mount.fsType) : 'other'
    const local = procLocksHolders(st.dev, st.ino)
    if (local.length)
      return { held: true, method: '/proc/locks', holderPids: local.map((h) => h.pid).filter((p) => p > 0) }
    const lib = await loadLibc()
    if (lockType === 'fcntl' || cls === 'nfs') {
      const got = lib.fcntlGetLock(fd, 'sh')
      if (got || lockType === 'fcntl')
        return { held: got !== null, method: 'F_OFD_GETLK', holderPids: got && got.pid > 0 ? [got.pid] : [] }
    }
    if (cls === 'local') return { held: false, method: '/proc/locks', holderPids: [] }
    try {
      lib.flock(fd, 'shnb')
      lib.flock(fd, 'un')
      return { held: false, method: 'flock LOCK_SH|LOCK_NB probe', holderPids: [] }
    } catch (e) {
      if (e instanceof LibcError && e.wouldBlock)
        return { held: true, method: 'flock LOCK_SH|LOCK_NB probe', holderPids: [] }
      return { held: null, method: `flock probe failed: ${(e as Error).message}`, holderPids: [] }
    }
  } finally {
    fs.closeSync(fd)
  }
}

export async function inspectSharedDir(dirArg: string, now = Date.now()): Promise<StatusReport> {
  const dir = path.resolve(dirArg)
  const p = sharedPaths(dir)
  const base: StatusReport = {
    directory: dir,
    now,
    lockFile: { exists: false, held: null, method: 'none', holderPids: [] },
    holder: null,
    renewedAgoMs: null,
    currentEpoch: 0,
    replicas: [],
    lastTakeover: null,
    takeovers: [],
    store: null,
    filesystem: null,
    probeLock: null,
    warnings: [],
    primary: false,
    exitCode: STATUS_EXIT.unreadable,
  }
  let st: fs.Stats
  try {
    st = fs.statSync(dir)
    if (!st.isDirectory()) return { ...base, error: `${dir} is not a directory` }
    fs.readdirSync(dir)
  } catch (e) {
    return { ...base, error: `${dir}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` }
  }
  const lockExists = fs.existsSync(p.lock)
  const hasEpochs = fs.existsSync(p.epochs)
  if (!lockExists && !hasEpochs) {
    return { ...base, error: `${dir} is not a broker shared directory: neither lock nor epochs/ found` }
  }
  const r: StatusReport = { ...base, filesystem: mountOf(dir) }
  r.warnings.push(...mountWarnings(r.filesystem))
  try {
    r.currentEpoch = await maxEpoch(dir)
  } catch (e) {
    r.warnings.push(`epochs/ unreadable: ${(e as Error).message}`)
  }
  if (lockExists) {
    try {
      const fd = fs.openSync(p.lock, 'r')
      try {
        r.holder = readHolderRecordFd(fd)
      } finally {
        fs.closeSync(fd)
      }
    } catch (e) {
      r.error = `${p.lock}: cannot read (${(e as Error).message})`
      r.exitCode = STATUS_EXIT.unreadable
      return r
    }
    const held = await lockHeld(p.lock, r.holder?.lockType ?? 'flock', r.filesystem)
    r.lockFile = { exists: true, ...held }
  } else {
    r.warnings.push(
      `lock file missing: ${p.lock} (deleted under the brokers? a running primary steps down at its next keep-alive)`,
    )
  }
  if (r.holder) {
    r.renewedAgoMs = now - r.holder.renewedAt
    const period = r.holder.lockKeepAlivePeriod > 0 ? r.holder.lockKeepAlivePeriod : 1000
    if (r.lockFile.held && r.holder.lockKeepAlivePeriod > 0 && r.renewedAgoMs > Math.max(3 * period, 3000)) {
      r.warnings.push(
        `stale holder record: ${r.holder.nodeId} last renewed ${Math.round(r.renewedAgoMs / 1000)} s ago (keep-alive ${period} ms) — primary hung or its filesystem stalled`,
      )
    }
    if (r.holder.epoch < r.currentEpoch && r.lockFile.held)
      r.warnings.push(
        `holder record names epoch ${r.holder.epoch} but epoch ${r.currentEpoch} was claimed: a takeover is in progress or the record is stale`,
      )
    if (r.holder.schedulerSupport && r.holder.schedulerDirectory) {
      const sd = r.holder.schedulerDirectory
      try {
        const sst = fs.statSync(sd)
        if (sst.dev !== st.dev)
          r.warnings.push(
            `scheduler directory ${sd} is on a different filesystem than the shared directory: scheduled jobs will not fail over with the store`,
          )
        // Any place outside the shared directory warns, as the config loader does: a sibling directory is not
        // guaranteed to be on the share (the shared directory may itself be the mount point).
        else if (!path.resolve(sd).startsWith(dir + path.sep))
          r.warnings.push(
            `scheduler directory ${sd} is outside the shared directory ${dir}: scheduled jobs fail over only if every broker sees that same directory (put it under the shared directory)`,
          )
      } catch {
        r.warnings.push(`scheduler directory ${sd} (from the holder record) is not reachable from this host`)
      }
    }
  } else if (r.lockFile.held) {
    r.warnings.push(
      'lock is held but the holder record is empty or unreadable (a broker is starting, or a foreign process holds the lock)',
    )
  }
  for (const rep of await readReplicas(dir)) {
    const ageMs = now - rep.lastSeen
    const fresh = ageMs < 3 * (rep.heartbeatMs || 1000) + 1000
    r.replicas.push({ ...rep, ageMs, fresh })
    if (!fresh)
      r.warnings.push(
        `replica ${rep.nodeId} (${rep.host}, pid ${rep.pid}) last seen ${Math.round(ageMs / 1000)} s ago: gone without a clean stop?`,
      )
  }
  r.takeovers = readTakeovers(dir)
  r.lastTakeover = r.takeovers.at(-1) ?? null
  try {
    const s = JSON.parse(fs.readFileSync(p.storeSummary, 'utf8')) as StoreSummary
    r.store = { ...s, ageMs: now - s.updatedAt }
    for (const [what, it] of [
      ['store', s.integrity?.store],
      ['scheduler store', s.integrity?.scheduler],
    ] as const)
      r.warnings.push(...integrityLines(what, it).warnings)
  } catch {
    r.store = null
  }
  const probe = readProbeVerdict(dir)
  if (typeof probe === 'string') r.warnings.push(probe)
  else if (probe) {
    r.probeLock = { ...probe, ageMs: now - probe.at }
    const when = `${probe.host}, ${new Date(probe.at).toISOString()}`
    if (probe.verdict === 'NOT SAFE')
      r.warnings.push(
        `the last probe-lock (${when}) found this directory NOT SAFE for shared-store HA: ${probe.recommendation}`,
      )
    const lockType = r.holder?.lockType
    const kv = probe.kinds.find((k) => k.kind === lockType)
    if (lockType && kv && kv.verdict === 'NOT SAFE' && probe.verdict !== 'NOT SAFE')
      r.warnings.push(
        `the brokers use lock type ${lockType}, which the last probe-lock (${when}) found NOT SAFE: ${kv.reason}`,
      )
    const fsNow = r.filesystem
    if (probe.mount && fsNow && (probe.mount.fsType !== fsNow.fsType || probe.mount.source !== fsNow.source)) {
      r.warnings.push(
        `the last probe-lock (${when}) saw ${probe.mount.fsType} from ${probe.mount.source}; the directory is now on ${fsNow.fsType} from ${fsNow.source}: run sfbroker probe-lock again`,
      )
    }
  }
  r.primary = r.lockFile.held === true
  r.exitCode = r.primary
    ? STATUS_EXIT.primary
    : r.lockFile.held === null && lockExists
      ? STATUS_EXIT.unreadable
      : STATUS_EXIT.noPrimary
  return r
}

export { parseHolderRecord }
