/**
 * Elector: the thin driver of the election state machine (state-machine.ts). It owns the lock file, the
 * epoch claim, the holder record, replica heartbeats, keep-alive, the event-loop stall monitor and failback;
 * it calls the node's hooks (activate / deactivate) and knows nothing of what they open.
 *
 * Guarantees (and how):
 * - Serve only with the lock: activate runs after the lock is held on the file currently at `<dir>/lock`
 *   (dev+ino checked right after acquiring) and after an epoch was claimed by exclusive create.
 * - Stop serving on evidence, never on lateness (issue #12): keep-alive (every lockKeepAlivePeriod) checks the
 *   path still names our inode, the holder record still names us with our epoch, and no higher epoch exists. Its
 *   fs calls run in a worker (share-io.ts) that stamps each call's start in shared memory: a call in progress for
 *   longer than keepAliveTimeout *in the worker* is a hung share, hence loss. A late timer or a stalled event loop
 *   (CPU starvation, GC, a short SIGSTOP) only triggers an immediate re-check: the epoch fence already makes a
 *   truly deposed primary harmless. On loss hooks.deactivate runs FIRST, then the lock is closed (in the worker:
 *   a close on a hung mount blocks).
 * - Survive the share: a filesystem error on a share that worked before is transient; the node stays up as a
 *   replica and retries with jittered back-off (SHARE_RETRY_*), logging once per state change.
 * - Flap damping: a primary deposed by another node's epoch waits lockAcquireSleepInterval × 2^(n-1) (capped at
 *   DEPOSAL_BACKOFF_MAX_MS, n reset after a term of STABLE_TERM_MS) before it tries again.
 * - No overlap when the lock file was replaced/deleted under a live primary: a new holder whose file does
 *   not carry the latest epoch's record on the same inode waits keepAlivePeriod + keepAliveTimeout (the old
 *   primary's detection bound) after claiming its epoch and before activating.
 * - Failback (lock.failback=true marks this node as preferred): a preferred replica's heartbeat says so; a
 *   non-preferred primary that sees a fresh preferred heartbeat steps down gracefully and retries after
 *   lockAcquireSleepInterval; a non-preferred node that gets the lock while a preferred replica is waiting
 *   yields before claiming an epoch. A preferred node whose activation fails stops claiming preference.
 * - Not promised: on a filesystem whose locks do not exclude across hosts two nodes can both hold "the" lock;
 *   then only the epoch fence (assertCurrent, keep-alive) keeps the older one from acknowledging writes.
 */
import os from 'node:os'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { LockConfig } from '../config/types.ts'
import type { EpochFence } from '../storage/types.ts'
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { ElectionHooks, Role, TakeoverTimeline } from './types.ts'
import { step, EXIT_CODES, type Effect, type Input, type Then } from './state-machine.ts'
import { isTransientShareError } from './share-errors.ts'
import { LockFile, LibcError } from './lock/index.ts'
import { StallWatchdog } from './stall-watchdog.ts'

/** A primary whose event loop is unresponsive for this many times eventLoopStallMax is killed by the watchdog. */
export const STALL_KILL_FACTOR = 3
/** Back-off while the share is unavailable: first retry, growth cap (so a returning share is used within ~1 s). */
export const SHARE_RETRY_FIRST_MS = 100
export const SHARE_RETRY_MAX_MS = 1000
/** Flap damping: the longest wait after repeated deposals, and the term length after which the count resets. */
export const DEPOSAL_BACKOFF_MAX_MS = 30_000
export const STABLE_TERM_MS = 60_000
/** How long a new term waits for the previous term's teardown (store close) before the process gives up (exit 76). */
export const TEARDOWN_WAIT_MAX_MS = 60_000
/** How long a step-down waits for hooks.deactivate before releasing the lock anyway (connectors close first, in ms). */
export const STEP_DOWN_WAIT_MS = 3000
import { ShareIO, sharesDescriptors } from './share-io.ts'
import {
  sharedPaths, readHolderRecordFd, writeHolderRecordSync, encodeRecord, maxEpoch, maxEpochSync, epochsOf,
  claimEpochSync, readReplicas, replicaFile, writeJsonAtomicAsync, appendTakeover, readTakeovers,
  parseHolderRecord, type HolderRecord, type TakeoverRecord, type ReplicaRecord,
} from './shared-dir.ts'

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

