/**
 * The election simulation's faults (simulation.ts): a seeded schedule of kill -9 (and restart), SIGSTOP pauses, CPU
 * starvation, lock file deleted or replaced, hung, failing and slow shares, and wall-clock jumps, every one drawn
 * from the schedule's SeededRandom so a seed replays exactly; the heal at the end of the fault period; and the
 * evidence each fault puts against a primary's term, with the loss deadline the invariants check.
 * It checks no invariant itself: the simulation does, from the deadlines and evidence recorded here.
 */
import type { SeededRandom } from '../../lib/random.ts'
import type { SimScheduler } from './sim-scheduler.ts'
import type { ShareMode, SimWorld } from './sim-share.ts'
import { LOSS_BOUND_MS, type SimNode } from './sim-node.ts'

/** What the faults act on, shared with the simulation that runs them. */
export interface FaultContext {
  readonly rng: SeededRandom
  readonly sched: SimScheduler
  readonly world: SimWorld
  readonly lying: boolean
  /** The nodes by index (a restart replaces its entry). */
  readonly nodes: SimNode[]
  readonly stats: { faults: number }
  log(line: string): void
  /** Start node `idx` afresh as `incarnation` (after a kill), with its writer. */
  restart(idx: number, incarnation: number): void
}

export class SimFaults {
  private readonly modes = new Map<SimNode, ShareMode>()

  constructor(private readonly c: FaultContext) {}

  /** Evidence against the targets' terms (a step-down may follow); `bound`: it must follow within LOSS_BOUND_MS. */
  evidence(targets: SimNode[], why: string, bound = true): void {
    const { sched } = this.c
    for (const t of targets) {
      t.evidenceAt = sched.now
      if (bound && t.role === 'primary' && t.epoch !== null && t.alive)
        t.deadlines.push({ at: sched.now + LOSS_BOUND_MS, epoch: t.epoch, why })
    }
  }

  /** Faults at random intervals (mean `everyMs`) from `at` until `untilMs`. */
  schedule(at: number, untilMs: number, everyMs: number): void {
    const { sched, rng } = this.c
    if (at > untilMs) return
    sched.at(at, () => {
      this.fault()
      this.schedule(sched.now + 1 + Math.floor(rng.next() * 2 * everyMs), untilMs, everyMs)
    })
  }

  /** End every fault: clocks resume at full speed without jumps, shares answer. */
  heal(): void {
    this.c.log('healing every fault')
    for (const node of this.c.nodes) {
      node.clock.resume()
      node.clock.starve(0, 0)
      // Lying locks rely on wall clocks agreeing within the keep-alive bound to tell a live holder from a dead one;
      // skew beyond it makes nodes depose each other (damped, not stopped): healing includes NTP.
      node.clock.resetJumps()
      if (this.modes.has(node)) node.port.setMode('ok')
      this.shareBack(node)
    }
    this.modes.clear()
  }

  // A share that came back before the node noticed: it may keep serving (that is the point of issue #12).
  private shareBack(t: SimNode): void {
    t.deadlines = t.deadlines.filter((d) => !d.why.startsWith('share'))
  }

  private setMode(targets: SimNode[], m: ShareMode, forMs: number): void {
    const { sched, log } = this.c
    for (const t of targets) {
      // A new mode ends the old one: a hang replaced by a slow share is a share that answers again.
      if (this.modes.has(t)) this.shareBack(t)
      t.port.setMode(m)
      this.modes.set(t, m)
    }
    sched.at(sched.now + forMs, () => {
      for (const t of targets) {
        if (this.modes.get(t) !== m) continue
        t.port.setMode('ok')
        this.modes.delete(t)
        this.shareBack(t)
        log(`n${t.idx} share back to ok`)
      }
    })
  }

  private fault(): void {
    const { rng, sched, world, lying, nodes, stats, log } = this.c
    stats.faults++
    const alive = nodes.filter((x) => x.alive)
    const target = alive.length ? rng.pick(alive) : null
    const kind = rng.pick([
      'kill',
      'pause',
      'starve',
      'delete-lock',
      'replace-lock',
      'hang',
      'fail',
      'slow',
      'jump',
      'hang-all',
      'fail-all',
    ] as const)
    const d = 300 + Math.floor(rng.next() * 5000)
    switch (kind) {
      case 'kill': {
        if (!target || alive.length < 2) return
        log(`FAULT kill -9 n${target.idx}`)
        target.alive = false
        target.clock.dead = true
        target.port.kill()
        sched.at(sched.now + 200 + Math.floor(rng.next() * 3000), () => {
          log(`restart n${target.idx}`)
          this.c.restart(target.idx, target.incarnation + 1)
        })
        return
      }
      case 'pause':
        if (!target) return
        log(`FAULT SIGSTOP n${target.idx} for ${d} ms`)
        target.clock.pause()
        target.disturbedUntil = Math.max(target.disturbedUntil, sched.now + d + LOSS_BOUND_MS)
        sched.at(sched.now + d, () => {
          log(`SIGCONT n${target.idx}`)
          target.clock.resume()
        })
        return
      case 'starve': {
        if (!target) return
        const extra = 50 + Math.floor(rng.next() * 1500)
        log(`FAULT starve n${target.idx} for ${d} ms (timers up to ${extra} ms late)`)
        target.clock.starve(sched.now + d, extra)
        target.disturbedUntil = Math.max(target.disturbedUntil, sched.now + d + LOSS_BOUND_MS + extra)
        return
      }
      case 'delete-lock':
        log('FAULT lock file deleted')
        world.deleteLock()
        this.evidence(nodes, 'lock deleted')
        return
      case 'replace-lock':
        log('FAULT lock file replaced')
        world.replaceLock()
        this.evidence(nodes, 'lock replaced')
        return
      case 'hang':
      case 'fail':
      case 'slow':
        if (!target) return
        log(`FAULT share ${kind} for n${target.idx} for ${d} ms`)
        this.setMode([target], kind === 'hang' ? 'hung' : kind === 'fail' ? 'failing' : 'slow', d)
        if (kind !== 'slow') this.evidence([target], `share ${kind}`)
        return
      case 'hang-all':
      case 'fail-all':
        log(`FAULT share ${kind} for every node for ${d} ms`)
        this.setMode(nodes, kind === 'hang-all' ? 'hung' : 'failing', d)
        this.evidence(nodes, `share ${kind}`)
        return
      case 'jump': {
        if (!target) return
        const ms = Math.floor((rng.next() - 0.5) * 6000)
        log(`FAULT clock of n${target.idx} jumps ${ms} ms`)
        target.clock.jump(ms)
        // On lying locks a jumped clock can make a live holder's record look stale to another node, which may
        // then claim an epoch: that claim, not the jump, is what the loss bound is about.
        if (lying) this.evidence(nodes, 'clock jump', false)
        return
      }
    }
  }
}
