/**
 * The step-down path: what the Elector (elector.ts) does for the state machine's `stepDown` effect. In order: stop
 * the keep-alive and the stall monitor, run hooks.deactivate and wait for it at most STEP_DOWN_WAIT_MS (the rest goes
 * on in the background, tracked so the next term waits for it), mark the holder record released when the lock is
 * still ours, close the lock file, forget the term, and feed `stepped-down`.
 * Owns that order and the released mark; not the elector's state, which it reads and changes only through
 * StepDownHost. A step-down never waits on the share for long: every wait here is bounded.
 */
import type { LockConfig } from '../config/index.ts'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import { within } from './backoff.ts'
import { STEP_DOWN_WAIT_MS, type ElectorOptions } from './elector-options.ts'
import type { LockHandle, SharePort } from './ports.ts'
import type { HolderRecord } from './shared-dir.ts'
import type { Input, Then } from './state-machine.ts'

const log = logger('election')

/** What a step-down reads and changes in the Elector that runs it. */
export interface StepDownHost {
  readonly opts: ElectorOptions
  readonly clock: Clock
  readonly port: SharePort
  /** The elector's generation now: work begun under another one is stale. */
  generation(): number
  /** Feed an outcome of work begun under `gen`, if nothing moved on meanwhile. */
  later(gen: number, input: Input): void
  /** Stop the keep-alive and the stall monitor; the term no longer counts as serving for flap damping. */
  stopWatching(): void
  /** The term's hooks.deactivate while it runs (a new term waits for it), or null. */
  deactivation(): Promise<void> | null
  setDeactivation(d: Promise<void> | null): void
  /** The lock file this node opened, its record of the term, and whether the term ended by loss or fencing. */
  lockFile(): LockHandle | null
  record(): HolderRecord | null
  lockDoubt(): boolean
  /** Close the lock file off the main thread. */
  closeLock(): void
  /** Forget the term: no epoch, record or timeline any more. */
  endTerm(): void
  /** What to do next: a `setThen` override given during the step-down wins over `then`; the override is spent. */
  takeThen(then: Then): Then
}

/** Run the `stepDown` effect for generation `gen` (see the header). */
export async function runStepDown(h: StepDownHost, gen: number, reason: string, then: Then): Promise<void> {
  // A requested stop (SIGTERM) is routine: info. Every other step-down (loss, fencing, unhealthy) warns.
  if (then === 'stop') log.info(`stepping down: ${reason}`)
  else log.warn(`stepping down: ${reason}`)
  h.stopWatching()
  // Connectors close first inside deactivate (ms); the store close after them may wait on a hung share. Wait for
  // it only up to STEP_DOWN_WAIT_MS: the node is not serving (no acks: the fence refuses every write once the
  // role is not primary), and the next term waits for the rest before opening the store again.
  const d = Promise.resolve()
    .then(() => h.opts.hooks.deactivate(reason))
    .catch((err) => log.error(`deactivate hook threw (ignored): ${(err as Error).message}`))
  const tracked = d.finally(() => {
    if (h.deactivation() === tracked) h.setDeactivation(null)
  })
  h.setDeactivation(tracked)
  if (!(await within(d, STEP_DOWN_WAIT_MS, h.clock))) {
    log.warn(
      `store close still running after ${STEP_DOWN_WAIT_MS} ms (shared filesystem slow or hung?): releasing the lock, the close goes on in the background`,
    )
  }
  // Still our lock (a stop or a hand-over, not a loss): mark the record released so the next holder need not
  // wait for it to go stale. Bounded; a throw must not stop the step-down half-way (the node would stay in
  // stepping-down forever).
  const lf = h.lockFile()
  const rec = h.record()
  if (lf && rec && !h.lockDoubt()) await markReleased(h.port, h.clock, h.opts.lock, lf, rec)
  h.closeLock()
  h.endTerm()
  const next = h.takeThen(then)
  if (gen !== h.generation()) return
  // A rejoin opens the lock file afresh (tryLock), since the old path may name a new file by now.
  h.later(gen, { kind: 'stepped-down', then: next })
}

/** Rewrite our record as released, if the lock file and the epochs still say it is ours. Bounded; never throws. */
async function markReleased(
  port: SharePort,
  clock: Clock,
  lock: LockConfig,
  lf: LockHandle,
  rec: HolderRecord,
): Promise<void> {
  const bound = Math.max(500, lock.keepAliveTimeout || lock.lockKeepAlivePeriod || 1000)
  const work = (async () => {
    const facts = await port.check(false)
    if (facts.missing || facts.pathIno !== lf.ino || facts.pathDev !== lf.dev) return
    if (await port.epochExists(rec.epoch + 1)) return
    await port.writeRecord(lf.ino, lf.dev, { ...rec, released: true, renewedAt: clock.now() }, true)
  })().catch((err) => log.warn(`could not mark the holder record released: ${(err as Error).message}`))
  if (!(await within(work, bound, clock)))
    log.warn(
      `marking the holder record released did not finish within ${bound} ms; the next primary waits for it to go stale`,
    )
}
