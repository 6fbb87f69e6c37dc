/**
 * The election simulation (in the manner of TigerBeetle's VOPR and FoundationDB's simulator): 2–5 real Electors,
 * each on a NodeClock over one SimScheduler and a SimSharePort over one SimWorld, driven by a seeded schedule of
 * faults — kill -9 (and restart), SIGSTOP pauses, CPU starvation, lock file deleted or replaced, hung, failing and
 * slow shares, wall-clock jumps — on honest or lying locks. Every node that serves keeps "writing": it asks its
 * epoch fence before each acknowledgement, as the store does after each group commit.
 *
 * Invariants, checked as the schedule runs:
 *  - fence: no acknowledgement by epoch E whose fence check began after E+1 was claimed, and no two nodes
 *    acknowledge in one epoch;
 *  - loss bound: a primary whose lock file was deleted or replaced, whose share hung or failed, or whose epoch was
 *    superseded, is no longer primary within keep-alive period + timeout + slack (unless it was stopped or starved
 *    meanwhile: then the fence alone guards it, and the first invariant checks that);
 *  - no spurious step-down: on honest locks, a primary with no evidence against it (pauses and starvation are not
 *    evidence) never steps down;
 *  - no self-exit: no node ever ends on its own (the simulation never stops one; it only kills);
 *  - liveness: once every fault has healed, after a quiet period, exactly one node is primary and every other live
 *    node waits for the lock (a node whose share returned is eligible again).
 * The result carries a one-line-per-event trace; a failing seed replays exactly. The faults and the evidence they put
 * against a term are in sim-faults.ts; the node record and the timing bounds in sim-node.ts.
 */
import { Elector } from '../elector.ts'
import type { LockConfig } from '../../config/index.ts'
import type { Role } from '../types.ts'
import { SeededRandom } from '../../lib/random.ts'
import { SimScheduler, NodeClock } from './sim-scheduler.ts'
import { SimWorld, SimSharePort } from './sim-share.ts'
import { KEEPALIVE_MS, KEEPALIVE_TIMEOUT_MS, LOSS_BOUND_MS, type SimNode } from './sim-node.ts'
import { SimFaults } from './sim-faults.ts'

export interface SimOptions {
  nodes?: number
  lying?: boolean
  /** Virtual ms of faults, then a quiet period with every fault healed. */
  faultMs?: number
  quietMs?: number
  /** Mean virtual ms between two faults. */
  faultEveryMs?: number
  /** Keep this many trace lines (the last ones). */
  traceLines?: number
}

export interface SimResult {
  seed: number
  nodes: number
  lying: boolean
  violations: string[]
  trace: string[]
  stats: { events: number; faults: number; epochs: number; acks: number; stepDowns: number; virtualMs: number }
}

