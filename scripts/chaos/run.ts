/**
 * runChaos: the chaos harness's orchestration. Starts N brokers (the compiled binary) on one shared directory
 * (through one bindfs mount per broker when available, so each broker is a "host"), runs the workload, injects
 * faults on a seeded schedule, bounded in count and wall time, recovers after each (restarts dead brokers as
 * replicas, remounts dead shares), drains, and hands the ledger, the watcher and the fault log to report.ts.
 *
 * It owns the fault semantics (what each fault does, what it waits for, which numbers it measures) and the cleanup
 * of everything it started (children, mounts, temp dirs). It never works around a product failure: a fault whose
 * expected reaction does not come within its bound is recorded as such and the run goes on.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BrokerProc, pickPorts } from './broker-proc.ts'
import { sleep, stompConnected as stompAnswers, tcpAccepts } from '../../src/testing/net-probe.ts'
import { PrimaryWatcher } from './primary-watcher.ts'
import { SeededRandom } from '../../src/lib/random.ts'
import { SharedLab, bindfsAvailable } from './shared-lab.ts'
import { Workload } from './workload.ts'
import { buildReport, type ChaosReport, type FaultRecord } from './report.ts'

export type FaultKind = 'kill-primary' | 'stop-primary' | 'delete-lock' | 'replace-lock' | 'disk-full' | 'hang-share' | 'kill-share' | 'lying-locks'
export const FAULT_KINDS: readonly FaultKind[] = ['kill-primary', 'stop-primary', 'delete-lock', 'replace-lock', 'disk-full', 'hang-share', 'kill-share', 'lying-locks']

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
}

/** Fault weights of the long profile (kill -9 dominates, as in real life). */
const WEIGHTS: Record<FaultKind, number> = {
  'kill-primary': 40, 'stop-primary': 8, 'delete-lock': 8, 'replace-lock': 8, 'disk-full': 8, 'hang-share': 10, 'kill-share': 10, 'lying-locks': 8,
}

