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
 */
import os from 'node:os'
import type { LockConfig } from '../config/index.ts'
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { ElectionHooks, EpochFence, Role, TakeoverTimeline } from './types.ts'
import { step, EXIT_CODES, type Effect, type Input, type Then } from './state-machine.ts'
import { isTransientShareError } from './share-errors.ts'
import { StallWatchdog } from './stall-watchdog.ts'
import { FsSharePort } from './fs-share-port.ts'
import type { LockHandle, SharePort, Watchdog } from './ports.ts'
import { PortEpochFence } from './epoch-fence.ts'
import { KeepAlive } from './keep-alive.ts'
import { ReplicaHeartbeat } from './replica-heartbeat.ts'
import { StallMonitor } from './stall-monitor.ts'
import { deposalBackoffMs, shareRetryMs, within, STABLE_TERM_MS } from './backoff.ts'
import type { HolderRecord, ReplicaRecord, TakeoverRecord } from './shared-dir.ts'

export { STALL_KILL_FACTOR } from './stall-monitor.ts'
export {
  SHARE_RETRY_FIRST_MS,
  SHARE_RETRY_MAX_MS,
  DEPOSAL_BACKOFF_MAX_MS,
  STABLE_TERM_MS,
  deposalBackoffMs,
} from './backoff.ts'
/** How long a new term waits for the previous term's teardown (store close) before the process gives up (exit 76). */
export const TEARDOWN_WAIT_MAX_MS = 60_000
/** How long a step-down waits for hooks.deactivate before releasing the lock anyway (connectors close first, in ms). */
export const STEP_DOWN_WAIT_MS = 3000

const log = logger('election')

export interface ElectorInfo {
  adapter?: string | null
  dataDirectory?: string | null
  schedulerDirectory?: string | null
  schedulerSupport?: boolean
  version?: string
}

export interface ElectorOptions {
  sharedDir: string
  lock: LockConfig
  brokerName: string
  nodeId: string
  connectors: string[]
  info?: ElectorInfo
  hooks: ElectionHooks
  clock?: Clock
  host?: string
  pid?: number
  /** The shared directory and its lock (default: the real filesystem). */
  port?: SharePort
  /** Random draws for jitter (default Math.random; the simulation passes its seeded generator). */
  random?: () => number
  /** The stall watchdog thread (default: stall-watchdog.ts; null: none). */
  watchdog?: ((killAfterMs: number) => Watchdog) | null
}

export interface ElectorStatus {
  nodeId: string
  role: Role
  epoch: number | null
  /** The holder record as last read (ours while primary). */
  holder: HolderRecord | null
  lastTakeover: TakeoverRecord | null
  since: number
  /** Duration of the last keep-alive check as primary (ms), or null before the first. */
  keepAliveLatencyMs: number | null
}

export class Elector {
  private _role: Role = 'starting'
  private roleSince: number
  private readonly clock: Clock
  private readonly host: string
  private readonly pid: number
  private readonly port: SharePort
  private readonly random: () => number
  private lockFile: LockHandle | null = null
  private epoch: number | null = null
  private gen = 0
  private queue: Input[] = []
  private draining = false
  private thenOverride: Then | null = null
  private cancelWait: (() => void) | null = null
  private pollTimer: unknown = null
  private retryTimer: unknown = null
  private readonly keepAlive: KeepAlive
  private readonly heartbeat: ReplicaHeartbeat
  private readonly stall: StallMonitor
  private loggedHolderFor: string | null = null
  private holder: HolderRecord | null = null
  private record: HolderRecord | null = null
  private timeline: TakeoverTimeline | null = null
  private lastTakeover: TakeoverRecord | null = null
  private pendingTakeover: { previousHolder: string | null; waitedGraceMs: number } | null = null
  private preferred: boolean
  private started = false
  /** Set when this term ended by loss or fencing: then the lock file is not ours to write any more. */
  private lockDoubt = false
  /** The lock file was opened at least once: later filesystem errors are transient, not fatal. */
  private shareWorked = false
  /** The share is unavailable (logged once); consecutive failed attempts drive the back-off. */
  private shareDownSince: number | null = null
  private shareFailures = 0
  /** Deposals by another node's epoch in a row (flap damping), and when the current term began serving. */
  private deposals = 0
  private termStartedAt: number | null = null
  /** The previous term's hooks.deactivate, until it settles (a new term waits for it, bounded). */
  private deactivation: Promise<void> | null = null
  private resolveDone!: (code: number) => void
  /** The exit code once the elector has ended for good (see EXIT_CODES in state-machine.ts). */
  readonly done: Promise<number>

