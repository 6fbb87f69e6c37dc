/**
 * runChaos: the chaos harness's orchestration. Starts N brokers (the compiled binary) on one shared directory
 * (through one bindfs mount per broker when available, so each broker is a "host"; or, while in the `common` mode
 * the share-blink fault needs, all through one mount), runs the workload, injects faults on a seeded schedule,
 * bounded in count and wall time, recovers after each (restarts brokers IT stopped, remounts dead shares), drains,
 * and hands the ledger, the watcher, the brokers' role and exit logs and the fault log to report.ts.
 *
 * It never hides a failure it did not cause: a broker that exits on its own is not restarted (it is counted as a
 * self exit and stays down), and every fault records the window in which step-downs are expected, so a step-down
 * outside every such window (or during CPU starvation, where none is expected) is counted as spurious.
 *
 * It owns the fault semantics (what each fault does, what it waits for, which numbers it measures) and the cleanup
 * of everything it started (children, mounts, temp dirs). It never works around a product failure: a fault whose
 * expected reaction does not come within its bound is recorded as such and the run goes on.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BrokerProc, pickPorts } from './broker-proc.ts'
import { stompConnected as stompAnswers, tcpAccepts } from '../../src/testing/net-probe.ts'
import { sleep } from '../../src/testing/until.ts'
import { PrimaryWatcher } from './primary-watcher.ts'
import { SeededRandom } from '../../src/lib/random.ts'
import { SharedLab, bindfsAvailable } from './shared-lab.ts'
import { Workload } from './workload.ts'
import { buildReport, type ChaosReport, type FaultRecord } from './report.ts'
import { CpuHogs } from '../bench-lib/cpu-hogs.ts'

export type FaultKind =
  | 'kill-primary'
  | 'stop-primary'
  | 'delete-lock'
  | 'replace-lock'
  | 'disk-full'
  | 'hang-share'
  | 'kill-share'
  | 'lying-locks'
  | 'cpu-starvation'
  | 'share-blink'
export const FAULT_KINDS: readonly FaultKind[] = [
  'kill-primary',
  'stop-primary',
  'delete-lock',
  'replace-lock',
  'disk-full',
  'hang-share',
  'kill-share',
  'lying-locks',
  'cpu-starvation',
  'share-blink',
]
/** Wall-time budget of the short profile (the CI test uses it too). */
export const SHORT_MAX_SECONDS = 150

/** Kinds the short profile (CI) always includes, even when asked for fewer faults than there are kinds. */
export const SHORT_PROFILE_MUST: readonly FaultKind[] = ['cpu-starvation', 'share-blink']

export interface ChaosOptions {
  profile: 'short' | 'long'
  brokers: number
  faults: number
  maxSeconds: number
  bindfs: 'on' | 'off' | 'auto'
  seed: number
  /** Command that runs sfbroker, e.g. ['dist/sfbroker'] or [process.execPath, 'src/main.ts']. */
  binary: string[]
  adapter: 'kahaDB' | 'levelDB' | 'amq'
  keepAliveMs: number
  /** Keep the lab directory (logs, store) after the run. */
  keep: boolean
  /** Busy-loop processes of the cpu-starvation fault (default 4). */
  cpuHogs?: number
  /** Only these fault kinds (default: every kind the lab supports). */
  kinds?: readonly FaultKind[]
  /** Progress lines (default: stdout). */
  log?: (line: string) => void
}

/** Bounds of every wait, in ms (generous: a loaded 2-core machine must not turn a slow reaction into a verdict). */
const BOUND = {
  takeoverMs: 20_000,
  stepDownMs: 10_000,
  diskFullMs: 15_000,
  replicaMs: 15_000,
  drainQuietMs: 8_000,
  drainMaxMs: 45_000,
  /** After the share returns, a broker must serve again within this (issue 12). */
  shareReturnMs: 2_000,
}

/** Fault weights of the long profile (kill -9 dominates, as in real life). */
const WEIGHTS: Record<FaultKind, number> = {
  'kill-primary': 34,
  'stop-primary': 7,
  'delete-lock': 7,
  'replace-lock': 7,
  'disk-full': 7,
  'hang-share': 8,
  'kill-share': 8,
  'lying-locks': 7,
  'cpu-starvation': 8,
  'share-blink': 7,
}

