/**
 * Elector: the thin driver of the election state machine (state-machine.ts). It runs the machine's effects through
 * ports (ports.ts: the shared directory and its lock, the Clock, the stall watchdog) and feeds their outcomes back;
 * it calls the node's hooks (activate / deactivate) and knows nothing of what they open. The guarantees, and how
 * each is kept, are in docs/architecture.md ("Election"); in short:
 * - serve only with the lock on the file the path names, after claiming an epoch by exclusive create;
 * - step down on evidence only (keep-alive.ts), never because the loop was late (stall-monitor.ts re-checks);
 * - survive a share that blinks: transient errors keep the node up as a replica with jittered back-off;
 * - flap damping after deposals by another node's epoch (backoff.ts);
 * - a step-down never waits on the share for long: deactivate is bounded, the lock closes off the main thread;
 * - no overlap when the lock file was replaced or deleted: the new holder waits out the old one's detection bound;
 * - failback to a preferred node; on lying locks, yield to a live holder that keeps renewing its record.
 * This file owns the plumbing (feed, generations, roles), the term's state and release; the effects run in
 * lock-seeker.ts (tryLock, wait), takeover.ts (activate, serve), step-down.ts (stepDown) and rejoin-pacer.ts (the
 * waits before competing again). Options, status and the teardown bounds are in elector-options.ts.
 */
