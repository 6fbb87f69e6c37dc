/**
 * Elector: the thin driver of the election state machine (state-machine.ts). It owns the lock file, the
 * epoch claim, the holder record, replica heartbeats, keep-alive, the event-loop stall monitor and failback;
 * it calls the node's hooks (activate / deactivate) and knows nothing of what they open.
 *
 * Guarantees (and how):
 * - Serve only with the lock: activate runs after the lock is held on the file currently at `<dir>/lock`
 *   (dev+ino checked right after acquiring) and after an epoch was claimed by exclusive create.
 * - Stop serving on any doubt: keep-alive (every lockKeepAlivePeriod) checks the path still names our inode,
 *   the holder record still names us with our epoch, no higher epoch exists, and that the check finished
 *   within keepAliveTimeout. Its fs calls are async (thread pool) and a timer races them, so a hung NFS call
 *   cannot stop the loss from being declared. On loss hooks.deactivate runs FIRST, then the lock is closed.
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
import type { LockConfig } from '../config/types.ts'
import type { EpochFence } from '../storage/types.ts'
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import { systemClock, type Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { ElectionHooks, Role, TakeoverTimeline } from './types.ts'
import { step, EXIT_CODES, type Effect, type Input, type Then } from './state-machine.ts'
import { LockFile, LibcError } from './lock/index.ts'
import { StallWatchdog } from './stall-watchdog.ts'

/** A primary whose event loop is unresponsive for this many times eventLoopStallMax is killed by the watchdog. */
export const STALL_KILL_FACTOR = 3
import {
  sharedPaths, readHolderRecordFd, writeHolderRecordSync, writeHolderRecord, fstatAsync, maxEpoch, maxEpochSync,
  claimEpochSync, readReplicas, replicaFile, writeJsonAtomicAsync, appendTakeover, readTakeovers,
  parseHolderRecord, type HolderRecord, type TakeoverRecord,
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
    const max = await maxEpoch(this.dir)
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
  /** When the holder record was last renewed as primary, or the term began serving (null when not primary). */
  private lastPrimaryRenewalAt: number | null = null
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
    log.error(`unhealthy: ${reason}; giving up the lock`)
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
        const before = this._role
        const r = step(before, inp, { failIfLocked: this.opts.lock.failIfLocked, restartAllowed: this.opts.lock.restartAllowed })
        if (r.role !== before) {
          this.gen++
          this.setRole(r.role, 'reason' in inp ? inp.reason : inp.kind)
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
    // The pause bound of keep-alive counts from the moment serving began (recovery may have blocked before).
    if (role === 'primary') this.lastPrimaryRenewalAt = this.roleSince
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
        this.retryTimer = this.clock.setTimeout(() => {
          this.retryTimer = null
          this.later(gen, { kind: 'start' })
        }, this.opts.lock.lockAcquireSleepInterval)
        return
      case 'finish':
        this.effRelease()
        log.info(`election ended (exit code ${e.code})`)
        this.resolveDone(e.code)
        return
    }
  }

  // ---- effects ----

  /** Open afresh if needed and try once. Locks on a file no longer at the path are dropped and retried. */
  private async effTryLock(gen: number): Promise<void> {
    if (!this.opts.lock.useLock) return this.later(gen, { kind: 'locked' })
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!this.lockFile) {
          const lf = await LockFile.open(this.paths.lock, this.opts.lock.type)
          if (gen !== this.gen || this.lockFile) {
            lf.close()
            return
          }
          this.lockFile = lf
        }
        if (!this.lockFile.tryLock()) return this.later(gen, { kind: 'busy' })
        if (this.lockStillAtPath()) return this.later(gen, { kind: 'locked' })
        log.warn(`locked ${this.paths.lock} but the path now names another file; reopening`)
        this.closeLock()
      }
      this.later(gen, { kind: 'busy' })
    } catch (err) {
      this.later(gen, { kind: 'lock-error', reason: (err as Error).message })
    }
  }

  private lockStillAtPath(): boolean {
    const lf = this.lockFile
    if (!lf) return false
    try {
      const st = fs.statSync(this.paths.lock)
      return st.ino === lf.ino && st.dev === lf.dev
    } catch {
      return false
    }
  }

  private closeLock(): void {
    this.lockFile?.close()
    this.lockFile = null
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
        () => {
          this.cancelWait = null
          if (gen !== this.gen) return
          if (this.lockStillAtPath()) return this.feed({ kind: 'locked' })
          log.warn(`woke with the lock of a file no longer at ${this.paths.lock}; reopening`)
          this.closeLock()
          void this.effTryLock(gen)
        },
        (err) => {
          this.cancelWait = null
          if (err instanceof LibcError && err.wouldBlock) return this.later(gen, { kind: 'busy' })
          this.later(gen, { kind: 'lock-error', reason: (err as Error).message })
        },
      )
    } else {
      this.pollTimer = this.clock.setTimeout(() => {
        this.pollTimer = null
        if (gen !== this.gen) return
        if (!this.lockStillAtPath()) this.closeLock()
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
      void writeJsonAtomicAsync(file, {
        nodeId: this.opts.nodeId, role: 'replica', host: this.host, pid: process.pid, brokerName: this.opts.brokerName,
        since: this.replicaSince, lastSeen: Date.now(), preferred: this.preferred, heartbeatMs: period,
      }).then(
        () => {
          // A write still in flight when the heartbeat stopped (takeover, stop) lands after the file was
          // removed and would re-create it: `status` would then list this node as a replica forever and
          // soon warn that it is gone. Remove it again unless a new heartbeat term has begun since.
          if (term !== this.heartbeatTerm && this.heartbeatTimer === null) fs.rmSync(file, { force: true })
        },
        (err) => log.warn(`replica heartbeat write failed: ${(err as Error).message}`),
      ).catch(() => undefined)
      this.heartbeatTimer = this.clock.setTimeout(beat, period)
    }
    beat()
  }

  private stopHeartbeat(removeFile: boolean): void {
    if (removeFile) this.heartbeatTerm++
    if (this.heartbeatTimer !== null) this.clock.clearTimeout(this.heartbeatTimer)
    this.heartbeatTimer = null
    this.replicaSince = 0
    if (removeFile) {
      try {
        fs.rmSync(replicaFile(this.opts.sharedDir, this.opts.nodeId), { force: true })
      } catch {
        // best effort: status ages it out
      }
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
    const now = Date.now()
    const reps = await readReplicas(this.opts.sharedDir)
    return reps.some((r) => r.preferred && r.nodeId !== this.opts.nodeId && now - r.lastSeen < 3 * (r.heartbeatMs || 1000) + 1000)
  }

  private async effActivate(gen: number): Promise<void> {
    const lockAcquiredAt = Date.now()
    const lf = this.lockFile
    try {
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
    try {
      await this.opts.hooks.deactivate(reason)
    } catch (err) {
      log.error(`deactivate hook threw (ignored): ${(err as Error).message}`)
    }
    // Still our lock (a stop or a hand-over, not a loss): mark the record released so the next holder need not
    // wait for it to go stale.
    // Every call here may fail (the share is gone: ENOTCONN): a throw must not stop the step-down half-way, or
    // the node stays in stepping-down forever, never rejoins and hangs on SIGTERM (found by the chaos harness).
    try {
      if (this.lockFile && this.record && !this.lockDoubt && this.lockStillAtPath() && maxEpochSync(this.opts.sharedDir) <= this.record.epoch) {
        writeHolderRecordSync(this.lockFile.fd, { ...this.record, released: true, renewedAt: Date.now() })
      }
    } catch (err) {
      log.warn(`could not mark the holder record released: ${(err as Error).message}`)
    }
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
        if (this.keepAliveRunning && (this._role === 'primary' || this._role === 'activating')) this.keepAliveTimer = this.clock.setTimeout(tick, period)
      })
    }
    this.keepAliveRunning = true
    this.keepAliveTimer = this.clock.setTimeout(tick, period)
  }

  private stopKeepAlive(): void {
    this.keepAliveRunning = false
    this.lastPrimaryRenewalAt = null
    if (this.keepAliveTimer !== null) this.clock.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = null
  }

  /** One keep-alive check, raced against keepAliveTimeout. Any doubt feeds `lost` / `fenced`. */
  private async keepAliveOnce(gen: number): Promise<void> {
    const lf = this.lockFile
    const rec = this.record
    if (!lf || !rec) return
    const timeoutMs = this.opts.lock.keepAliveTimeout || this.opts.lock.lockKeepAlivePeriod
    // A primary that could not renew for longer than period + timeout (SIGSTOP, VM pause, starved process)
    // may already be treated as gone by the others (they call a record stale a little after that bound), so it
    // must not resume serving as if nothing happened. Only gaps between renewals made as primary count: store
    // recovery during activation may block the loop, and fencing covers that window.
    const overdue = (): Input | null => {
      if (this._role !== 'primary' || this.lastPrimaryRenewalAt === null) return null
      const gapMs = Date.now() - this.lastPrimaryRenewalAt
      const boundMs = this.opts.lock.lockKeepAlivePeriod + timeoutMs
      if (gapMs <= boundMs) return null
      return { kind: 'lost', reason: `keep-alive: ${gapMs} ms since the last renewal (paused or starved?), over keepAlivePeriod+keepAliveTimeout = ${boundMs} ms: others may already treat this primary as gone` }
    }
    const late = overdue()
    if (late) return this.feed(late)
    // "Hung" means one filesystem call made no progress for keepAliveTimeout, not that the whole check took that
    // long: on a saturated event loop (tens of thousands of msg/s) each of the check's calls waits its turn for
    // the loop, and a wall-clock bound on the whole check deposed healthy primaries under load. Progress is
    // measured in ticks of `tickMs` on this loop, so a busy loop slows the verdict rather than faking one; a call
    // that hangs (NFS server gone) gets no progress at all and is declared lost after keepAliveTimeout.
    const tickMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 4)))
    let idleTicks = 0
    let timer: unknown = null
    let settled = false
    const progress = <T>(p: Promise<T>): Promise<T> => p.finally(() => (idleTicks = 0))
    const timedOut = new Promise<'timeout'>((resolve) => {
      const tick = () => {
        if (settled) return
        if (++idleTicks * tickMs >= timeoutMs) return resolve('timeout')
        timer = this.clock.setTimeout(tick, tickMs)
      }
      timer = this.clock.setTimeout(tick, tickMs)
    })
    const check = (async (): Promise<Input | 'yield' | null> => {
      let st: fs.Stats
      try {
        st = await progress(fsp.stat(this.paths.lock))
      } catch (err) {
        return { kind: 'lost', reason: `keep-alive: ${this.paths.lock} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): lock file missing` }
      }
      const fst = await progress(fstatAsync(lf.fd))
      if (st.ino !== fst.ino || st.dev !== fst.dev) return { kind: 'lost', reason: `keep-alive: ${this.paths.lock} was replaced (inode ${st.ino}, we locked ${fst.ino})` }
      const onDisk = parseHolderRecord(await progress(fsp.readFile(this.paths.lock, 'utf8')))
      if (!onDisk || onDisk.nodeId !== rec.nodeId || onDisk.epoch !== rec.epoch) {
        return { kind: 'lost', reason: `keep-alive: holder record names ${onDisk ? `${onDisk.nodeId} epoch ${onDisk.epoch}` : 'nobody (unreadable)'}, expected ${rec.nodeId} epoch ${rec.epoch}` }
      }
      const max = await progress(maxEpoch(this.opts.sharedDir))
      if (max > rec.epoch) return { kind: 'fenced', reason: `keep-alive: epoch ${max} exists above ours (${rec.epoch})` }
      if (this.opts.lock.failback === false && (await progress(this.preferredReplicaWaiting()))) return 'yield'
      // The race below may already have declared this check timed out (hung filesystem) and the step-down may have
      // handed the lock over: a renewal written now would overwrite the next primary's record and depose it
      // (seen in the chaos harness after a hung share resumed). Renew only while this term's keep-alive still runs.
      if (!this.keepAliveRunning || rec !== this.record) return null
      // A pause can also fall inside this check (the process stopped between two of its calls): judge again
      // right before renewing, so a late renewal never hides it.
      const lateNow = overdue()
      if (lateNow) return lateNow
      rec.renewedAt = Date.now()
      await progress(writeHolderRecord(lf.fd, rec))
      if (this._role === 'primary' && rec === this.record) this.lastPrimaryRenewalAt = rec.renewedAt
      return null
    })().catch((err): Input => ({ kind: 'lost', reason: `keep-alive check failed: ${(err as Error).message}` }))
    const checkStartedAt = Date.now()
    const outcome = await Promise.race([check, timedOut])
    settled = true
    this.keepAliveLatencyMs = Date.now() - checkStartedAt
    this.clock.clearTimeout(timer)
    if (rec !== this.record) return // a step-down (or a new term) happened meanwhile
    if (outcome === 'timeout') return this.feed({ kind: 'lost', reason: `keep-alive: a filesystem call made no progress for ${timeoutMs} ms (hung filesystem?)` })
    if (outcome === 'yield') return this.feed({ kind: 'yield', reason: 'a preferred broker (failback) is waiting: handing over' })
    if (outcome) this.feed(outcome)
  }

  // ---- event-loop stall monitor ----

  private startStallMonitor(gen: number): void {
    const max = this.opts.lock.eventLoopStallMax
    if (max <= 0) return
    // A stall that never ends cannot be seen from this loop: a watchdog thread kills the process at
    // STALL_KILL_FACTOR x eventLoopStallMax, so the lock is released (a stall that ends sooner steps down below).
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
      if (lag > max) return this.feed({ kind: 'stalled', reason: `event loop stalled for ${lag} ms (eventLoopStallMax ${max} ms)` })
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