/**
 * Step-downs within this long after a fault ended are still that fault's (detection runs on keep-alive ticks and
 * backoffs); later ones, with no fault in progress, are spurious.
 */
export function stepDownGraceMs(keepAliveMs: number): number {
  return Math.max(3000, 4 * keepAliveMs)
}

export function planFaults(
  kinds: readonly FaultKind[],
  count: number,
  profile: 'short' | 'long',
  rnd: SeededRandom,
): FaultKind[] {
  const plan: FaultKind[] = []
  if (profile === 'short') {
    // One of each available kind first (so a short run covers everything; the SHORT_PROFILE_MUST kinds even when
    // fewer faults than kinds are asked for), then kill -9s.
    const must = kinds.filter((k) => SHORT_PROFILE_MUST.includes(k))
    const rest = rnd.shuffle(kinds.filter((k) => !SHORT_PROFILE_MUST.includes(k)))
    plan.push(...[...must, ...rest].slice(0, count))
    while (plan.length < count) plan.push('kill-primary')
    return rnd.shuffle(plan)
  }
  const total = kinds.reduce((a, k) => a + WEIGHTS[k], 0)
  for (let i = 0; i < count; i++) {
    let x = rnd.next() * total
    let pick = kinds[0]!
    for (const k of kinds) {
      x -= WEIGHTS[k]
      if (x < 0) {
        pick = k
        break
      }
    }
    plan.push(pick)
  }
  return plan
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const say = o.log ?? ((l: string) => process.stdout.write(l + '\n'))
  const t0 = Date.now()
  const el = () => ((Date.now() - t0) / 1000).toFixed(1).padStart(6) + 's'
  const rnd = new SeededRandom(o.seed)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-chaos-'))
  const useBindfs = o.bindfs === 'on' || (o.bindfs === 'auto' && bindfsAvailable())
  if (o.bindfs === 'on' && !bindfsAvailable())
    throw new Error('--bindfs on: bindfs or /dev/fuse is not available (Debian: apt-get install bindfs fuse3)')
  const lab = new SharedLab(root, useBindfs ? o.brokers : 0, true, 192 << 20, true)
  const skipped: Record<string, string> = {}
  if (!useBindfs)
    for (const k of ['hang-share', 'kill-share', 'lying-locks', 'share-blink'])
      skipped[k] = 'needs bindfs (--bindfs on)'
  if (!lab.sizeLimited) skipped['disk-full'] = `no size-limited filesystem: ${lab.tmpfsError ?? 'tmpfs not mounted'}`
  const kinds = FAULT_KINDS.filter((k) => !(k in skipped) && (!o.kinds || o.kinds.includes(k)))
  if (kinds.length === 0)
    throw new Error(
      `no fault kind left to inject (asked: ${o.kinds?.join(',') ?? 'all'}; skipped: ${Object.keys(skipped).join(', ') || 'none'})`,
    )
  const plan = planFaults(kinds, o.faults, o.profile, rnd)
  const ports = await pickPorts(o.brokers, () => rnd.next())
  fs.mkdirSync(path.join(root, 'logs'), { recursive: true })
  // Two configs per broker: its own mount (mode `hosts`) and the mount every broker shares (mode `common`).
  const commonIndex = lab.commonIndex
  const configs = ports.map((port, i) => {
    const own = path.join(root, `b${i}.json`)
    writeConfig(own, lab.dir(i), port, i, o)
    const common = path.join(root, `b${i}-common.json`)
    if (commonIndex !== null) writeConfig(common, lab.dir(commonIndex), port, i, o)
    return { hosts: own, common }
  })
  let mode: 'hosts' | 'common' = 'hosts'
  const brokers: BrokerProc[] = ports.map(
    (port, i) => new BrokerProc(i, port, configs[i]!.hosts, o.binary, path.join(root, 'logs', `b${i}.log`)),
  )
  const watcher = new PrimaryWatcher(ports, 10, 50)
  const faults: FaultRecord[] = []
  let workload: Workload | null = null
  let restarts = 0
  const cpuHogs = o.cpuHogs ?? 4
  let hogs: CpuHogs | null = null
  const grace = stepDownGraceMs(o.keepAliveMs)
  say(
    `${el()} lab ${root}: ${o.brokers} brokers on ports ${ports.join(', ')}, ${useBindfs ? 'one bindfs mount each (and one shared by all for share-blink)' : 'one directory, no bindfs'}, ${lab.sizeLimited ? 'tmpfs store (disk-full for real)' : 'no tmpfs'}, adapter ${o.adapter}, keep-alive ${o.keepAliveMs} ms, seed ${o.seed}`,
  )
  for (const [k, why] of Object.entries(skipped)) say(`${el()} fault kind ${k} skipped: ${why}`)

  /** Brokers answering STOMP CONNECTED right now (stopped ones are not probed). */
  const answering = async (timeoutMs = 300): Promise<BrokerProc[]> => {
    const live = brokers.filter((b) => b.alive && !b.stopped)
    const up = await Promise.all(live.map((b) => stompAnswers(b.port, timeoutMs)))
    return live.filter((_, i) => up[i])
  }

  /** Wait until some broker answers STOMP; returns it and the ms waited, or null after boundMs. */
  const awaitPrimary = async (boundMs: number, exclude?: BrokerProc): Promise<{ b: BrokerProc; ms: number } | null> => {
    const start = Date.now()
    while (Date.now() - start < boundMs) {
      const live = brokers.filter((b) => b !== exclude && b.alive && !b.stopped)
      const up = await Promise.all(live.map((b) => stompAnswers(b.port, 250)))
      const i = up.indexOf(true)
      if (i >= 0) return { b: live[i]!, ms: Date.now() - start }
      await sleep(10)
    }
    return null
  }

  /** Wait until `b` no longer completes TCP connects; ms waited, or null after boundMs. */
  const awaitStepDown = async (b: BrokerProc, boundMs: number): Promise<number | null> => {
    const start = Date.now()
    while (Date.now() - start < boundMs) {
      if (!b.alive || !(await tcpAccepts(b.port, 100))) return Date.now() - start
      await sleep(10)
    }
    return null
  }

  /**
   * Start a broker the harness stopped again; it must come up as a replica while another broker is primary. A
   * broker that exited on its own is left down (a counted self exit): restarting it would hide the failure.
   */
  const restart = async (b: BrokerProc, note: string[]): Promise<void> => {
    if (b.alive) return
    if (!b.mayRestart) {
      const e = b.exits[b.exits.length - 1]!
      if (!selfExitNoted.has(e)) {
        selfExitNoted.add(e)
        note.push(`${b.name} exited on its own (${e.signal ?? `code ${e.code}`}): not restarted`)
      }
      return
    }
    const rolesBefore = b.roles.length
    b.start()
    restarts++
    const start = Date.now()
    while (Date.now() - start < BOUND.replicaMs) {
      const r = b.roles.slice(rolesBefore).map((x) => x.role)
      if (r.includes('replica') || r.includes('primary') || !b.alive) break
      await sleep(20)
    }
    const r = b.roles.slice(rolesBefore).map((x) => x.role)
    note.push(
      `${b.name} restarted → ${r.includes('replica') ? 'replica' : r.includes('primary') ? 'primary' : b.alive ? 'no role yet' : 'exited'}`,
    )
  }

  const selfExitNoted = new Set<object>()

  const restartDead = async (note: string[]): Promise<void> => {
    for (const b of brokers) if (!b.alive) await restart(b, note)
  }

  /**
   * Move every broker to its own mount (`hosts`) or to the mount all share (`common`): stop the brokers the harness
   * may restart, switch their config, start the first alone, then the others. Brokers that exited on their own
   * stay down.
   */
  const ensureMode = async (want: 'hosts' | 'common', note: string[]): Promise<void> => {
    if (mode === want || commonIndex === null) return
    await Promise.all(brokers.map((b) => b.terminate(5000)))
    mode = want
    for (let i = 0; i < brokers.length; i++)
      brokers[i]!.configFile = want === 'common' ? configs[i]!.common : configs[i]!.hosts
    const startable = brokers.filter((b) => b.mayRestart)
    const first = startable[0]
    if (first) {
      first.start()
      restarts++
      await awaitPrimary(BOUND.takeoverMs)
    }
    for (const b of startable.slice(1)) await restart(b, [])
    note.push(
      `lab switched to ${want === 'common' ? 'one mount shared by all brokers' : 'one mount per broker'} (${startable.length} brokers restarted)`,
    )
  }

  const cleanup = async () => {
    watcher.stop()
    await hogs?.stop().catch(() => undefined)
    await workload?.close().catch(() => undefined)
    await Promise.allSettled(brokers.map((b) => b.terminate(3000)))
    for (const b of brokers) b.close()
    lab.cleanup()
    if (!o.keep) fs.rmSync(root, { recursive: true, force: true })
  }

  try {
    // Start the first broker alone so the startup order is deterministic, then the replicas.
    brokers[0]!.start()
    if (!(await awaitPrimary(BOUND.takeoverMs)))
      throw new Error(`no broker answered STOMP within ${BOUND.takeoverMs} ms after start; see ${brokers[0]!.logFile}`)
    const note: string[] = []
    for (const b of brokers.slice(1)) await restart(b, note)
    restarts -= brokers.length - 1
    say(`${el()} started: ${note.join(', ')}`)
    watcher.start()
    workload = new Workload({ ports, seed: o.seed, paceMs: 20, bodyBytes: 256, timeoutMs: 20_000 })
    await workload.start()
    say(`${el()} workload running`)
    await sleep(1500)

    const deadline = t0 + o.maxSeconds * 1000 - (BOUND.drainMaxMs + 10_000)
    const defaultExcuse: Partial<Record<FaultKind, FaultRecord['excuse']>> = {
      'kill-primary': 'target',
      'cpu-starvation': 'none',
    }
    for (let n = 0; n < plan.length; n++) {
      if (Date.now() > deadline) {
        say(`${el()} time budget reached: ${n} of ${plan.length} faults injected`)
        break
      }
      const kind = plan[n]!
      if (brokers.every((b) => !b.alive && !b.mayRestart)) {
        say(`${el()} every broker has exited on its own (none is restarted): ${n} of ${plan.length} faults injected`)
        break
      }
      const found = await awaitPrimary(BOUND.takeoverMs)
      if (!found) {
        const at = Date.now()
        // Not injected: its window is empty (it must excuse no step-down).
        faults.push({
          kind,
          at,
          endAt: at,
          excuse: 'none',
          target: '-',
          ok: false,
          notes: ['no primary before the fault'],
        })
        say(`${el()} fault ${n + 1}/${plan.length} ${kind}: no primary answers; skipping`)
        continue
      }
      const p = found.b
      const rec: FaultRecord = {
        kind,
        at: Date.now(),
        target: p.name,
        ok: true,
        notes: [],
        excuse: defaultExcuse[kind] ?? 'all',
      }
      faults.push(rec)
      await inject(kind, p, rec)
      rec.endAt = Date.now()
      say(
        `${el()} fault ${String(n + 1).padStart(3)}/${plan.length} ${kind.padEnd(12)} ${rec.target}: ${rec.notes.join('; ')}${rec.ok ? '' : '  <-- FAILED'}`,
      )
      await sleep(o.profile === 'short' ? 800 : 1500)
    }

    // Drain: stop producing, then wait until every receipted message arrived or nothing arrived for a while.
    const note2: string[] = []
    await restartDead(note2)
    if (!(await awaitPrimary(BOUND.takeoverMs))) say(`${el()} WARNING: no primary before the drain`)
    await sleep(1000)
    await workload.stopProducing()
    const drainStart = Date.now()
    while (Date.now() - drainStart < BOUND.drainMaxMs) {
      if (workload.missing() === 0 && Date.now() - workload.ledger.lastDeliveryAt > 500) break
      if (Date.now() - Math.max(workload.ledger.lastDeliveryAt, drainStart) > BOUND.drainQuietMs) break
      await sleep(100)
    }
    say(`${el()} drained in ${Date.now() - drainStart} ms (${workload.missing()} receipted messages not delivered)`)
    watcher.stop()
    const report = buildReport({
      options: o,
      seed: o.seed,
      root: o.keep ? root : null,
      durationMs: Date.now() - t0,
      planned: plan.length,
      faults,
      skipped,
      ledger: workload.ledger,
      watcher,
      brokers,
      restarts,
      bindfs: useBindfs,
      diskFull: lab.sizeLimited,
      stepDownGraceMs: grace,
    })
    return report
  } finally {
    await cleanup()
  }

  // ------------------------------------------------------------------ faults

  async function inject(kind: FaultKind, target: BrokerProc, rec: FaultRecord): Promise<void> {
    let p: BrokerProc | null = target
    const ka = o.keepAliveMs
    switch (kind) {
      case 'kill-primary': {
        // kill -9 → another broker answers STOMP CONNECTED: the takeover time.
        const t = Date.now()
        p.signal('SIGKILL')
        const got = await awaitPrimary(BOUND.takeoverMs, p)
        if (got) {
          rec.takeoverMs = Date.now() - t
          rec.notes.push(`${got.b.name} took over in ${rec.takeoverMs} ms`)
        } else {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push(`no broker took over within ${BOUND.takeoverMs} ms`)
        }
        await p.waitExit(5000)
        await restartDead(rec.notes)
        return
      }
      case 'stop-primary': {
        // SIGSTOP past the keep-alive and eventLoopStallMax (but under the stall watchdog's 3 × eventLoopStallMax),
        // then SIGCONT. With honest locks nobody can take the lock from a stopped process, so a primary that finds
        // its lock still held and no newer epoch may go on serving (a late event loop is no evidence, issue 12), or
        // it may step down; either is fine. What must not happen: serving on after another broker claimed a newer
        // epoch meanwhile, or no primary at all afterwards.
        // The kernel completes connects for a stopped process: its port is excluded from the watcher meanwhile.
        const stopMs = Math.max(4 * ka, STALL_MAX_MS + 1000)
        watcher.exclude(p.port, true)
        const rolesBefore = p.roles.length
        const epochsBefore = brokers.map((b) => b.epochs.length)
        p.signal('SIGSTOP')
        await sleep(stopMs)
        p.signal('SIGCONT')
        watcher.exclude(p.port, false)
        const t = Date.now()
        // Long enough for a keep-alive re-check (period + timeout) twice over.
        const settleMs = 4 * ka + 1000
        let down = await awaitStepDown(p, settleMs)
        const others = () => brokers.filter((b, i) => b !== p && b.epochs.length > epochsBefore[i]!).map((b) => b.name)
        if (down === null && others().length > 0) down = await awaitStepDown(p, BOUND.stepDownMs - settleMs)
        const steppedDown = p.roles.slice(rolesBefore).some((r) => r.role !== 'primary')
        if (down !== null) {
          rec.notes.push(
            `stopped ${stopMs} ms; closed its port ${Date.now() - t} ms after SIGCONT${!p.alive ? ` (exited: ${p.exits[p.exits.length - 1]?.signal ?? `code ${p.exits[p.exits.length - 1]?.code}`})` : steppedDown ? ' (stepped down)' : ''}`,
          )
        } else if (others().length > 0) {
          rec.ok = false
          rec.resumedServing = true
          rec.notes.push(
            `stopped ${stopMs} ms, then still serving ${BOUND.stepDownMs} ms after SIGCONT although ${others().join(', ')} claimed a newer epoch`,
          )
        } else {
          rec.notes.push(
            `stopped ${stopMs} ms; resumed serving after SIGCONT (still held the lock, nobody claimed a newer epoch)`,
          )
        }
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (got) {
          if (got.b !== p || down !== null) rec.notes.push(`${got.b.name} primary ${Date.now() - t} ms after SIGCONT`)
        } else {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary afterwards')
        }
        await restartDead(rec.notes)
        return
      }
      case 'delete-lock':
      case 'replace-lock': {
        // The lock file disappears or is replaced by another file: the primary must stop serving within 2 × keep-alive.
        const lockPath = path.join(lab.real, 'lock')
        const t = Date.now()
        if (kind === 'delete-lock') fs.rmSync(lockPath, { force: true })
        else {
          const tmp = path.join(lab.real, 'lock.chaos-new')
          fs.writeFileSync(tmp, 'not a holder record\n')
          fs.renameSync(tmp, lockPath)
        }
        await stepDownThenPrimary(p, rec, t, BOUND.stepDownMs)
        await restartDead(rec.notes)
        return
      }
      case 'disk-full': {
        // The store's filesystem is full (a real ENOSPC on a tmpfs): the primary's writes fail, it must give the
        // lock up. Space comes back afterwards and some broker serves again.
        const t = Date.now()
        const bytes = lab.fill()
        rec.notes.push(`filled ${(bytes / 1048576).toFixed(1)} MiB`)
        const down = await awaitStepDown(p, BOUND.diskFullMs)
        if (down === null) {
          rec.ok = false
          rec.neverSteppedDown = true
          rec.notes.push(`still serving ${BOUND.diskFullMs} ms after the disk filled`)
        } else {
          rec.stepDownMs = down
          rec.notes.push(`stopped serving after ${down} ms`)
        }
        lab.release()
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (got) rec.notes.push(`${got.b.name} primary ${Date.now() - t} ms after the fill`)
        else {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary after space came back')
        }
        await restartDead(rec.notes)
        return
      }
      case 'hang-share': {
        // The primary's share hangs (its bindfs daemon SIGSTOPped): it must stop serving within 2 × keep-alive
        // although its I/O hangs. The hang keeps the forwarded lock held, so a takeover comes only after resume.
        if (mode !== 'hosts') {
          p = await toHostsMode(p, rec)
          if (!p) return
        }
        const t = Date.now()
        lab.hang(p.index)
        await stepDownOnly(p, rec, t)
        await sleep(1000)
        lab.resume(p.index)
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (got) rec.notes.push(`${got.b.name} primary ${Date.now() - t} ms after the hang began`)
        else {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary after the share came back')
        }
        await restartDead(rec.notes)
        return
      }
      case 'kill-share': {
        // The primary's share is gone (bindfs daemon killed: ENOTCONN; the forwarded lock is released).
        if (mode !== 'hosts') {
          p = await toHostsMode(p, rec)
          if (!p) return
        }
        const t = Date.now()
        lab.kill(p.index)
        await stepDownThenPrimary(p, rec, t, BOUND.stepDownMs)
        // Bring the share back. The broker should still run (it retries as a replica) on a dead mount: SIGTERM must
        // still stop it promptly (issue 3: SIGTERM works in every state), then it restarts on the new mount. If it
        // exited on its own meanwhile, that is a self exit and it stays down.
        if (!p.alive && !p.mayRestart) rec.notes.push(`${p.name} exited on its own on the dead share`)
        if (p.alive) {
          p.signal('SIGTERM')
          if (!(await p.waitExit(5000))) {
            rec.sigtermHang = true
            rec.notes.push('SIGTERM on the dead share did not stop it within 5000 ms')
          }
        }
        await p.terminate(5000)
        lab.remount(p.index)
        await restartDead(rec.notes)
        return
      }
      case 'lying-locks': {
        // Every broker restarts on a mount whose locks do not reach the others: several believe they are primary.
        // Epoch fencing must keep every receipted message and let one broker acknowledge writes at a time.
        // Keep-alive stays as configured: the flap rate (epochs claimed per minute) is what damping must keep low.
        const lyingMs = o.profile === 'short' ? 5000 : 8000
        watcher.phase = 'lying'
        await Promise.all(brokers.map((b) => b.terminate(5000)))
        mode = 'hosts'
        for (let i = 0; i < brokers.length; i++) brokers[i]!.configFile = configs[i]!.hosts
        for (let i = 0; i < brokers.length; i++) lab.remount(i, false)
        const startable = brokers.filter((b) => b.mayRestart)
        const epochsBefore = brokers.map((b) => b.epochs.length)
        const lyingFrom = Date.now()
        for (const b of startable) b.start()
        restarts += startable.length
        await sleep(lyingMs)
        const lyingTo = Date.now()
        const claimed = brokers.reduce(
          (a, b, i) => a + b.epochs.slice(epochsBefore[i]).filter((e) => e.at >= lyingFrom && e.at <= lyingTo).length,
          0,
        )
        rec.lying = {
          epochsClaimed: claimed,
          windowMs: lyingTo - lyingFrom,
          flapsPerMin: Math.round((claimed / ((lyingTo - lyingFrom) / 60_000)) * 10) / 10,
        }
        const primaries = brokers.filter((b) => b.alive && b.role === 'primary').map((b) => b.name)
        rec.notes.push(
          `${lyingMs} ms on lying mounts: ${claimed} epochs claimed (${rec.lying.flapsPerMin}/min; primaries at the end: ${primaries.join(', ') || 'none'})`,
        )
        await Promise.all(brokers.map((b) => b.terminate(5000)))
        for (let i = 0; i < brokers.length; i++) lab.remount(i, true)
        watcher.phase = 'normal'
        const t = Date.now()
        const first = brokers.find((b) => b.mayRestart)
        if (first) {
          first.start()
          restarts += 1
        }
        const got = first ? await awaitPrimary(BOUND.takeoverMs) : null
        if (!got) {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary after honest remount')
        } else rec.notes.push(`honest again: ${got.b.name} primary in ${Date.now() - t} ms`)
        await restartDead(rec.notes)
        return
      }
      case 'cpu-starvation': {
        // Busy-loop hogs (more than the cores) while the workload runs, and SIGSTOP bursts of the primary shorter
        // than keepAliveTimeout: a late event loop is no evidence of a lost lock, so no broker may step down (any
        // step-down in this window counts as spurious: the window excuses none) and the primary stays the primary.
        // Begin only after the previous fault's grace has passed, so no step-down here can be blamed on it.
        const prevEnd = faults.length > 1 ? (faults[faults.length - 2]!.endAt ?? 0) : 0
        const settle = prevEnd + grace - Date.now()
        if (settle > 0) await sleep(settle)
        rec.at = Date.now()
        const durMs = o.profile === 'short' ? 6000 : rnd.int(10_000, 20_000)
        const rolesBefore = brokers.map((b) => b.roles.length)
        const receiptsBefore = workload!.ledger.receipts.size
        hogs = new CpuHogs(cpuHogs, durMs + 10_000)
        const bursts: number[] = []
        const t = Date.now()
        try {
          while (Date.now() - t < durMs && p.alive) {
            await sleep(rnd.int(600, 1400))
            if (Date.now() - t >= durMs || !p.alive) break
            // 40–85 % of keepAliveTimeout; the real length is measured (the harness is starved too).
            const want = Math.floor(ka * (0.4 + 0.45 * rnd.next()))
            watcher.exclude(p.port, true)
            const s0 = performance.now()
            p.signal('SIGSTOP')
            await sleep(want)
            p.signal('SIGCONT')
            bursts.push(Math.round(performance.now() - s0))
            watcher.exclude(p.port, false)
          }
        } finally {
          p.signal('SIGCONT')
          watcher.exclude(p.port, false)
          await hogs.stop()
          hogs = null
        }
        const ranMs = Date.now() - t
        const downs = brokers.flatMap((b, i) =>
          b.roles
            .slice(rolesBefore[i])
            .filter((r) => r.role === 'stepping-down' && !r.stopAsked)
            .map((r) => `${b.name}: ${r.reason}`),
        )
        const receipted = workload!.ledger.receipts.size - receiptsBefore
        rec.starvation = {
          hogs: cpuHogs,
          ms: ranMs,
          bursts: bursts.length,
          burstMsMax: bursts.length ? Math.max(...bursts) : 0,
          stepDowns: downs.length,
          receipted,
        }
        rec.notes.push(
          `${cpuHogs} hogs for ${ranMs} ms, ${bursts.length} SIGSTOP bursts of ${bursts.length ? `${Math.min(...bursts)}–${Math.max(...bursts)}` : '-'} ms (keepAliveTimeout ${ka} ms), ${receipted} receipted meanwhile`,
        )
        if (bursts.some((b) => b >= ka))
          rec.notes.push(`a burst lasted ≥ keepAliveTimeout (the harness was starved too): step-downs here may be fair`)
        if (downs.length > 0) {
          rec.ok = false
          rec.notes.push(`${downs.length} step-down(s): ${downs.slice(0, 3).join(' | ')}`)
        }
        if (!p.alive) {
          rec.ok = false
          rec.notes.push(`${p.name} exited during the starvation`)
        }
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (!got) {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary afterwards')
        } else if (got.b !== p) rec.notes.push(`primary moved to ${got.b.name}`)
        await restartDead(rec.notes)
        return
      }
      case 'share-blink': {
        // The share every broker uses disappears (its one bindfs daemon killed: ENOTCONN for all) and comes back
        // after blinkMs. Brokers must stay up (a self exit is counted) and one must serve again within 2 s of the
        // share's return, without any restart by the harness.
        if (commonIndex === null) {
          rec.ok = false
          rec.notes.push('no common mount')
          return
        }
        await ensureMode('common', rec.notes)
        const found = await awaitPrimary(BOUND.takeoverMs)
        if (!found) {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary on the common mount')
          return
        }
        p = found.b
        rec.target = `${p.name} (share of all)`
        await sleep(1000)
        const blinkMs = o.profile === 'short' ? 3000 : rnd.int(5000, 30_000)
        const alive = brokers.filter((b) => b.alive).length
        const exitsBefore = brokers.map((b) => b.exits.length)
        const t = Date.now()
        lab.kill(commonIndex)
        const down = await awaitStepDown(p, blinkMs)
        if (down === null) {
          rec.servingThroughLoss = true
          rec.notes.push(`still serving when the share came back (${blinkMs} ms)`)
        } else {
          rec.stepDownMs = down
          rec.notes.push(`stopped serving after ${down} ms`)
        }
        const left = t + blinkMs - Date.now()
        if (left > 0) await sleep(left)
        lab.remount(commonIndex)
        const back = Date.now()
        const exitedMeanwhile = brokers.filter((b, i) => b.exits.slice(exitsBefore[i]).length > 0).map((b) => b.name)
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (got) {
          rec.shareReturnMs = Date.now() - back
          rec.notes.push(
            `share gone ${back - t} ms; ${got.b.name} served again ${rec.shareReturnMs} ms after the share returned`,
          )
          if (rec.shareReturnMs > BOUND.shareReturnMs) {
            rec.ok = false
            rec.shareReturnSlow = true
          }
        } else {
          rec.ok = false
          rec.failoverMissed = true
          rec.shareReturnSlow = true
          rec.notes.push(`share gone ${back - t} ms; no broker served within ${BOUND.takeoverMs} ms of its return`)
        }
        if (exitedMeanwhile.length > 0) {
          rec.ok = false
          rec.notes.push(`exited during the blink: ${exitedMeanwhile.join(', ')} (of ${alive} running; not restarted)`)
        }
        // No restart here: brokers that exited on their own stay down (restartDead skips them).
        return
      }
    }
  }

  /** Back to one mount per broker (for the per-host share faults); the primary may change: returns the new one. */
  async function toHostsMode(p: BrokerProc, rec: FaultRecord): Promise<BrokerProc | null> {
    await ensureMode('hosts', rec.notes)
    const got = await awaitPrimary(BOUND.takeoverMs)
    if (!got) {
      rec.ok = false
      rec.failoverMissed = true
      rec.notes.push('no primary after moving back to one mount per broker')
      return null
    }
    rec.target = got.b.name
    void p
    return got.b
  }

  async function stepDownOnly(p: BrokerProc, rec: FaultRecord, t: number): Promise<void> {
    const down = await awaitStepDown(p, BOUND.stepDownMs)
    if (down === null) {
      rec.ok = false
      rec.neverSteppedDown = true
      rec.notes.push(`still serving ${BOUND.stepDownMs} ms later`)
    } else {
      rec.stepDownMs = Date.now() - t
      rec.notes.push(`stopped serving after ${rec.stepDownMs} ms`)
    }
  }

  async function stepDownThenPrimary(p: BrokerProc, rec: FaultRecord, t: number, boundMs: number): Promise<void> {
    await stepDownOnly(p, rec, t)
    void boundMs
    const got = await awaitPrimary(BOUND.takeoverMs)
    if (got) rec.notes.push(`${got.b.name} primary ${Date.now() - t} ms after the fault`)
    else {
      rec.ok = false
      rec.failoverMissed = true
      rec.notes.push('no primary afterwards')
    }
  }
}

/** eventLoopStallMax of the harness's brokers: a SIGSTOP longer than this must make the primary give up. */
export const STALL_MAX_MS = 2000

function writeConfig(file: string, dir: string, port: number, i: number, o: ChaosOptions): void {
  const adapter = { kahaDB: 'kahaDB', levelDB: 'levelDB', amq: 'amqPersistenceAdapter' }[o.adapter]
  const cfg = {
    brokerName: 'chaos',
    nodeId: `b${i}`,
    dataDirectory: dir,
    schedulerSupport: true,
    schedulerDirectory: path.join(dir, 'scheduler'),
    persistenceAdapter: {
      [adapter]: {
        directory: dir,
        lockKeepAlivePeriod: o.keepAliveMs,
        keepAliveTimeout: o.keepAliveMs,
        lockAcquireSleepInterval: 500,
        eventLoopStallMax: STALL_MAX_MS,
        journalMaxFileLength: 4 << 20,
      },
    },
    transportConnectors: [{ name: 'stomp', uri: `stomp://127.0.0.1:${port}` }],
  }
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2))
}
