/**
 * The takeover path: what the Elector (elector.ts) does between taking the lock and serving, run once per term for
 * the state machine's `activate` effect. In order: wait (bounded) for the previous term's teardown, yield to a
 * waiting preferred broker, leave the replica side, wait out a live previous holder on locks that may not exclude,
 * claim the epoch, write the holder record into the locked inode, start the keep-alive, wait the detection bound
 * when the lock file was replaced or deleted, then call hooks.activate. Every await is followed by a generation
 * check: work begun for a term that ended meanwhile stops there and feeds nothing.
 * Also the `serve` effect: the takeover timeline, kept for status and appended to the shared directory.
 * Owns the order of those steps and the holder record's contents; not the elector's state, which it reads and
 * changes only through TakeoverHost, nor the fence's checks (epoch-fence.ts).
 */
import type { LockConfig } from '../config/index.ts'
import type { Clock } from '../lib/clock.ts'
import { isBrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { within } from './backoff.ts'
import { TEARDOWN_WAIT_MAX_MS, type ElectorOptions } from './elector-options.ts'
import { previousHolderEnd } from './holder-end.ts'
import type { LockHandle, SharePort } from './ports.ts'
import type { HolderRecord, ReplicaRecord, TakeoverRecord } from './shared-dir.ts'
import { EXIT_CODES, type Input } from './state-machine.ts'
import type { EpochFence, TakeoverTimeline } from './types.ts'

const log = logger('election')

/** The term being served, as the elector holds it (all null between terms). */
export interface TermView {
  epoch: number | null
  timeline: TakeoverTimeline | null
  record: HolderRecord | null
}

/** What a takeover reads and changes in the Elector that runs it. */
export interface TakeoverHost {
  readonly opts: ElectorOptions
  readonly clock: Clock
  readonly port: SharePort
  readonly host: string
  readonly pid: number
  /** The elector's generation now: work begun under another one is stale. */
  generation(): number
  /** Feed an outcome of work begun under `gen`, if nothing moved on meanwhile. */
  later(gen: number, input: Input): void
  /** The lock file this node opened (null without useLock). */
  lockFile(): LockHandle | null
  /** The previous term's hooks.deactivate, while it runs. */
  deactivation(): Promise<void> | null
  /** The previous term's teardown never finished: end for good with EXIT_CODES.teardownStuck. */
  teardownStuck(): void
  /** Whether this node claims failback preference. */
  preferred(): boolean
  /** Activation failed: stop claiming failback preference until restarted. */
  dropPreference(): void
  /** Leave the replica side: stop polling for the lock and the replica heartbeat; the new term doubts no lock. */
  leaveReplica(): void
  /** The claimed epoch, its timeline and holder record become the term being served. */
  beginTerm(epoch: number, timeline: TakeoverTimeline, record: HolderRecord): void
  /** The term being served now. */
  term(): TermView
  /** Start the keep-alive and the stall monitor of the term. */
  watchTerm(): void
  /** The stall watchdog's kill bound in ms (0: none), for the holder record. */
  stallKillMs(): number
  /** Kept for the takeover record written once serving. */
  noteTakeover(previousHolder: string | null, waitedGraceMs: number): void
  pendingTakeover(): { previousHolder: string | null; waitedGraceMs: number } | null
  /** The term serves: `rec` is the last takeover from now on (status shows it). */
  served(rec: TakeoverRecord): void
  /** The fence of `epoch`, handed to the node. */
  fence(epoch: number): EpochFence
}

/** Whether a preferred broker other than `nodeId` is waiting: its replica record was renewed recently. */
export function preferredIn(reps: ReplicaRecord[], nodeId: string, now: number): boolean {
  return reps.some((r) => r.preferred && r.nodeId !== nodeId && now - r.lastSeen < 3 * (r.heartbeatMs || 1000) + 1000)
}

/** The previous holder's detection bound (keep-alive period + timeout + slack), waited when the lock file changed. */
export function takeoverGraceMs(lk: LockConfig): number {
  return lk.lockKeepAlivePeriod > 0 ? lk.lockKeepAlivePeriod + (lk.keepAliveTimeout || lk.lockKeepAlivePeriod) + 50 : 0
}

/** The holder record in the file we locked, read afresh while the path still names it (null otherwise). */
async function lockedRecord(port: SharePort, lf: LockHandle): Promise<HolderRecord | null> {
  const r = await port.readRecord()
  return r && r.ino === lf.ino ? r.rec : null
}

/** Run the `activate` effect for generation `gen`: from the lock taken to hooks.activate (see the header). */
export async function runTakeover(h: TakeoverHost, gen: number): Promise<void> {
  const { opts, clock, port } = h
  const lockAcquiredAt = clock.now()
  const lf = h.lockFile()
  try {
    // The previous term's teardown (store close) may still run if the share hung; a new term must not open the
    // store beside it. It gets a bound: a close that never returns leaves a process only a restart can clean.
    const deactivation = h.deactivation()
    if (deactivation) {
      if (!(await within(deactivation, TEARDOWN_WAIT_MAX_MS, clock))) {
        log.error(
          `the previous term's teardown did not finish within ${TEARDOWN_WAIT_MAX_MS} ms (a filesystem call never returned): exiting with ${EXIT_CODES.teardownStuck} so a supervisor restarts this node`,
        )
        h.teardownStuck()
        return
      }
      if (gen !== h.generation()) return
    }
    // Three reads of the share, asked for at once: the worker runs them back to back instead of waiting for the
    // event loop between them (each round trip is a wake-up of both threads; a takeover is a string of them).
    const [preferredWaiting, maxBefore, firstRecord] = await Promise.all([
      opts.lock.useLock && !h.preferred()
        ? port.readReplicas().then((reps) => preferredIn(reps, opts.nodeId, clock.now()))
        : false,
      port.maxEpoch(),
      lf ? lockedRecord(port, lf) : null,
    ])
    if (preferredWaiting) {
      return h.later(gen, { kind: 'yield', reason: 'a preferred broker (failback) is waiting: yielding the lock' })
    }
    if (gen !== h.generation()) return
    h.leaveReplica()
    let previous: HolderRecord | null = null
    let graceMs = 0
    if (lf) {
      previous = firstRecord
      const live = await waitPreviousHolderGone(h, gen, previous)
      if (gen !== h.generation()) return
      if (live) return h.later(gen, { kind: 'yield', reason: live })
      previous = (await lockedRecord(port, lf)) ?? previous
      if (gen !== h.generation()) return
      // ino only: st_dev differs between hosts (and FUSE mounts) for the same file.
      const sameInode = previous !== null && previous.ino === lf.ino
      // The latest primary wrote its record into this very inode and we now hold its lock: it is gone.
      // Otherwise the file was replaced or deleted, and that primary may still be serving on the old inode.
      if (maxBefore > 0 && !(sameInode && previous!.epoch === maxBefore)) graceMs = takeoverGraceMs(opts.lock)
    }
    const epoch = await port.claimEpoch({ nodeId: opts.nodeId, host: h.host, pid: h.pid })
    if (epoch === null) return h.later(gen, { kind: 'fenced', reason: 'lost the epoch claim race to another broker' })
    if (gen !== h.generation()) return
    const epochClaimedMs = clock.now() - lockAcquiredAt
    const timeline: TakeoverTimeline = {
      lockAcquiredAt,
      epochClaimedMs,
      storeRecoveredMs: null,
      connectorsOpenMs: null,
      previousHolderLastRenewedAgoMs: previous ? lockAcquiredAt - previous.renewedAt : null,
      previousHolderEnd: previousHolderEnd(previous, lockAcquiredAt),
    }
    const record = holderRecord(h, epoch, lockAcquiredAt, lf)
    h.beginTerm(epoch, timeline, record)
    if (lf) await port.writeRecord(lf.ino, lf.dev, record, false)
    if (gen !== h.generation()) return
    h.watchTerm()
    log.info(
      `lock acquired: epoch ${epoch} claimed in ${epochClaimedMs} ms${previous ? ` (previous holder ${previous.nodeId}, epoch ${previous.epoch}: ${timeline.previousHolderEnd})` : ''}`,
      { event: 'epoch', epoch, nodeId: opts.nodeId },
    )
    if (graceMs > 0) {
      log.warn(
        `the lock file does not carry the latest primary's record (epoch ${maxBefore}): waiting ${graceMs} ms for it to notice before serving`,
      )
      await new Promise<void>((r) => clock.setTimeout(r, graceMs))
      if (gen !== h.generation()) return
    }
    h.noteTakeover(previous?.nodeId ?? null, graceMs)
    await opts.hooks.activate({
      epoch,
      fence: h.fence(epoch),
      mark: (stepName, bound) => {
        const term = h.term()
        if (!term.timeline || term.epoch !== epoch) return
        const ms = clock.now() - term.timeline.lockAcquiredAt
        if (stepName === 'storeRecovered') term.timeline.storeRecoveredMs = ms
        else {
          term.timeline.connectorsOpenMs = ms
          if (bound && term.record?.epoch === epoch) term.record.connectors = bound
        }
      },
    })
    h.later(gen, { kind: 'activated' })
  } catch (err) {
    if (isBrokerError(err, 'ELECTION_FENCED')) return h.later(gen, { kind: 'fenced', reason: (err as Error).message })
    if (h.preferred()) {
      h.dropPreference()
      log.warn('activation failed: this node stops claiming failback preference until restarted')
    }
    h.later(gen, { kind: 'activation-failed', reason: (err as Error).message })
  }
}

/** The `serve` effect: the term's takeover timeline, kept for status, appended to the share (best effort), logged. */
export function recordServing(h: TakeoverHost): void {
  const { timeline: t, epoch } = h.term()
  if (!t || epoch === null) return
  const pending = h.pendingTakeover()
  const rec: TakeoverRecord = {
    ...t,
    nodeId: h.opts.nodeId,
    host: h.host,
    pid: h.pid,
    epoch,
    previousHolder: pending?.previousHolder ?? null,
    waitedGraceMs: pending?.waitedGraceMs ?? 0,
  }
  const servedMs = h.clock.now() - t.lockAcquiredAt
  h.served(rec)
  h.port.appendTakeover(rec).catch((err: Error) => log.warn(`could not record the takeover timeline: ${err.message}`))
  log.info(
    `primary (epoch ${epoch}): takeover timeline lock +0 ms, epoch +${t.epochClaimedMs} ms, store +${t.storeRecoveredMs ?? '-'} ms, connectors +${t.connectorsOpenMs ?? '-'} ms, serving +${servedMs} ms`,
  )
}

/** This node's holder record for `epoch`, written into the locked inode `lf` (zeros without a lock file). */
function holderRecord(h: TakeoverHost, epoch: number, lockAcquiredAt: number, lf: LockHandle | null): HolderRecord {
  const { opts, clock } = h
  const lk = opts.lock
  const info = opts.info ?? {}
  return {
    nodeId: opts.nodeId,
    host: h.host,
    pid: h.pid,
    brokerName: opts.brokerName,
    epoch,
    acquiredAt: lockAcquiredAt,
    renewedAt: clock.now(),
    connectors: opts.connectors,
    clientUrls: opts.clientUrls ?? [],
    version: info.version ?? '',
    lockType: lk.useLock ? lk.type : 'none',
    lockKeepAlivePeriod: lk.lockKeepAlivePeriod,
    keepAliveTimeout: lk.keepAliveTimeout || lk.lockKeepAlivePeriod,
    released: false,
    stallKillMs: h.stallKillMs(),
    dev: lf?.dev ?? 0,
    ino: lf?.ino ?? 0,
    adapter: info.adapter ?? null,
    dataDirectory: info.dataDirectory ?? null,
    schedulerDirectory: info.schedulerDirectory ?? null,
    schedulerSupport: info.schedulerSupport ?? false,
    preferred: h.preferred(),
  }
}

/**
 * Guard against locks that do not exclude (OCFS2 flock, `local_lock`, two FUSE mounts): if the holder record
 * names another broker that is alive (a pid alive on this host, or any holder on another host) and renewed
 * it recently, we may "hold" a lock it also holds. Wait until the record goes stale (the holder stopped
 * renewing: dead, paused, or deposed); if it is still renewed after that bound, answer the reason to yield.
 * A kill -9 on this host (pid gone) or a clean stop (record marked released) costs no wait.
 */
async function waitPreviousHolderGone(
  h: TakeoverHost,
  gen: number,
  previous: HolderRecord | null,
): Promise<string | null> {
  const { clock, port } = h
  if (!previous || previous.nodeId === h.opts.nodeId || previous.released) return null
  const period = previous.lockKeepAlivePeriod > 0 ? previous.lockKeepAlivePeriod : 0
  if (period === 0) return null
  const staleMs = period + Math.max(period, previous.keepAliveTimeout ?? period) + 100
  const alive = (r: HolderRecord): boolean => {
    if (r.released || clock.now() - r.renewedAt > staleMs) return false
    if (r.host !== h.host) return true
    return port.pidAlive(r.pid)
  }
  if (!alive(previous)) return null
  log.warn(
    `lock acquired, but ${previous.nodeId} (${previous.host} pid ${previous.pid}) renewed the holder record ${clock.now() - previous.renewedAt} ms ago: waiting up to ${staleMs} ms for it to go stale`,
  )
  const deadline = clock.now() + staleMs + period
  while (clock.now() < deadline) {
    await new Promise<void>((r) => clock.setTimeout(r, Math.max(10, Math.min(100, period / 4))))
    if (gen !== h.generation()) return null
    const cur = (await port.readRecord().catch(() => null))?.rec ?? null
    if (!cur || cur.nodeId !== previous.nodeId || !alive(cur)) return null
  }
  const msg = `locks do not exclude here: ${previous.nodeId} (${previous.host} pid ${previous.pid}) keeps renewing the holder record while we hold the lock — yielding (run sfbroker probe-lock --peer)`
  log.error(msg)
  return msg
}
