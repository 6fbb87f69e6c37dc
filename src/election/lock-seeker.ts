/**
 * LockSeeker: how the Elector (elector.ts) gets the lock, for the state machine's `tryLock` and `wait` effects. It
 * owns the open lock file and the wait for it: one non-blocking attempt (reopening when the path names another file
 * by now), then either a blocking wait off the main thread or a poll every lockAcquireSleepInterval; while waiting it
 * logs who holds the lock, once per holder. Outcomes are fed back through the host only while the generation they
 * were begun under is current. It does not decide what a lock or an error means: the state machine does.
 */
import type { LockConfig } from '../config/index.ts'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { LockHandle, SharePort } from './ports.ts'
import type { RejoinPacer } from './rejoin-pacer.ts'
import type { HolderRecord } from './shared-dir.ts'
import type { Input } from './state-machine.ts'

const log = logger('election')

/** What the seeker needs from the Elector that runs it. */
export interface LockSeekerHost {
  /** The elector's generation now: work begun under another one is stale. */
  generation(): number
  /** Feed an outcome of work begun under `gen`, if nothing moved on meanwhile. */
  later(gen: number, input: Input): void
}

export class LockSeeker {
  /** The lock file this node has open (locked or not), or null. */
  handle: LockHandle | null = null
  /** The holder record as last read while waiting. */
  holder: HolderRecord | null = null
  private cancelWait: (() => void) | null = null
  private pollTimer: unknown = null
  private loggedHolderFor: string | null = null

  constructor(
    private readonly port: SharePort,
    private readonly clock: Clock,
    private readonly lock: LockConfig,
    private readonly pacer: RejoinPacer,
    private readonly host: LockSeekerHost,
  ) {}

  /** Open afresh if needed and try once. Locks on a file no longer at the path are dropped and retried. */
  async tryLock(gen: number): Promise<void> {
    const h = this.host
    if (!this.lock.useLock) return h.later(gen, { kind: 'locked' })
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        if (!this.handle) {
          const lf = await this.port.openLock()
          if (gen !== h.generation() || this.handle) {
            lf.close()
            return
          }
          this.handle = lf
          this.pacer.noteShareWorks()
        }
        if (!this.handle.tryLock()) return h.later(gen, { kind: 'busy' })
        if (await this.stillAtPath()) return h.later(gen, { kind: 'locked' })
        if (gen !== h.generation()) return
        log.warn(`locked ${this.port.lockPath} but the path now names another file; reopening`)
        this.close()
      }
      h.later(gen, { kind: 'busy' })
    } catch (err) {
      h.later(gen, this.pacer.classifyError(err))
    }
  }

  /** Wait for the lock held by another broker: blocking off the main thread, or by polling. */
  wait(gen: number): void {
    const h = this.host
    this.logHolderOnce()
    const lf = this.handle
    if (!lf) return h.later(gen, { kind: 'lock-error', reason: 'no lock file open while waiting' })
    if (this.lock.blockingWait) {
      const w = lf.waitLock()
      this.cancelWait = w.cancel
      w.done.then(
        async () => {
          this.cancelWait = null
          if (gen !== h.generation()) return
          if (await this.stillAtPath()) return h.later(gen, { kind: 'locked' })
          if (gen !== h.generation()) return
          log.warn(`woke with the lock of a file no longer at ${this.port.lockPath}; reopening`)
          this.close()
          void this.tryLock(gen)
        },
        (err: unknown) => {
          this.cancelWait = null
          if ((err as { wouldBlock?: boolean }).wouldBlock) return h.later(gen, { kind: 'busy' })
          h.later(gen, this.pacer.classifyError(err))
        },
      )
    } else {
      this.pollTimer = this.clock.setTimeout(async () => {
        this.pollTimer = null
        if (gen !== h.generation()) return
        if (!(await this.stillAtPath())) {
          if (gen !== h.generation()) return
          this.close()
        }
        void this.tryLock(gen)
      }, this.lock.lockAcquireSleepInterval)
    }
  }

  /** Stop a pending poll (the lock is ours now, or the wait ends). */
  stopPolling(): void {
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer)
    this.pollTimer = null
  }

  /** End any wait; a cancelled blocking wait also closes the lock file. */
  cancelWaiting(): void {
    if (this.cancelWait) {
      this.cancelWait()
      this.cancelWait = null
      // A cancelled blocked call may get the lock later: only closing our descriptor makes that harmless.
      this.close()
    }
    this.stopPolling()
  }

  /** Close the lock file off the main thread: never blocks, even on a hung mount. */
  close(): void {
    this.handle?.close()
    this.handle = null
  }

  private async stillAtPath(): Promise<boolean> {
    const lf = this.handle
    if (!lf) return false
    try {
      const st = await this.port.statLock()
      return st.ino === lf.ino && st.dev === lf.dev
    } catch {
      return false
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
}