export function planFaults(kinds: readonly FaultKind[], count: number, profile: 'short' | 'long', rnd: SeededRandom): FaultKind[] {
  const plan: FaultKind[] = []
  if (profile === 'short') {
    // One of each available kind first (so a short run covers everything), then kill -9s.
    plan.push(...rnd.shuffle([...kinds]).slice(0, count))
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
  if (o.bindfs === 'on' && !bindfsAvailable()) throw new Error('--bindfs on: bindfs or /dev/fuse is not available (Debian: apt-get install bindfs fuse3)')
  const lab = new SharedLab(root, useBindfs ? o.brokers : 0, true, 192 << 20)
  const skipped: Record<string, string> = {}
  if (!useBindfs) for (const k of ['hang-share', 'kill-share', 'lying-locks']) skipped[k] = 'needs bindfs (--bindfs on)'
  if (!lab.sizeLimited) skipped['disk-full'] = `no size-limited filesystem: ${lab.tmpfsError ?? 'tmpfs not mounted'}`
  const kinds = FAULT_KINDS.filter((k) => !(k in skipped))
  const plan = planFaults(kinds, o.faults, o.profile, rnd)
  const ports = await pickPorts(o.brokers, () => rnd.next())
  fs.mkdirSync(path.join(root, 'logs'), { recursive: true })
  const brokers: BrokerProc[] = ports.map((port, i) => {
    const cfg = path.join(root, `b${i}.json`)
    writeConfig(cfg, lab.dir(i), port, i, o)
    return new BrokerProc(i, port, cfg, o.binary, path.join(root, 'logs', `b${i}.log`))
  })
  const watcher = new PrimaryWatcher(ports, 10, 50)
  const faults: FaultRecord[] = []
  let workload: Workload | null = null
  let restarts = 0
  say(`${el()} lab ${root}: ${o.brokers} brokers on ports ${ports.join(', ')}, ${useBindfs ? 'one bindfs mount each' : 'one directory, no bindfs'}, ${lab.sizeLimited ? 'tmpfs store (disk-full for real)' : 'no tmpfs'}, adapter ${o.adapter}, keep-alive ${o.keepAliveMs} ms, seed ${o.seed}`)
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

  /** Start a dead broker again; it must come up as a replica while another broker is primary. */
  const restart = async (b: BrokerProc, note: string[]): Promise<void> => {
    if (b.alive) return
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
    note.push(`${b.name} restarted → ${r.includes('replica') ? 'replica' : r.includes('primary') ? 'primary' : b.alive ? 'no role yet' : 'exited'}`)
  }

  const restartDead = async (note: string[]): Promise<void> => {
    for (const b of brokers) if (!b.alive) await restart(b, note)
  }

  const cleanup = async () => {
    watcher.stop()
    await workload?.close().catch(() => undefined)
    await Promise.allSettled(brokers.map((b) => b.terminate(3000)))
    for (const b of brokers) b.close()
    lab.cleanup()
    if (!o.keep) fs.rmSync(root, { recursive: true, force: true })
  }

  try {
    // Start the first broker alone so the startup order is deterministic, then the replicas.
    brokers[0]!.start()
    if (!(await awaitPrimary(BOUND.takeoverMs))) throw new Error(`no broker answered STOMP within ${BOUND.takeoverMs} ms after start; see ${brokers[0]!.logFile}`)
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
    for (let n = 0; n < plan.length; n++) {
      if (Date.now() > deadline) {
        say(`${el()} time budget reached: ${n} of ${plan.length} faults injected`)
        break
      }
      const kind = plan[n]!
      const found = await awaitPrimary(BOUND.takeoverMs)
      if (!found) {
        faults.push({ kind, at: Date.now(), target: '-', ok: false, notes: ['no primary before the fault'] })
        say(`${el()} fault ${n + 1}/${plan.length} ${kind}: no primary answers; skipping`)
        continue
      }
      const p = found.b
      const rec: FaultRecord = { kind, at: Date.now(), target: p.name, ok: true, notes: [] }
      faults.push(rec)
      await inject(kind, p, rec)
      say(`${el()} fault ${String(n + 1).padStart(3)}/${plan.length} ${kind.padEnd(12)} ${p.name}: ${rec.notes.join('; ')}${rec.ok ? '' : '  <-- FAILED'}`)
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
      options: o, seed: o.seed, root: o.keep ? root : null, durationMs: Date.now() - t0, planned: plan.length, faults, skipped,
      ledger: workload.ledger, watcher, brokers, restarts, bindfs: useBindfs, diskFull: lab.sizeLimited,
    })
    return report
  } finally {
    await cleanup()
  }

  // ------------------------------------------------------------------ faults

  async function inject(kind: FaultKind, p: BrokerProc, rec: FaultRecord): Promise<void> {
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
        // SIGSTOP past the keep-alive (and the stall bound), SIGCONT: it must step down, not resume serving.
        // The kernel completes connects for a stopped process: its port is excluded from the watcher meanwhile.
        const stopMs = Math.max(4 * ka, STALL_MAX_MS + 1000)
        watcher.exclude(p.port, true)
        const rolesBefore = p.roles.length
        p.signal('SIGSTOP')
        await sleep(stopMs)
        p.signal('SIGCONT')
        watcher.exclude(p.port, false)
        const t = Date.now()
        const down = await awaitStepDown(p, BOUND.stepDownMs)
        const steppedDown = p.roles.slice(rolesBefore).some((r) => r.role !== 'primary')
        if (down === null) {
          rec.ok = false
          rec.resumedServing = true
          rec.notes.push(`stopped ${stopMs} ms, then still serving ${BOUND.stepDownMs} ms after SIGCONT`)
        } else {
          rec.notes.push(`stopped ${stopMs} ms; closed its port ${Date.now() - t} ms after SIGCONT${steppedDown ? ' (stepped down)' : ''}`)
        }
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (got) rec.notes.push(`${got.b.name} primary ${Date.now() - t} ms after SIGCONT`)
        else {
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
        const t = Date.now()
        lab.kill(p.index)
        await stepDownThenPrimary(p, rec, t, BOUND.stepDownMs)
        // Bring the share back. The broker may still run (it retries as a replica) on a dead mount: SIGTERM must
        // still stop it promptly (issue 3: SIGTERM works in every state), then it restarts on the new mount.
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
        const lyingMs = o.profile === 'short' ? 5000 : 8000
        watcher.phase = 'lying'
        await Promise.all(brokers.map((b) => b.terminate(5000)))
        for (let i = 0; i < brokers.length; i++) lab.remount(i, false)
        for (const b of brokers) b.start()
        restarts += brokers.length
        await sleep(lyingMs)
        const primaries = brokers.filter((b) => b.role === 'primary').map((b) => b.name)
        rec.notes.push(`${lyingMs} ms on lying mounts (primaries at the end: ${primaries.join(', ') || 'none'})`)
        await Promise.all(brokers.map((b) => b.terminate(5000)))
        for (let i = 0; i < brokers.length; i++) lab.remount(i, true)
        watcher.phase = 'normal'
        const t = Date.now()
        brokers[0]!.start()
        const got = await awaitPrimary(BOUND.takeoverMs)
        if (!got) {
          rec.ok = false
          rec.failoverMissed = true
          rec.notes.push('no primary after honest remount')
        } else rec.notes.push(`honest again: ${got.b.name} primary in ${Date.now() - t} ms`)
        restarts += 1
        await restartDead(rec.notes)
        return
      }
    }
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