/** Fence over epochs/: fresh listing per call; throws ELECTION_FENCED if a newer epoch exists or we stepped down. */
class DirEpochFence implements EpochFence {
  constructor(
    private readonly elector: Elector,
    private readonly dir: string,
    readonly epoch: number,
  ) {}
  async assertCurrent(): Promise<void> {
    // Claims are contiguous (each is max + 1 by exclusive create), so a newer epoch exists iff epochs/<E+1> does:
    // one stat per group commit instead of a listing that grows with every takeover. Only a hit lists the directory.
    try {
      await fsp.stat(path.join(this.dir, 'epochs', String(this.epoch + 1)))
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
      if (!this.elector.serves(this.epoch)) {
        throw new BrokerError('ELECTION_FENCED', `epoch fence: epoch ${this.epoch} is no longer primary here (role ${this.elector.role})`, { details: { epoch: this.epoch } })
      }
      return
    }
    const max = Math.max(this.epoch + 1, await maxEpoch(this.dir))
    if (max > this.epoch) {
      this.elector.noteFenced(`epoch ${max} claimed by another broker, ours is ${this.epoch}`)
      throw new BrokerError('ELECTION_FENCED', `epoch fence ${this.dir}/epochs: found epoch ${max}, expected none above ${this.epoch}`, { details: { epoch: this.epoch, current: max } })
    }
    if (!this.elector.serves(this.epoch)) {
      throw new BrokerError('ELECTION_FENCED', `epoch fence: epoch ${this.epoch} is no longer primary here (role ${this.elector.role})`, { details: { epoch: this.epoch } })
    }
  }
}

export class Elector {
  private _role: Role = 'starting'
  private roleSince = Date.now()
  private readonly clock: Clock
  private readonly host: string
  private readonly paths: ReturnType<typeof sharedPaths>
  private lockFile: LockFile | null = null
  private epoch: number | null = null
  private gen = 0
  private queue: Input[] = []
  private draining = false
  private thenOverride: Then | null = null
  private cancelWait: (() => void) | null = null
  private pollTimer: unknown = null
  private retryTimer: unknown = null
  private heartbeatTimer: unknown = null
  /** Bumped by stopHeartbeat, so a heartbeat write that finishes after the stop knows it is late. */
  private heartbeatTerm = 0
  private keepAliveTimer: unknown = null
  private keepAliveRunning = false
  private keepAliveLatencyMs: number | null = null
  private stallTimer: unknown = null
  private watchdog: StallWatchdog | null = null
  private replicaSince = 0
  private loggedHolderFor: string | null = null
  private holder: HolderRecord | null = null
  private record: HolderRecord | null = null
  private timeline: TakeoverTimeline | null = null
  private lastTakeover: TakeoverRecord | null = null
  private preferred: boolean
  private started = false
  /** Set when this term ended by loss or fencing: then the lock file is not ours to write any more. */
  private lockDoubt = false
  /** The share's filesystem calls, off the main thread (see share-io.ts). */
  private readonly share: ShareIO
  /** The lock file was opened at least once: later filesystem errors are transient, not fatal. */
  private shareWorked = false
  /** The share is unavailable (logged once); consecutive failed attempts drive the back-off. */
  private shareDownSince: number | null = null
  private shareFailures = 0
  /** Deposals by another node's epoch in a row (flap damping), and when the current term began serving. */
  private deposals = 0
  private termStartedAt: number | null = null
  private keepAliveInFlight: Promise<void> | null = null
  private heartbeatInFlight = false
  /** The last removal of our replica file; the final stop waits for it (bounded) so `status` does not list us. */
  private replicaFileRemoval: Promise<void> = Promise.resolve()
  private heartbeatWrite: Promise<void> = Promise.resolve()
  private heartbeatFailing = false
  /** The previous term's hooks.deactivate, until it settles (a new term waits for it, bounded). */
  private deactivation: Promise<void> | null = null
  private resolveDone!: (code: number) => void
  /** The exit code once the elector has ended for good (see EXIT_CODES in state-machine.ts). */
  readonly done: Promise<number>

  constructor(readonly opts: ElectorOptions) {
    this.clock = opts.clock ?? systemClock
    this.host = opts.host ?? os.hostname()
    this.paths = sharedPaths(opts.sharedDir)
    this.preferred = opts.lock.failback
    this.done = new Promise((r) => (this.resolveDone = r))
    const lk = opts.lock
    this.share = new ShareIO(Math.max(1000, lk.keepAliveTimeout || lk.lockKeepAlivePeriod || 1000))
    void this.done.then(() => this.share.shutdown())
    if (lk.lockKeepAlivePeriod < 0 || lk.keepAliveTimeout < 0 || lk.lockAcquireSleepInterval <= 0 || lk.eventLoopStallMax < 0) {
      throw new BrokerError('CONFIG_INVALID', `election lock settings: lockKeepAlivePeriod=${lk.lockKeepAlivePeriod}, keepAliveTimeout=${lk.keepAliveTimeout}, lockAcquireSleepInterval=${lk.lockAcquireSleepInterval}, eventLoopStallMax=${lk.eventLoopStallMax}; expected non-negative values and lockAcquireSleepInterval > 0`)
    }
  }

  get role(): Role {
    return this._role
  }