export async function runSchedule(seed: number, o: SimOptions = {}): Promise<SimResult> {
  const rng = new SeededRandom(seed)
  const sched = new SimScheduler()
  const n = o.nodes ?? rng.int(2, 5)
  const lying = o.lying ?? rng.next() < 0.25
  const faultMs = o.faultMs ?? 30_000
  const quietMs = o.quietMs ?? 45_000
  const faultEveryMs = o.faultEveryMs ?? 1500
  const traceMax = o.traceLines ?? 400
  const world = new SimWorld(sched, lying)
  const trace: string[] = []
  const violations: string[] = []
  const stats = { events: 0, faults: 0, epochs: 0, acks: 0, stepDowns: 0, virtualMs: 0 }
  const ackBy = new Map<number, string>()
  const random = () => rng.next()
  const lock: LockConfig = {
    useLock: true,
    type: 'flock',
    lockKeepAlivePeriod: KEEPALIVE_MS,
    keepAliveTimeout: KEEPALIVE_TIMEOUT_MS,
    lockAcquireSleepInterval: rng.pick([200, 500, 1000]),
    blockingWait: rng.next() < 0.7,
    failIfLocked: false,
    restartAllowed: true,
    failback: false,
    eventLoopStallMax: 2000,
  }
  const log = (line: string) => {
    trace.push(`${String(sched.now).padStart(7)} ${line}`)
    if (trace.length > traceMax) trace.shift()
  }
  const violate = (what: string) => {
    if (violations.length < 20) violations.push(`t=${sched.now} ${what}`)
    log(`VIOLATION ${what}`)
  }
  log(
    `seed ${seed}: ${n} nodes, ${lying ? 'lying' : 'honest'} locks, blockingWait=${lock.blockingWait}, lockAcquireSleepInterval=${lock.lockAcquireSleepInterval}`,
  )

  const nodes: SimNode[] = []
  const start = (idx: number, incarnation: number): SimNode => {
    const clock = new NodeClock(sched, random)
    const port = new SimSharePort(world, idx, clock, random)
    const node = {
      idx,
      nodeId: `n${idx}`,
      incarnation,
      clock,
      port,
      alive: true,
      role: 'starting',
      fence: null,
      epoch: null,
      termStart: null,
      evidenceAt: -1,
      disturbedUntil: 0,
      deadlines: [],
    } as unknown as SimNode
    node.elector = new Elector({
      sharedDir: '/sim',
      lock,
      brokerName: 'sim',
      nodeId: node.nodeId,
      connectors: [],
      clock,
      host: `host${idx}`,
      pid: 1000 + idx * 100 + incarnation,
      port,
      random,
      watchdog: null,
      hooks: {
        activate: async (ctx) => {
          await new Promise<void>((r) => clock.run(r, 5 + Math.floor(rng.next() * 50))) // store recovery
          node.fence = ctx.fence
          node.epoch = ctx.epoch
          log(`n${idx} activated epoch ${ctx.epoch}`)
        },
        deactivate: async (reason) => {
          node.fence = null
          node.epoch = null
          log(`n${idx} deactivate: ${reason}`)
          await new Promise<void>((r) => clock.run(r, 1 + Math.floor(rng.next() * 20)))
        },
        onRole: (role, reason) => onRole(node, role, reason),
      },
    })
    // A process whose share never worked since it started exits 1 by design (README): its supervisor restarts it.
    const supervisorRestart = (why: string) => {
      log(`n${idx} ${why} (the share never worked for this process): the supervisor restarts it`)
      node.alive = false
      node.clock.dead = true
      port.kill()
      sched.at(sched.now + 2000, () => {
        const fresh = start(idx, node.incarnation + 1)
        nodes[idx] = fresh
        writer(fresh)
      })
    }
    void node.elector.done.then((code) => {
      if (!node.alive) return
      if (code === 1 && !port.worked) return supervisorRestart('exited 1 at start')
      violate(`n${idx} ended on its own with exit code ${code} (self-exit)`)
    })
    clock.run(
      () =>
        void node.elector.start().catch((e: Error) => {
          if (!port.worked) return supervisorRestart(`failed to start: ${e.message}`)
          violate(`n${idx} start failed: ${e.message}`)
        }),
    )
    return node
  }

  const onRole = (node: SimNode, role: Role, reason: string) => {
    const from = node.role
    node.role = role
    log(`n${node.idx} ${from} -> ${role}: ${reason}`)
    // The term is at risk from the moment it holds the lock (activating), not only once it serves.
    if (role === 'activating') node.termStart = sched.now
    if (role === 'primary') stats.epochs++
    if (from === 'primary' && role === 'stepping-down') {
      stats.stepDowns++
      if (!lying && (node.termStart === null || node.evidenceAt < node.termStart))
        violate(`n${node.idx} stepped down with no evidence against its term (started ${node.termStart}): ${reason}`)
      node.termStart = null
      node.deadlines = []
    }
  }

  // The store's writes: each acknowledgement asks the fence first, as a group commit does.
  const writer = (node: SimNode) => {
    node.clock.run(
      () => {
        if (!node.alive) return
        const f = node.fence
        const e = node.epoch
        if (f && e !== null && node.role === 'primary') {
          const began = sched.now
          f.assertCurrent().then(
            () => {
              if (!node.alive) return
              stats.acks++
              for (const [epoch, c] of world.epochs)
                if (epoch > e && c.t <= began)
                  violate(
                    `n${node.idx} acknowledged a write in epoch ${e} although epoch ${epoch} was claimed at ${c.t}, before its fence check began at ${began}`,
                  )
              const other = ackBy.get(e)
              if (other !== undefined && other !== node.nodeId)
                violate(`epoch ${e} acknowledged by ${other} and ${node.nodeId}`)
              ackBy.set(e, node.nodeId)
            },
            () => undefined,
          )
        }
        writer(node)
      },
      50 + Math.floor(rng.next() * 150),
    )
  }

  for (let i = 0; i < n; i++) {
    nodes.push(start(i, 0))
    writer(nodes[i]!)
  }

  const faults = new SimFaults({
    rng,
    sched,
    world,
    lying,
    nodes,
    stats,
    log,
    restart: (idx, incarnation) => {
      const fresh = start(idx, incarnation)
      nodes[idx] = fresh
      writer(fresh)
    },
  })
  const live = () => nodes.filter((x) => x.alive)
  faults.schedule(1000 + Math.floor(rng.next() * faultEveryMs), faultMs, faultEveryMs)

  const epochSeen = new Map<SimNode, number>()
  const checkEveryStep = () => {
    const maxE = world.maxEpoch()
    for (const node of nodes) {
      if (!node.alive) continue
      // A newer epoch is evidence against an older primary (it must notice within the bound).
      if (node.role === 'primary' && node.epoch !== null && maxE > node.epoch && epochSeen.get(node) !== maxE) {
        epochSeen.set(node, maxE)
        faults.evidence([node], `epoch ${maxE} claimed`)
      }
      for (const dl of node.deadlines) {
        if (sched.now <= dl.at || node.role !== 'primary' || node.epoch !== dl.epoch) continue
        if (sched.now < node.disturbedUntil) continue
        violate(
          `n${node.idx} still primary of epoch ${dl.epoch} ${sched.now - dl.at + LOSS_BOUND_MS} ms after ${dl.why} (bound ${LOSS_BOUND_MS} ms)`,
        )
        dl.at = Number.MAX_SAFE_INTEGER
      }
    }
  }

  const end = faultMs + quietMs
  sched.at(faultMs + 1, () => faults.heal())
  let done = false
  sched.at(end, () => (done = true))
  while (!done && (await sched.step())) {
    stats.events++
    checkEveryStep()
    if (violations.length >= 20) break
  }
  stats.virtualMs = sched.now

  // Liveness after the quiet period: one primary, every other live node waiting for the lock.
  const alive = live()
  const primaries = alive.filter((x) => x.role === 'primary')
  if (alive.length > 0 && primaries.length !== 1)
    violate(
      `after ${quietMs} ms of quiet: ${primaries.length} primaries (${alive.map((x) => `n${x.idx}=${x.role}`).join(' ')})`,
    )
  // On lying locks the others "get" the lock too, so they cycle: starting (flap-damping back-off), activating
  // (waiting for the live holder's record to go stale), yielding. Never on honest ones: there they wait as replicas.
  const waiting = lying ? ['replica', 'starting', 'activating', 'stepping-down'] : ['replica']
  for (const x of alive)
    if (x.role !== 'primary' && !waiting.includes(x.role)) violate(`after the quiet period n${x.idx} is ${x.role}`)
  for (const x of nodes) {
    x.alive = false
    x.clock.dead = true
    x.port.kill()
  }
  return { seed, nodes: n, lying, violations, trace, stats }
}