import os from 'node:os'
import { systemClock, type Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { EpochFence, Role, TakeoverTimeline } from './types.ts'
import { step, EXIT_CODES, type Effect, type Input, type Then } from './state-machine.ts'
import { createStallWatchdog } from './stall-watchdog.ts'
import { FsSharePort } from './fs-share-port.ts'
import type { SharePort } from './ports.ts'
import { PortEpochFence } from './epoch-fence.ts'
import { KeepAlive } from './keep-alive.ts'
import { ReplicaHeartbeat } from './replica-heartbeat.ts'
import { StallMonitor } from './stall-monitor.ts'
import { within } from './backoff.ts'
import type { HolderRecord, TakeoverRecord } from './shared-dir.ts'
import { checkLockSettings, type ElectorOptions, type ElectorStatus } from './elector-options.ts'
import { preferredIn, recordServing, runTakeover, type TakeoverHost } from './takeover.ts'
import { runStepDown, type StepDownHost } from './step-down.ts'
import { LockSeeker } from './lock-seeker.ts'
import { RejoinPacer } from './rejoin-pacer.ts'

export { STALL_KILL_FACTOR } from './stall-monitor.ts'
export {
  SHARE_RETRY_FIRST_MS,
  SHARE_RETRY_MAX_MS,
  DEPOSAL_BACKOFF_MAX_MS,
  STABLE_TERM_MS,
  deposalBackoffMs,
} from './backoff.ts'
export {
  TEARDOWN_WAIT_MAX_MS,
  STEP_DOWN_WAIT_MS,
  type ElectorInfo,
  type ElectorOptions,
  type ElectorStatus,
} from './elector-options.ts'

const log = logger('election')

export class Elector {
  private _role: Role = 'starting'
  private roleSince: number
  private readonly clock: Clock
  private readonly host: string
  private readonly pid: number
  private readonly port: SharePort
  private readonly random: () => number
  private epoch: number | null = null
  private gen = 0
  private queue: Input[] = []
  private draining = false
  private thenOverride: Then | null = null
  private retryTimer: unknown = null
  private readonly keepAlive: KeepAlive
  private readonly heartbeat: ReplicaHeartbeat
  private readonly stall: StallMonitor
  /** The elector as the takeover and step-down paths (takeover.ts, step-down.ts) see it. */
  private readonly terms: TakeoverHost & StepDownHost
  private readonly seeker: LockSeeker
  private readonly pacer: RejoinPacer
  private record: HolderRecord | null = null
  private timeline: TakeoverTimeline | null = null
  private lastTakeover: TakeoverRecord | null = null
  private pendingTakeover: { previousHolder: string | null; waitedGraceMs: number } | null = null
  private preferred: boolean
  private started = false
  /** Set when this term ended by loss or fencing: then the lock file is not ours to write any more. */
  private lockDoubt = false
  /** The previous term's hooks.deactivate, until it settles (a new term waits for it, bounded). */
  private deactivation: Promise<void> | null = null
  private resolveDone!: (code: number) => void
  /** The exit code once the elector has ended for good (see EXIT_CODES in state-machine.ts). */
  readonly done: Promise<number>

  constructor(readonly opts: ElectorOptions) {
    const lk = opts.lock
    checkLockSettings(lk)
    this.clock = opts.clock ?? systemClock
    this.roleSince = this.clock.now()
    this.host = opts.host ?? os.hostname()
    this.pid = opts.pid ?? process.pid
    this.random = opts.random ?? Math.random
    this.port =
      opts.port ??
      new FsSharePort(opts.sharedDir, lk.type, Math.max(1000, lk.keepAliveTimeout || lk.lockKeepAlivePeriod || 1000))
    this.preferred = lk.failback
    this.done = new Promise((r) => (this.resolveDone = r))
    this.pacer = new RejoinPacer(this.clock, this.random, this.port.dir, opts.nodeId, lk.lockAcquireSleepInterval)
    this.seeker = new LockSeeker(this.port, this.clock, lk, this.pacer, {
      generation: () => this.gen,
      later: (gen, input) => this.later(gen, input),
    })
    this.keepAlive = new KeepAlive({
      port: this.port,
      clock: this.clock,
      periodMs: lk.useLock ? lk.lockKeepAlivePeriod : 0,
      timeoutMs: lk.keepAliveTimeout || lk.lockKeepAlivePeriod,
      term: () => (this.seeker.handle && this.record ? { handle: this.seeker.handle, record: this.record } : null),
      preferredWaiting:
        lk.failback === false ? (reps) => !this.preferred && preferredIn(reps, opts.nodeId, this.clock.now()) : null,
      onVerdict: (v) => this.feed(v),
    })
    const beatMs = lk.lockKeepAlivePeriod > 0 ? lk.lockKeepAlivePeriod : 1000
    this.heartbeat = new ReplicaHeartbeat(this.port, this.clock, beatMs, () => ({
      nodeId: opts.nodeId,
      role: 'replica',
      host: this.host,
      pid: this.pid,
      brokerName: opts.brokerName,
      preferred: this.preferred,
      clientUrls: opts.clientUrls ?? [],
    }))
    const makeWatchdog = opts.watchdog === undefined ? createStallWatchdog : opts.watchdog
    this.stall = new StallMonitor(this.clock, lk.eventLoopStallMax, makeWatchdog, (why) => {
      if (this._role === 'primary') this.keepAlive.recheckNow(why)
    })
    void this.done.then(() => {
      this.stall.close()
      this.port.shutdown()
    })
    this.terms = this.termHost()
  }

  private termHost(): TakeoverHost & StepDownHost {
    return {
      opts: this.opts,
      clock: this.clock,
      port: this.port,
      host: this.host,
      pid: this.pid,
      generation: () => this.gen,
      later: (gen, input) => this.later(gen, input),
      lockFile: () => this.seeker.handle,
      deactivation: () => this.deactivation,
      setDeactivation: (d) => {
        this.deactivation = d
      },
      teardownStuck: () => {
        this.gen++
        this.setRole('stopped', 'teardown stuck')
        this.effRelease()
        this.resolveDone(EXIT_CODES.teardownStuck)
      },
      preferred: () => this.preferred,
      dropPreference: () => {
        this.preferred = false
      },
      leaveReplica: () => {
        this.seeker.stopPolling()
        this.heartbeat.stop(true, this.opts.nodeId)
        this.lockDoubt = false
      },
      beginTerm: (epoch, timeline, record) => {
        this.epoch = epoch
        this.timeline = timeline
        this.record = record
      },
      term: () => ({ epoch: this.epoch, timeline: this.timeline, record: this.record }),
      watchTerm: () => {
        this.keepAlive.start()
        this.stall.start()
      },
      stallKillMs: () => this.stall.killAfterMs,
      noteTakeover: (previousHolder, waitedGraceMs) => {
        this.pendingTakeover = { previousHolder, waitedGraceMs }
      },
      pendingTakeover: () => this.pendingTakeover,
      served: (rec) => {
        this.lastTakeover = rec
      },
      fence: (epoch) => new PortEpochFence(this, this.port, epoch),
      stopWatching: () => {
        this.keepAlive.stop()
        this.stall.stop()
        this.pacer.termEnded()
      },
      record: () => this.record,
      lockDoubt: () => this.lockDoubt,
      closeLock: () => this.seeker.close(),
      endTerm: () => {
        this.epoch = null
        this.record = null
        this.timeline = null
      },
      takeThen: (then) => {
        const next = this.thenOverride ?? then
        this.thenOverride = null
        return next
      },
    }
  }

  get role(): Role {
    return this._role
  }

  /** Begin the election loop; returns once the first lock attempt is under way. */
  async start(): Promise<void> {
    if (this.started) throw new Error('assertion failed: Elector.start() called twice')
    this.started = true
    await this.port.ensureDir()
    this.lastTakeover = (await this.port.readTakeovers()).at(-1) ?? null
    await this.stall.prepare()
    this.feed({ kind: 'start' })
  }

  /** Stop in any state: a primary deactivates then releases the lock. Resolves when the elector has ended. */
  async stop(): Promise<void> {
    if (!this.started) {
      this.setRole('stopped', 'stopped before start')
      this.resolveDone(EXIT_CODES.ok)
      return
    }
    this.feed({ kind: 'stop' })
    await this.done
  }

  /** Self-fencing: the store cannot write. A primary gives the lock up. */
  reportUnhealthy(reason: string): void {
    // Only a serving node has a lock to give up; a late store error after the term ended is routine.
    if (this._role === 'primary' || this._role === 'activating') log.error(`unhealthy: ${reason}; giving up the lock`)
    else log.debug(`store error after the term ended (role ${this._role}): ${reason}`)
    this.feed({ kind: 'store-failed', reason })
  }

  /**
   * Called by the fence of `epoch` when it saw a newer one. Only the fence of the term being served counts: a store
   * of an earlier term of this node, delayed (a hung share), must not depose the term that followed (found by the
   * election simulation).
   */
  noteFenced(reason: string, epoch: number): void {
    if (epoch !== this.epoch)
      return log.debug(`fence of an earlier term (epoch ${epoch}) saw a newer epoch: ignored (${reason})`)
    this.feed({ kind: 'fenced', reason })
  }

  /** Whether we are (becoming) primary with this epoch. */
  serves(epoch: number): boolean {
    return this.epoch === epoch && (this._role === 'primary' || this._role === 'activating')
  }

  /** The fence for the current epoch (null when not primary). */
  get fence(): EpochFence | null {
    return this.epoch === null ? null : new PortEpochFence(this, this.port, this.epoch)
  }

  status(): ElectorStatus {
    return {
      nodeId: this.opts.nodeId,
      role: this._role,
      epoch: this.epoch,
      holder: this.record ?? this.seeker.holder,
      lastTakeover: this.lastTakeover,
      since: this.roleSince,
      keepAliveLatencyMs: this.keepAlive.latencyMs,
    }
  }

  // ---- state machine plumbing ----

  private feed(input: Input): void {
    this.queue.push(input)
    if (this.draining) return
    this.draining = true
    try {
      while (this.queue.length) {
        const inp = this.queue.shift()!
        const serving = this._role === 'primary' || this._role === 'activating'
        if ((inp.kind === 'lost' || inp.kind === 'fenced') && serving) this.lockDoubt = true
        if (inp.kind === 'fenced' && serving) this.pacer.noteDeposal()
        const before = this._role
        const r = step(before, inp, {
          failIfLocked: this.opts.lock.failIfLocked,
          restartAllowed: this.opts.lock.restartAllowed,
        })
        if (r.role !== before) {
          this.gen++
          this.setRole(r.role, 'reason' in inp ? inp.reason : inp.kind)
        } else if (r.effects.some((e) => e.type === 'release')) {
          this.gen++ // outcomes of what was just released are stale
        }
        for (const e of r.effects) this.run(e)
      }
    } finally {
      this.draining = false
    }
  }

  private setRole(role: Role, reason: string): void {
    this._role = role
    this.roleSince = this.clock.now()
    if (role === 'primary') this.pacer.termStarted(this.roleSince)
    log.debug(`role ${role} (${reason})`)
    try {
      this.opts.hooks.onRole?.(role, reason)
    } catch (e) {
      log.warn(`onRole hook threw: ${(e as Error).message}`)
    }
  }

  /** Feed the outcome of an async effect only if nothing moved on meanwhile. */
  private later(gen: number, input: Input): void {
    if (gen === this.gen) this.feed(input)
  }

  private run(e: Effect): void {
    const gen = this.gen
    switch (e.type) {
      case 'tryLock':
        void this.seeker.tryLock(gen)
        return
      case 'wait':
        this.heartbeat.start()
        this.seeker.wait(gen)
        return
      case 'activate':
        void runTakeover(this.terms, gen)
        return
      case 'serve':
        recordServing(this.terms)
        return
      case 'stepDown':
        void runStepDown(this.terms, gen, e.reason, e.then)
        return
      case 'setThen':
        this.thenOverride = e.then
        return
      case 'release':
        this.effRelease()
        return
      case 'retryLater':
        return this.startIn(gen, this.pacer.rejoinDelayMs())
      case 'retryShare':
        return this.startIn(gen, this.pacer.shareRetryDelayMs())
      case 'finish':
        this.effRelease()
        log.info(`election ended (exit code ${e.code})`, { event: 'exit', code: e.code, nodeId: this.opts.nodeId })
        void within(this.heartbeat.removal, 2000, this.clock).then(() => this.resolveDone(e.code))
        return
    }
  }

  private startIn(gen: number, ms: number): void {
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null
      this.later(gen, { kind: 'start' })
    }, ms)
  }

  private effRelease(): void {
    this.seeker.cancelWaiting()
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.heartbeat.stop(true, this.opts.nodeId)
    this.keepAlive.stop()
    this.stall.stop()
    this.seeker.close()
  }
}