  constructor(readonly opts: ElectorOptions) {
    const lk = opts.lock
    if (
      lk.lockKeepAlivePeriod < 0 ||
      lk.keepAliveTimeout < 0 ||
      lk.lockAcquireSleepInterval <= 0 ||
      lk.eventLoopStallMax < 0
    ) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `election lock settings: lockKeepAlivePeriod=${lk.lockKeepAlivePeriod}, keepAliveTimeout=${lk.keepAliveTimeout}, lockAcquireSleepInterval=${lk.lockAcquireSleepInterval}, eventLoopStallMax=${lk.eventLoopStallMax}; expected non-negative values and lockAcquireSleepInterval > 0`,
      )
    }
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
    this.keepAlive = new KeepAlive({
      port: this.port,
      clock: this.clock,
      periodMs: lk.useLock ? lk.lockKeepAlivePeriod : 0,
      timeoutMs: lk.keepAliveTimeout || lk.lockKeepAlivePeriod,
      term: () => (this.lockFile && this.record ? { handle: this.lockFile, record: this.record } : null),
      preferredWaiting: lk.failback === false ? (reps) => !this.preferred && this.preferredIn(reps) : null,
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
    }))
    const makeWatchdog = opts.watchdog === undefined ? (ms: number) => new StallWatchdog(ms) : opts.watchdog
    this.stall = new StallMonitor(this.clock, lk.eventLoopStallMax, makeWatchdog, (why) => {
      if (this._role === 'primary') this.keepAlive.recheckNow(why)
    })
    void this.done.then(() => {
      this.stall.close()
      this.port.shutdown()
    })
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
      holder: this.record ?? this.holder,
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
        if (inp.kind === 'fenced' && serving) this.noteDeposal()
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
    if (role === 'primary') this.termStartedAt = this.roleSince
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
        void this.effTryLock(gen)
        return
      case 'wait':
        this.effWait(gen)
        return
      case 'activate':
        void this.effActivate(gen)
        return
      case 'serve':
        this.effServe()
        return
      case 'stepDown':
        void this.effStepDown(gen, e.reason, e.then)
        return
      case 'setThen':
        this.thenOverride = e.then
        return
      case 'release':
        this.effRelease()
        return
      case 'retryLater':
        return this.startIn(gen, this.rejoinDelayMs())
      case 'retryShare':
        return this.startIn(gen, this.shareRetryDelayMs())
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

  // ---- effects ----

  /** Open afresh if needed and try once. Locks on a file no longer at the path are dropped and retried. */
  private async effTryLock(gen: number): Promise<void> {
    if (!this.opts.lock.useLock) return this.later(gen, { kind: 'locked' })
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!this.lockFile) {
          const lf = await this.port.openLock()
          if (gen !== this.gen || this.lockFile) {
            lf.close()
            return
          }
          this.lockFile = lf
          this.noteShareWorks()
        }
        if (!this.lockFile.tryLock()) return this.later(gen, { kind: 'busy' })
        if (await this.lockStillAtPath()) return this.later(gen, { kind: 'locked' })
        if (gen !== this.gen) return
        log.warn(`locked ${this.port.lockPath} but the path now names another file; reopening`)
        this.closeLock()
      }
      this.later(gen, { kind: 'busy' })
    } catch (err) {
      this.later(gen, this.classifyError(err))
    }
  }

  /**
   * A filesystem error on a share that worked for this node before is transient (the share blinked: ENOTCONN,
   * EIO, ESTALE, ...): stay up and retry. A lock mechanism that does not work, or a share that never worked since
   * start, ends the process (exit 1), as a bad configuration does.
   */
  private classifyError(err: unknown): Input {
    const reason = (err as Error).message
    if (this.shareWorked && isTransientShareError(err)) return { kind: 'share-error', reason }
    return { kind: 'lock-error', reason }
  }

  private noteShareWorks(): void {
    this.shareWorked = true
    this.shareFailures = 0
    if (this.shareDownSince !== null) {
      const downMs = this.clock.now() - this.shareDownSince
      log.info(`shared directory ${this.port.dir} is back after ${downMs} ms: competing for the lock again`, {
        event: 'share',
        state: 'available',
        downMs,
        nodeId: this.opts.nodeId,
      })
      this.shareDownSince = null
    }
  }

  /** The next retry while the share is unavailable (logged once per outage). */
  private shareRetryDelayMs(): number {
    if (this.shareDownSince === null) {
      this.shareDownSince = this.clock.now()
      log.warn(
        `shared directory ${this.port.dir} is unavailable; staying up as a replica and retrying until it returns`,
        { event: 'share', state: 'unavailable', nodeId: this.opts.nodeId },
      )
    }
    return shareRetryMs(this.shareFailures++, this.random())
  }

  /** A deposal by another node's epoch: count it, unless the term that ended was long and stable. */
  private noteDeposal(): void {
    const term = this.termStartedAt === null ? 0 : this.clock.now() - this.termStartedAt
    if (term >= STABLE_TERM_MS) this.deposals = 0
    this.deposals++
  }

  /** Delay before competing again after a step-down: lockAcquireSleepInterval, doubled per deposal in a row. */
  private rejoinDelayMs(): number {
    const ms = deposalBackoffMs(this.opts.lock.lockAcquireSleepInterval, this.deposals, this.random())
    if (this.deposals > 1)
      log.warn(
        `deposed by another node's epoch ${this.deposals} times in a row: waiting ${ms} ms before competing again (flap damping)`,
      )
    return ms
  }

  private async lockStillAtPath(): Promise<boolean> {
    const lf = this.lockFile
    if (!lf) return false
    try {
      const st = await this.port.statLock()
      return st.ino === lf.ino && st.dev === lf.dev
    } catch {
      return false
    }
  }

  /** Close the lock file off the main thread: never blocks, even on a hung mount. */
  private closeLock(): void {
    this.lockFile?.close()
    this.lockFile = null
  }

  private effWait(gen: number): void {
    this.heartbeat.start()
    this.logHolderOnce()
    const lf = this.lockFile
    if (!lf) return this.later(gen, { kind: 'lock-error', reason: 'no lock file open while waiting' })
    if (this.opts.lock.blockingWait) {
      const w = lf.waitLock()
      this.cancelWait = w.cancel
      w.done.then(
        async () => {
          this.cancelWait = null
          if (gen !== this.gen) return
          if (await this.lockStillAtPath()) return this.later(gen, { kind: 'locked' })
          if (gen !== this.gen) return
          log.warn(`woke with the lock of a file no longer at ${this.port.lockPath}; reopening`)
          this.closeLock()
          void this.effTryLock(gen)
        },
        (err: unknown) => {
          this.cancelWait = null
          if ((err as { wouldBlock?: boolean }).wouldBlock) return this.later(gen, { kind: 'busy' })
          this.later(gen, this.classifyError(err))
        },
      )
    } else {
      this.pollTimer = this.clock.setTimeout(async () => {
        this.pollTimer = null
        if (gen !== this.gen) return
        if (!(await this.lockStillAtPath())) {
          if (gen !== this.gen) return
          this.closeLock()
        }
        void this.effTryLock(gen)
      }, this.opts.lock.lockAcquireSleepInterval)
    }
  }

  /** Log who holds the lock, once per holder (read afresh, off the main thread). */
  private logHolderOnce(): void {
    void this.port.readRecord().then(
      (r) => {
        const rec = r?.rec ?? null
        this.holder = rec
        const key = rec ? `${rec.nodeId}:${rec.epoch}` : 'unknown'
        if (this.loggedHolderFor === key) return
        this.loggedHolderFor = key
        if (rec)
          log.info(
            `replica: ${this.port.lockPath} is locked by ${rec.nodeId} (${rec.brokerName} on ${rec.host}, pid ${rec.pid}, epoch ${rec.epoch}); waiting for the lock`,
          )
        else
          log.info(
            `replica: ${this.port.lockPath} is locked by another broker (no holder record yet); waiting for the lock`,
          )
      },
      () => undefined,
    )
  }

  private graceMs(): number {
    const lk = this.opts.lock
    return lk.lockKeepAlivePeriod > 0
      ? lk.lockKeepAlivePeriod + (lk.keepAliveTimeout || lk.lockKeepAlivePeriod) + 50
      : 0
  }

  private preferredIn(reps: ReplicaRecord[]): boolean {
    const now = this.clock.now()
    return reps.some(
      (r) => r.preferred && r.nodeId !== this.opts.nodeId && now - r.lastSeen < 3 * (r.heartbeatMs || 1000) + 1000,
    )
  }

  /** The holder record in the file we locked, read afresh while the path still names it (null otherwise). */
  private async lockedRecord(lf: LockHandle): Promise<HolderRecord | null> {
    const r = await this.port.readRecord()
    return r && r.ino === lf.ino ? r.rec : null
  }

  private async effActivate(gen: number): Promise<void> {
    const lockAcquiredAt = this.clock.now()
    const lf = this.lockFile
    try {
      // The previous term's teardown (store close) may still run if the share hung; a new term must not open the
      // store beside it. It gets a bound: a close that never returns leaves a process only a restart can clean.
      if (this.deactivation) {
        if (!(await within(this.deactivation, TEARDOWN_WAIT_MAX_MS, this.clock))) {
          log.error(
            `the previous term's teardown did not finish within ${TEARDOWN_WAIT_MAX_MS} ms (a filesystem call never returned): exiting with ${EXIT_CODES.teardownStuck} so a supervisor restarts this node`,
          )
          this.gen++
          this.setRole('stopped', 'teardown stuck')
          this.effRelease()
          this.resolveDone(EXIT_CODES.teardownStuck)
          return
        }
        if (gen !== this.gen) return
      }
      if (this.opts.lock.useLock && !this.preferred && this.preferredIn(await this.port.readReplicas())) {
        return this.later(gen, { kind: 'yield', reason: 'a preferred broker (failback) is waiting: yielding the lock' })
      }
      if (gen !== this.gen) return
      if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer)
      this.pollTimer = null
      this.heartbeat.stop(true, this.opts.nodeId)
      this.lockDoubt = false
      let previous: HolderRecord | null = null
      let graceMs = 0
      const maxBefore = await this.port.maxEpoch()
      if (gen !== this.gen) return
      if (lf) {
        previous = await this.lockedRecord(lf)
        const live = await this.waitPreviousHolderGone(gen, previous)
        if (gen !== this.gen) return
        if (live) return this.later(gen, { kind: 'yield', reason: live })
        previous = (await this.lockedRecord(lf)) ?? previous
        if (gen !== this.gen) return
        // ino only: st_dev differs between hosts (and FUSE mounts) for the same file.
        const sameInode = previous !== null && previous.ino === lf.ino
        // The latest primary wrote its record into this very inode and we now hold its lock: it is gone.
        // Otherwise the file was replaced or deleted, and that primary may still be serving on the old inode.
        if (maxBefore > 0 && !(sameInode && previous!.epoch === maxBefore)) graceMs = this.graceMs()
      }
      const epoch = await this.port.claimEpoch({ nodeId: this.opts.nodeId, host: this.host, pid: this.pid })
      if (epoch === null)
        return this.later(gen, { kind: 'fenced', reason: 'lost the epoch claim race to another broker' })
      if (gen !== this.gen) return
      this.epoch = epoch
      const epochClaimedMs = this.clock.now() - lockAcquiredAt
      this.timeline = {
        lockAcquiredAt,
        epochClaimedMs,
        storeRecoveredMs: null,
        connectorsOpenMs: null,
        previousHolderLastRenewedAgoMs: previous ? lockAcquiredAt - previous.renewedAt : null,
      }
      const lk = this.opts.lock
      const info = this.opts.info ?? {}
      this.record = {
        nodeId: this.opts.nodeId,
        host: this.host,
        pid: this.pid,
        brokerName: this.opts.brokerName,
        epoch,
        acquiredAt: lockAcquiredAt,
        renewedAt: this.clock.now(),
        connectors: this.opts.connectors,
        version: info.version ?? '',
        lockType: lk.useLock ? lk.type : 'none',
        lockKeepAlivePeriod: lk.lockKeepAlivePeriod,
        keepAliveTimeout: lk.keepAliveTimeout || lk.lockKeepAlivePeriod,
        released: false,
        dev: lf?.dev ?? 0,
        ino: lf?.ino ?? 0,
        adapter: info.adapter ?? null,
        dataDirectory: info.dataDirectory ?? null,
        schedulerDirectory: info.schedulerDirectory ?? null,
        schedulerSupport: info.schedulerSupport ?? false,
        preferred: this.preferred,
      }
      if (lf) await this.port.writeRecord(lf.ino, lf.dev, this.record, false)
      if (gen !== this.gen) return
      this.keepAlive.start()
      this.stall.start()
      log.info(
        `lock acquired: epoch ${epoch} claimed in ${epochClaimedMs} ms${previous ? ` (previous holder ${previous.nodeId}, epoch ${previous.epoch})` : ''}`,
        { event: 'epoch', epoch, nodeId: this.opts.nodeId },
      )
      if (graceMs > 0) {
        log.warn(
          `the lock file does not carry the latest primary's record (epoch ${maxBefore}): waiting ${graceMs} ms for it to notice before serving`,
        )
        await new Promise<void>((r) => this.clock.setTimeout(r, graceMs))
        if (gen !== this.gen) return
      }
      this.pendingTakeover = { previousHolder: previous?.nodeId ?? null, waitedGraceMs: graceMs }
      await this.opts.hooks.activate({
        epoch,
        fence: new PortEpochFence(this, this.port, epoch),
        mark: (stepName, bound) => {
          if (!this.timeline || this.epoch !== epoch) return
          const ms = this.clock.now() - this.timeline.lockAcquiredAt
          if (stepName === 'storeRecovered') this.timeline.storeRecoveredMs = ms
          else {
            this.timeline.connectorsOpenMs = ms
            if (bound && this.record?.epoch === epoch) this.record.connectors = bound
          }
        },
      })
      this.later(gen, { kind: 'activated' })
    } catch (err) {
      if (isBrokerError(err, 'ELECTION_FENCED'))
        return this.later(gen, { kind: 'fenced', reason: (err as Error).message })
      if (this.preferred) {
        this.preferred = false
        log.warn('activation failed: this node stops claiming failback preference until restarted')
      }
      this.later(gen, { kind: 'activation-failed', reason: (err as Error).message })
    }
  }

  /**
   * Guard against locks that do not exclude (OCFS2 flock, `local_lock`, two FUSE mounts): if the holder record
   * names another broker that is alive (a pid alive on this host, or any holder on another host) and renewed
   * it recently, we may "hold" a lock it also holds. Wait until the record goes stale (the holder stopped
   * renewing: dead, paused, or deposed); if it is still renewed after that bound, answer the reason to yield.
   * A kill -9 on this host (pid gone) or a clean stop (record marked released) costs no wait.
   */
  private async waitPreviousHolderGone(gen: number, previous: HolderRecord | null): Promise<string | null> {
    if (!previous || previous.nodeId === this.opts.nodeId || previous.released) return null
    const period = previous.lockKeepAlivePeriod > 0 ? previous.lockKeepAlivePeriod : 0
    if (period === 0) return null
    const staleMs = period + Math.max(period, previous.keepAliveTimeout ?? period) + 100
    const alive = (r: HolderRecord): boolean => {
      if (r.released || this.clock.now() - r.renewedAt > staleMs) return false
      if (r.host !== this.host) return true
      return this.port.pidAlive(r.pid)
    }
    if (!alive(previous)) return null
    log.warn(
      `lock acquired, but ${previous.nodeId} (${previous.host} pid ${previous.pid}) renewed the holder record ${this.clock.now() - previous.renewedAt} ms ago: waiting up to ${staleMs} ms for it to go stale`,
    )
    const deadline = this.clock.now() + staleMs + period
    while (this.clock.now() < deadline) {
      await new Promise<void>((r) => this.clock.setTimeout(r, Math.max(10, Math.min(100, period / 4))))
      if (gen !== this.gen) return null
      const cur = (await this.port.readRecord().catch(() => null))?.rec ?? null
      if (!cur || cur.nodeId !== previous.nodeId || !alive(cur)) return null
    }
    const msg = `locks do not exclude here: ${previous.nodeId} (${previous.host} pid ${previous.pid}) keeps renewing the holder record while we hold the lock — yielding (run sfbroker probe-lock --peer)`
    log.error(msg)
    return msg
  }

  private effServe(): void {
    const t = this.timeline
    if (!t || this.epoch === null) return
    const rec: TakeoverRecord = {
      ...t,
      nodeId: this.opts.nodeId,
      host: this.host,
      pid: this.pid,
      epoch: this.epoch,
      previousHolder: this.pendingTakeover?.previousHolder ?? null,
      waitedGraceMs: this.pendingTakeover?.waitedGraceMs ?? 0,
    }
    const servedMs = this.clock.now() - t.lockAcquiredAt
    this.lastTakeover = rec
    this.port
      .appendTakeover(rec)
      .catch((err: Error) => log.warn(`could not record the takeover timeline: ${err.message}`))
    log.info(
      `primary (epoch ${this.epoch}): takeover timeline lock +0 ms, epoch +${t.epochClaimedMs} ms, store +${t.storeRecoveredMs ?? '-'} ms, connectors +${t.connectorsOpenMs ?? '-'} ms, serving +${servedMs} ms`,
    )
  }

  private async effStepDown(gen: number, reason: string, then: Then): Promise<void> {
    // A requested stop (SIGTERM) is routine: info. Every other step-down (loss, fencing, unhealthy) warns.
    if (then === 'stop') log.info(`stepping down: ${reason}`)
    else log.warn(`stepping down: ${reason}`)
    this.keepAlive.stop()
    this.stall.stop()
    this.termStartedAt = null
    // Connectors close first inside deactivate (ms); the store close after them may wait on a hung share. Wait for
    // it only up to STEP_DOWN_WAIT_MS: the node is not serving (no acks: the fence refuses every write once the
    // role is not primary), and the next term waits for the rest before opening the store again.
    const d = Promise.resolve()
      .then(() => this.opts.hooks.deactivate(reason))
      .catch((err) => log.error(`deactivate hook threw (ignored): ${(err as Error).message}`))
    const tracked = d.finally(() => {
      if (this.deactivation === tracked) this.deactivation = null
    })
    this.deactivation = tracked
    if (!(await within(d, STEP_DOWN_WAIT_MS, this.clock))) {
      log.warn(
        `store close still running after ${STEP_DOWN_WAIT_MS} ms (shared filesystem slow or hung?): releasing the lock, the close goes on in the background`,
      )
    }
    // Still our lock (a stop or a hand-over, not a loss): mark the record released so the next holder need not
    // wait for it to go stale. Bounded; a throw must not stop the step-down half-way (the node would stay in
    // stepping-down forever).
    if (this.lockFile && this.record && !this.lockDoubt) await this.markReleased(this.lockFile, this.record)
    this.closeLock()
    this.epoch = null
    this.record = null
    this.timeline = null
    const next = this.thenOverride ?? then
    this.thenOverride = null
    if (gen !== this.gen) return
    // A rejoin opens the lock file afresh (tryLock), since the old path may name a new file by now.
    this.later(gen, { kind: 'stepped-down', then: next })
  }

  /** Rewrite our record as released, if the lock file and the epochs still say it is ours. Bounded; never throws. */
  private async markReleased(lf: LockHandle, rec: HolderRecord): Promise<void> {
    const bound = Math.max(500, this.opts.lock.keepAliveTimeout || this.opts.lock.lockKeepAlivePeriod || 1000)
    const work = (async () => {
      const facts = await this.port.check(false)
      if (facts.missing || facts.pathIno !== lf.ino || facts.pathDev !== lf.dev) return
      if (await this.port.epochExists(rec.epoch + 1)) return
      await this.port.writeRecord(lf.ino, lf.dev, { ...rec, released: true, renewedAt: this.clock.now() }, true)
    })().catch((err) => log.warn(`could not mark the holder record released: ${(err as Error).message}`))
    if (!(await within(work, bound, this.clock)))
      log.warn(
        `marking the holder record released did not finish within ${bound} ms; the next primary waits for it to go stale`,
      )
  }

  private cancelWaiting(): void {
    if (this.cancelWait) {
      this.cancelWait()
      this.cancelWait = null
      // A cancelled blocked call may get the lock later: only closing our descriptor makes that harmless.
      this.closeLock()
    }
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer)
    this.pollTimer = null
  }

  private effRelease(): void {
    this.cancelWaiting()
    if (this.retryTimer !== null) this.clock.clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.heartbeat.stop(true, this.opts.nodeId)
    this.keepAlive.stop()
    this.stall.stop()
    this.closeLock()
  }
}