  /** Begin the election loop; returns once the first lock attempt is under way. */
  async start(): Promise<void> {
    if (this.started) throw new Error('assertion failed: Elector.start() called twice')
    this.started = true
    fs.mkdirSync(this.opts.sharedDir, { recursive: true })
    this.lastTakeover = readTakeovers(this.opts.sharedDir).at(-1) ?? null
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

  /** Called by the fence when it saw a newer epoch. */
  noteFenced(reason: string): void {
    this.feed({ kind: 'fenced', reason })
  }

  /** Whether we are (becoming) primary with this epoch. */
  serves(epoch: number): boolean {
    return this.epoch === epoch && (this._role === 'primary' || this._role === 'activating')
  }

  /** The fence for the current epoch (null when not primary). */
  get fence(): EpochFence | null {
    return this.epoch === null ? null : new DirEpochFence(this, this.opts.sharedDir, this.epoch)
  }

  status(): ElectorStatus {
    return { nodeId: this.opts.nodeId, role: this._role, epoch: this.epoch, holder: this.record ?? this.holder, lastTakeover: this.lastTakeover, since: this.roleSince, keepAliveLatencyMs: this.keepAliveLatencyMs }
  }

  // ---- state machine plumbing ----

  private feed(input: Input): void {
    this.queue.push(input)
    if (this.draining) return
    this.draining = true
    try {
      while (this.queue.length) {
        const inp = this.queue.shift()!
        if ((inp.kind === 'lost' || inp.kind === 'fenced') && (this._role === 'primary' || this._role === 'activating')) this.lockDoubt = true
        if (inp.kind === 'fenced' && (this._role === 'primary' || this._role === 'activating')) this.noteDeposal()
        const before = this._role
        const r = step(before, inp, { failIfLocked: this.opts.lock.failIfLocked, restartAllowed: this.opts.lock.restartAllowed })
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
    this.roleSince = Date.now()
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
      case 'retryLater': {
        const ms = this.rejoinDelayMs()
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = null
          this.later(gen, { kind: 'start' })
        }, ms)
        return
      }
      case 'retryShare': {
        const ms = this.shareRetryMs()
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = null
          this.later(gen, { kind: 'start' })
        }, ms)
        return
      }
      case 'finish': {
        this.effRelease()
        log.info(`election ended (exit code ${e.code})`)
        let timer: unknown = null
        const bound = new Promise<void>((r) => (timer = this.clock.setTimeout(r, 2000)))
        void Promise.race([this.replicaFileRemoval, bound]).then(() => {
          this.clock.clearTimeout(timer)
          this.resolveDone(e.code)
        })
        return
      }
    }
  }

  // ---- effects ----

  /** Open afresh if needed and try once. Locks on a file no longer at the path are dropped and retried. */
  private async effTryLock(gen: number): Promise<void> {
    if (!this.opts.lock.useLock) return this.later(gen, { kind: 'locked' })
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!this.lockFile) {
          const lf = await LockFile.open(this.paths.lock, this.opts.lock.type, this.fileOpener())
          if (gen !== this.gen || this.lockFile) {
            lf.close(this.fileOpener())
            return
          }
          this.lockFile = lf
          this.noteShareWorks()
        }
        if (!this.lockFile.tryLock()) return this.later(gen, { kind: 'busy' })
        if (await this.lockStillAtPath()) return this.later(gen, { kind: 'locked' })
        if (gen !== this.gen) return
        log.warn(`locked ${this.paths.lock} but the path now names another file; reopening`)
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
      log.info(`shared directory ${this.opts.sharedDir} is back after ${Date.now() - this.shareDownSince} ms: competing for the lock again`)
      this.shareDownSince = null
    }
  }

  /** The next retry while the share is unavailable: 100 ms doubling to 1 s, with ±25 % jitter. Logs once. */
  private shareRetryMs(): number {
    if (this.shareDownSince === null) {
      this.shareDownSince = Date.now()
      log.warn(`shared directory ${this.opts.sharedDir} is unavailable; staying up as a replica and retrying until it returns`)
    }
    const base = Math.min(SHARE_RETRY_MAX_MS, SHARE_RETRY_FIRST_MS * 2 ** Math.min(10, this.shareFailures++))
    return Math.round(base * (0.75 + Math.random() * 0.5))
  }

  /** A deposal by another node's epoch: count it, unless the term that ended was long and stable. */
  private noteDeposal(): void {
    const term = this.termStartedAt === null ? 0 : Date.now() - this.termStartedAt
    if (term >= STABLE_TERM_MS) this.deposals = 0
    this.deposals++
  }

  /** Delay before competing again after a step-down: lockAcquireSleepInterval, doubled per deposal in a row. */
  private rejoinDelayMs(): number {
    const ms = deposalBackoffMs(this.opts.lock.lockAcquireSleepInterval, this.deposals, Math.random())
    if (this.deposals > 1) log.warn(`deposed by another node's epoch ${this.deposals} times in a row: waiting ${ms} ms before competing again (flap damping)`)
    return ms
  }

  private async lockStillAtPath(): Promise<boolean> {
    const lf = this.lockFile
    if (!lf) return false
    try {
      const st = await this.share.stat(this.paths.lock)
      return st.ino === lf.ino && st.dev === lf.dev
    } catch {
      return false
    }
  }

  /** Close the lock file in the share worker: never blocks this thread, even on a hung mount. */
  private closeLock(): void {
    this.lockFile?.close(this.fileOpener())
    this.lockFile = null
  }

  /** The share worker opens and closes the lock file where descriptors are process-wide (Bun); else this thread. */
  private fileOpener(): ShareIO | undefined {
    return sharesDescriptors ? this.share : undefined
  }

  private effWait(gen: number): void {
    this.startHeartbeat()
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
          log.warn(`woke with the lock of a file no longer at ${this.paths.lock}; reopening`)
          this.closeLock()
          void this.effTryLock(gen)
        },
        (err) => {
          this.cancelWait = null
          if (err instanceof LibcError && err.wouldBlock) return this.later(gen, { kind: 'busy' })
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

  private logHolderOnce(): void {
    const lf = this.lockFile
    let rec: HolderRecord | null = null
    try {
      rec = lf ? readHolderRecordFd(lf.fd) : null
    } catch {
      rec = null
    }
    this.holder = rec
    const key = rec ? `${rec.nodeId}:${rec.epoch}` : 'unknown'
    if (this.loggedHolderFor === key) return
    this.loggedHolderFor = key
    if (rec) log.info(`replica: ${this.paths.lock} is locked by ${rec.nodeId} (${rec.brokerName} on ${rec.host}, pid ${rec.pid}, epoch ${rec.epoch}); waiting for the lock`)
    else log.info(`replica: ${this.paths.lock} is locked by another broker (no holder record yet); waiting for the lock`)
  }

  private startHeartbeat(): void {
    if (this.heartbeatTimer !== null) return
    this.replicaSince = this.replicaSince || Date.now()
    const period = this.heartbeatMs()
    const term = this.heartbeatTerm
    const file = replicaFile(this.opts.sharedDir, this.opts.nodeId)
    const beat = () => {
      this.heartbeatTimer = this.clock.setTimeout(beat, period)
      // One write at a time: on a hung share each would otherwise hold a thread of the fs pool, until none is left.
      if (this.heartbeatInFlight) return
      this.heartbeatInFlight = true
      this.heartbeatWrite = writeJsonAtomicAsync(file, {
        nodeId: this.opts.nodeId, role: 'replica', host: this.host, pid: process.pid, brokerName: this.opts.brokerName,
        since: this.replicaSince, lastSeen: Date.now(), preferred: this.preferred, heartbeatMs: period,
      }).then(
        () => {
          if (this.heartbeatFailing) log.info('replica heartbeat written again')
          this.heartbeatFailing = false
          // A write still in flight when the heartbeat stopped (takeover, stop) lands after the file was
          // removed and would re-create it: `status` would then list this node as a replica forever and
          // soon warn that it is gone. Remove it again unless a new heartbeat term has begun since.
          if (term !== this.heartbeatTerm && this.heartbeatTimer === null) void fsp.rm(file, { force: true }).catch(() => undefined)
        },
        (err) => {
          // Once per state change: a share that is gone fails every beat.
          if (!this.heartbeatFailing) log.warn(`replica heartbeat write failed: ${(err as Error).message}`)
          this.heartbeatFailing = true
        },
      ).catch(() => undefined).finally(() => (this.heartbeatInFlight = false))
    }
    beat()
  }

  private stopHeartbeat(removeFile: boolean): void {
    if (removeFile) this.heartbeatTerm++
    if (this.heartbeatTimer !== null) this.clock.clearTimeout(this.heartbeatTimer)
    this.heartbeatTimer = null
    this.replicaSince = 0
    if (removeFile) {
      // Best effort and asynchronous (a hung share must not hold the loop): status ages a stale file out.
      // After a write still in flight, or its rename would re-create the file once we are gone.
      const file = replicaFile(this.opts.sharedDir, this.opts.nodeId)
      const rm = () => fsp.rm(file, { force: true }).catch(() => undefined)
      this.replicaFileRemoval = Promise.all([rm(), this.heartbeatWrite.catch(() => undefined).then(rm)]).then(() => undefined)
    }
  }

  private heartbeatMs(): number {
    return this.opts.lock.lockKeepAlivePeriod > 0 ? this.opts.lock.lockKeepAlivePeriod : 1000
  }

  private graceMs(): number {
    const lk = this.opts.lock
    return lk.lockKeepAlivePeriod > 0 ? lk.lockKeepAlivePeriod + (lk.keepAliveTimeout || lk.lockKeepAlivePeriod) + 50 : 0
  }

  private async preferredReplicaWaiting(): Promise<boolean> {
    if (this.preferred) return false
    return this.preferredIn(await readReplicas(this.opts.sharedDir))
  }

  private preferredIn(reps: ReplicaRecord[]): boolean {
    const now = Date.now()
    return reps.some((r) => r.preferred && r.nodeId !== this.opts.nodeId && now - r.lastSeen < 3 * (r.heartbeatMs || 1000) + 1000)
  }

  private async effActivate(gen: number): Promise<void> {
    const lockAcquiredAt = Date.now()
    const lf = this.lockFile
    try {
      // The previous term's teardown (store close) may still run if the share hung; a new term must not open the
      // store beside it. It gets a bound: a close that never returns leaves a process only a restart can clean.
      if (this.deactivation) {
        const prev = this.deactivation
        let timer: unknown = null
        const r = await Promise.race([prev.then(() => 'done' as const), new Promise<'timeout'>((res) => (timer = this.clock.setTimeout(() => res('timeout'), TEARDOWN_WAIT_MAX_MS)))])
        this.clock.clearTimeout(timer)
        if (r === 'timeout') {
          log.error(`the previous term's teardown did not finish within ${TEARDOWN_WAIT_MAX_MS} ms (a filesystem call never returned): exiting with ${EXIT_CODES.teardownStuck} so a supervisor restarts this node`)
          this.setRole('stopped', 'teardown stuck')
          this.effRelease()
          this.resolveDone(EXIT_CODES.teardownStuck)
          return
        }
        if (gen !== this.gen) return
      }
      if (this.opts.lock.useLock && (await this.preferredReplicaWaiting())) {
        return this.later(gen, { kind: 'yield', reason: 'a preferred broker (failback) is waiting: yielding the lock' })
      }
      if (gen !== this.gen) return
      if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer)
      this.pollTimer = null
      this.stopHeartbeat(true)
      this.lockDoubt = false
      let previous: HolderRecord | null = null
      let graceMs = 0
      const maxBefore = maxEpochSync(this.opts.sharedDir)
      if (lf) {
        previous = this.readLockedRecord(lf)
        const live = await this.waitPreviousHolderGone(gen, previous)
        if (gen !== this.gen) return
        if (live) return this.later(gen, { kind: 'yield', reason: live })
        previous = this.readLockedRecord(lf) ?? previous
        // ino only: st_dev differs between hosts (and FUSE mounts) for the same file.
        const sameInode = previous !== null && previous.ino === lf.ino
        // The latest primary wrote its record into this very inode and we now hold its lock: it is gone.
        // Otherwise the file was replaced or deleted, and that primary may still be serving on the old inode.
        if (maxBefore > 0 && !(sameInode && previous!.epoch === maxBefore)) graceMs = this.graceMs()
      }
      const epoch = claimEpochSync(this.opts.sharedDir, { nodeId: this.opts.nodeId, host: this.host, pid: process.pid })
      if (epoch === null) return this.later(gen, { kind: 'fenced', reason: 'lost the epoch claim race to another broker' })
      if (gen !== this.gen) return
      this.epoch = epoch
      const epochClaimedMs = Date.now() - lockAcquiredAt
      this.timeline = {
        lockAcquiredAt, epochClaimedMs, storeRecoveredMs: null, connectorsOpenMs: null,
        previousHolderLastRenewedAgoMs: previous ? lockAcquiredAt - previous.renewedAt : null,
      }
      const info = this.opts.info ?? {}
      this.record = {
        nodeId: this.opts.nodeId, host: this.host, pid: process.pid, brokerName: this.opts.brokerName, epoch,
        acquiredAt: lockAcquiredAt, renewedAt: Date.now(), connectors: this.opts.connectors, version: info.version ?? '',
        lockType: this.opts.lock.useLock ? this.opts.lock.type : 'none', lockKeepAlivePeriod: this.opts.lock.lockKeepAlivePeriod,
        keepAliveTimeout: this.opts.lock.keepAliveTimeout || this.opts.lock.lockKeepAlivePeriod, released: false,
        dev: lf?.dev ?? 0, ino: lf?.ino ?? 0, adapter: info.adapter ?? null, dataDirectory: info.dataDirectory ?? null,
        schedulerDirectory: info.schedulerDirectory ?? null, schedulerSupport: info.schedulerSupport ?? false, preferred: this.preferred,
      }
      if (lf) writeHolderRecordSync(lf.fd, this.record)
      this.startKeepAlive(gen)
      this.startStallMonitor(gen)
      log.info(`lock acquired: epoch ${epoch} claimed in ${epochClaimedMs} ms${previous ? ` (previous holder ${previous.nodeId}, epoch ${previous.epoch})` : ''}`)
      if (graceMs > 0) {
        log.warn(`the lock file does not carry the latest primary's record (epoch ${maxBefore}): waiting ${graceMs} ms for it to notice before serving`)
        await new Promise<void>((r) => this.clock.setTimeout(r, graceMs))
        if (gen !== this.gen) return
      }
      this.pendingTakeover = { previousHolder: previous?.nodeId ?? null, waitedGraceMs: graceMs }
      const fence = new DirEpochFence(this, this.opts.sharedDir, epoch)
      await this.opts.hooks.activate({
        epoch,
        fence,
        mark: (stepName, bound) => {
          if (!this.timeline || this.epoch !== epoch) return
          const ms = Date.now() - this.timeline.lockAcquiredAt
          if (stepName === 'storeRecovered') this.timeline.storeRecoveredMs = ms
          else {
            this.timeline.connectorsOpenMs = ms
            if (bound && this.record?.epoch === epoch) this.record.connectors = bound
          }
        },
      })
      this.later(gen, { kind: 'activated' })
    } catch (err) {
      if (isBrokerError(err, 'ELECTION_FENCED')) return this.later(gen, { kind: 'fenced', reason: (err as Error).message })
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
      if (r.released || Date.now() - r.renewedAt > staleMs) return false
      if (r.host !== this.host) return true
      return pidAlive(r.pid)
    }
    if (!alive(previous)) return null
    log.warn(`lock acquired, but ${previous.nodeId} (${previous.host} pid ${previous.pid}) renewed the holder record ${Date.now() - previous.renewedAt} ms ago: waiting up to ${staleMs} ms for it to go stale`)
    const deadline = Date.now() + staleMs + period
    while (Date.now() < deadline) {
      await new Promise<void>((r) => this.clock.setTimeout(r, Math.max(10, Math.min(100, period / 4))))
      if (gen !== this.gen) return null
      let cur: HolderRecord | null = null
      try {
        cur = parseHolderRecord(await fsp.readFile(this.paths.lock, 'utf8'))
      } catch {
        cur = null
      }
      if (!cur || cur.nodeId !== previous.nodeId || !alive(cur)) return null
    }
    const msg = `locks do not exclude here: ${previous.nodeId} (${previous.host} pid ${previous.pid}) keeps renewing the holder record while we hold the lock — yielding (run sfbroker probe-lock --peer)`
    log.error(msg)
    return msg
  }

  /**
   * The holder record of the file we locked, read through a fresh open of the path while it still names that file.
   * A read through our long-held fd can return stale cached pages on NFS and FUSE (close-to-open consistency: only
   * an open revalidates); a stale record made the chaos harness's takeovers wait the full grace period (~1 s) after
   * a kill -9 because the new holder saw an older primary's record instead of the latest one.
   */
  private readLockedRecord(lf: { fd: number; ino: number }): HolderRecord | null {
    try {
      const fd = fs.openSync(this.paths.lock, 'r')
      try {
        if (fs.fstatSync(fd).ino === lf.ino) return readHolderRecordFd(fd)
      } finally {
        fs.closeSync(fd)
      }
    } catch {
      // the path is gone or unreadable: fall back to our own descriptor
    }
    return readHolderRecordFd(lf.fd)
  }

  private pendingTakeover: { previousHolder: string | null; waitedGraceMs: number } | null = null

  private effServe(): void {
    const t = this.timeline
    if (!t || this.epoch === null) return
    const rec: TakeoverRecord = {
      ...t, nodeId: this.opts.nodeId, host: this.host, pid: process.pid, epoch: this.epoch,
      previousHolder: this.pendingTakeover?.previousHolder ?? null, waitedGraceMs: this.pendingTakeover?.waitedGraceMs ?? 0,
    }
    const servedMs = Date.now() - t.lockAcquiredAt
    this.lastTakeover = rec
    try {
      appendTakeover(this.opts.sharedDir, rec)
    } catch (err) {
      log.warn(`could not record the takeover timeline: ${(err as Error).message}`)
    }
    log.info(`primary (epoch ${this.epoch}): takeover timeline lock +0 ms, epoch +${t.epochClaimedMs} ms, store +${t.storeRecoveredMs ?? '-'} ms, connectors +${t.connectorsOpenMs ?? '-'} ms, serving +${servedMs} ms`)
  }

  private async effStepDown(gen: number, reason: string, then: Then): Promise<void> {
    // A requested stop (SIGTERM) is routine: info. Every other step-down (loss, fencing, unhealthy) warns.
    if (then === 'stop') log.info(`stepping down: ${reason}`)
    else log.warn(`stepping down: ${reason}`)
    this.stopKeepAlive()
    this.stopStallMonitor()
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
    let timer: unknown = null
    const settled = await Promise.race([d.then(() => true), new Promise<false>((r) => (timer = this.clock.setTimeout(() => r(false), STEP_DOWN_WAIT_MS)))])
    this.clock.clearTimeout(timer)
    if (!settled) log.warn(`store close still running after ${STEP_DOWN_WAIT_MS} ms (shared filesystem slow or hung?): releasing the lock, the close goes on in the background`)
    // Still our lock (a stop or a hand-over, not a loss): mark the record released so the next holder need not
    // wait for it to go stale. Off the main thread and bounded: every call here may hang or fail on a bad share,
    // and a throw must not stop the step-down half-way (the node would stay in stepping-down forever).
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
  private async markReleased(lf: LockFile, rec: HolderRecord): Promise<void> {
    const bound = Math.max(500, this.opts.lock.keepAliveTimeout || this.opts.lock.lockKeepAlivePeriod || 1000)
    const work = (async () => {
      const facts = await this.share.check({ lockPath: this.paths.lock, epochsDir: this.paths.epochs })
      if (facts.missing || facts.pathIno !== lf.ino || facts.pathDev !== lf.dev) return
      if (Math.max(0, ...epochsOf(facts.epochs)) > rec.epoch) return
      await this.share.write(this.paths.lock, lf.ino, lf.dev, encodeRecord({ ...rec, released: true, renewedAt: Date.now() }).toString('utf8'))
    })().catch((err) => log.warn(`could not mark the holder record released: ${(err as Error).message}`))
    let timer: unknown = null
    const done = await Promise.race([work.then(() => true), new Promise<false>((r) => (timer = this.clock.setTimeout(() => r(false), bound)))])
    this.clock.clearTimeout(timer)
    if (!done) log.warn(`marking the holder record released did not finish within ${bound} ms; the next primary waits for it to go stale`)
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
    this.stopHeartbeat(true)
    this.stopKeepAlive()
    this.stopStallMonitor()
    this.closeLock()
  }

  // ---- keep-alive ----

  private startKeepAlive(gen: number): void {
    const period = this.opts.lock.lockKeepAlivePeriod
    if (period <= 0 || !this.opts.lock.useLock) return
    const tick = () => {
      this.keepAliveTimer = null
      if (this._role !== 'primary' && this._role !== 'activating') return
      void this.keepAliveOnce(gen).finally(() => {
        if (this.keepAliveRunning && this.keepAliveTimer === null && (this._role === 'primary' || this._role === 'activating')) this.keepAliveTimer = this.clock.setTimeout(tick, period)
      })
    }
    this.keepAliveRunning = true
    this.keepAliveTimer = this.clock.setTimeout(tick, period)
  }

  private stopKeepAlive(): void {
    this.keepAliveRunning = false
    if (this.keepAliveTimer !== null) this.clock.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = null
  }

  /** Re-check the lock now (the loop was late or stalled): evidence decides, lateness alone never does. */
  private recheckNow(why: string): void {
    if (!this.keepAliveRunning || this._role !== 'primary') return
    log.warn(`${why}: re-checking the lock now (a late event loop is not evidence of loss)`)
    void this.keepAliveOnce(this.gen)
  }

  /**
   * One keep-alive check. Evidence of loss (feeds `lost` / `fenced`): the lock path names another inode or nothing,
   * the holder record names another node or epoch, a higher epoch exists, or one filesystem call has been in
   * progress in the share worker for longer than keepAliveTimeout (hung share). The hang is read from the worker's
   * own stamp (share-io.ts), so a starved loop that polls late cannot fake one. Runs one at a time.
   */
  private keepAliveOnce(gen: number): Promise<void> {
    if (this.keepAliveInFlight) return this.keepAliveInFlight
    void gen
    const p = this.keepAliveCheck().finally(() => {
      if (this.keepAliveInFlight === p) this.keepAliveInFlight = null
    })
    this.keepAliveInFlight = p
    return p
  }

  private async keepAliveCheck(): Promise<void> {
    const lf = this.lockFile
    const rec = this.record
    if (!lf || !rec) return
    const timeoutMs = this.opts.lock.keepAliveTimeout || this.opts.lock.lockKeepAlivePeriod
    const pollMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 4)))
    let timer: unknown = null
    let settled = false
    const hung = new Promise<'hung'>((resolve) => {
      const poll = () => {
        if (settled) return
        if (this.share.busyForMs() > timeoutMs) return resolve('hung')
        timer = this.clock.setTimeout(poll, pollMs)
      }
      timer = this.clock.setTimeout(poll, pollMs)
    })
    const wantReplicas = this.opts.lock.failback === false && !this.preferred
    const check = (async (): Promise<Input | 'yield' | null> => {
      const facts = await this.share.check({ lockPath: this.paths.lock, epochsDir: this.paths.epochs, replicasDir: wantReplicas ? this.paths.replicas : undefined })
      if (facts.missing) return { kind: 'lost', reason: `keep-alive: ${this.paths.lock} cannot be read (${facts.missing}): lock file missing` }
      if (facts.pathIno !== lf.ino || facts.pathDev !== lf.dev) return { kind: 'lost', reason: `keep-alive: ${this.paths.lock} was replaced (inode ${facts.pathIno}, we locked ${lf.ino})` }
      const onDisk = parseHolderRecord(facts.recordText)
      if (!onDisk || onDisk.nodeId !== rec.nodeId || onDisk.epoch !== rec.epoch) {
        return { kind: 'lost', reason: `keep-alive: holder record names ${onDisk ? `${onDisk.nodeId} epoch ${onDisk.epoch}` : 'nobody (unreadable)'}, expected ${rec.nodeId} epoch ${rec.epoch}` }
      }
      const max = Math.max(0, ...epochsOf(facts.epochs))
      if (max > rec.epoch) return { kind: 'fenced', reason: `keep-alive: epoch ${max} exists above ours (${rec.epoch})` }
      if (wantReplicas && facts.replicas) {
        const reps: ReplicaRecord[] = []
        for (const t of facts.replicas) {
          try {
            const r = JSON.parse(t) as ReplicaRecord
            if (typeof r.nodeId === 'string') reps.push(r)
          } catch {
            // being replaced or torn: skip this round
          }
        }
        if (this.preferredIn(reps)) return 'yield'
      }
      // The hang verdict may already have been given and the step-down may have handed the lock over: a renewal
      // written now would overwrite the next primary's record and depose it. Renew only while this term runs.
      if (!this.keepAliveRunning || rec !== this.record) return null
      rec.renewedAt = Date.now()
      await this.share.write(this.paths.lock, lf.ino, lf.dev, encodeRecord(rec).toString('utf8'))
      return null
    })().catch((err): Input => ({ kind: 'lost', reason: `keep-alive check failed: ${(err as Error).message}` }))
    const checkStartedAt = Date.now()
    const outcome = await Promise.race([check, hung])
    settled = true
    this.clock.clearTimeout(timer)
    this.keepAliveLatencyMs = Date.now() - checkStartedAt
    if (rec !== this.record) return // a step-down (or a new term) happened meanwhile
    if (outcome === 'hung') return this.feed({ kind: 'lost', reason: `keep-alive: a filesystem call on the share has made no progress for over ${timeoutMs} ms (hung filesystem?)` })
    if (outcome === 'yield') return this.feed({ kind: 'yield', reason: 'a preferred broker (failback) is waiting: handing over' })
    if (outcome) this.feed(outcome)
  }

  // ---- event-loop stall monitor ----

  private startStallMonitor(gen: number): void {
    const max = this.opts.lock.eventLoopStallMax
    if (max <= 0) return
    // A stall that never ends cannot be seen from this loop: a watchdog thread kills the process at
    // STALL_KILL_FACTOR x eventLoopStallMax, so the lock is released. A stall that ends sooner is not evidence of
    // anything: it triggers an immediate keep-alive re-check, which steps down only if the lock was really lost.
    if (!this.watchdog) {
      this.watchdog = new StallWatchdog(max * STALL_KILL_FACTOR)
      const err = this.watchdog.start()
      if (err) {
        log.warn(`stall watchdog unavailable (${err}): a never-ending stall would keep the lock`)
        this.watchdog = null
      } else {
        void this.done.then(() => this.watchdog?.stop())
      }
    }
    this.watchdog?.arm()
    const interval = Math.max(10, Math.min(500, Math.floor(max / 4)))
    let last = Date.now()
    const tick = () => {
      const now = Date.now()
      const lag = now - last - interval
      last = now
      if (this._role !== 'primary' && this._role !== 'activating') return
      if (lag > max) this.recheckNow(`event loop stalled for ${lag} ms (eventLoopStallMax ${max} ms)`)
      this.stallTimer = setTimeout(tick, interval)
    }
    void gen
    this.stallTimer = setTimeout(tick, interval)
  }

  private stopStallMonitor(): void {
    this.watchdog?.disarm()
    if (this.stallTimer !== null) clearTimeout(this.stallTimer as ReturnType<typeof setTimeout>)
    this.stallTimer = null
  }
}

/**
 * Flap damping: the wait before competing for the lock again after `deposals` deposals in a row by another node's
 * epoch. One deposal waits `baseMs` (lockAcquireSleepInterval); each further one doubles it, up to
 * DEPOSAL_BACKOFF_MAX_MS, with ±25 % jitter (`random` in [0, 1)) so two flapping nodes drift apart.
 */
export function deposalBackoffMs(baseMs: number, deposals: number, random: number): number {
  if (deposals <= 1) return baseMs
  const ms = Math.min(DEPOSAL_BACKOFF_MAX_MS, baseMs * 2 ** Math.min(16, deposals - 1))
  return Math.round(ms * (0.75 + random * 0.5))
}

/** Whether a process of this host is alive: exists and is not a zombie (killed, not yet reaped by its parent). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return true // no /proc: trust kill(0)
  }
}
