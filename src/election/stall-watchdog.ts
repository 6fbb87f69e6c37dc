/**
 * The stall watchdog: the last resort against a primary whose event loop never comes back (an endless loop, a
 * synchronous call that never returns). The in-loop stall monitor (stall-monitor.ts) can only act once a stall ends;
 * a stall that does not end would keep the lock held while nothing is served — the failure ActiveMQ is known for.
 * While armed (this node is primary), a loop that stops beating for `killAfterMs` gets the process killed with
 * SIGKILL, so the kernel releases the lock and a replica takes over (a service manager restarts this node).
 *
 * `createStallWatchdog` picks how: on Linux under Bun a kernel timer (kill-timer-bun.ts: timer_create with SIGKILL,
 * re-armed by every beat of the loop) that needs no thread and no memory of ours; elsewhere, or when binding it
 * fails, a worker thread (stall-watchdog-worker.ts). The kernel kills without a word, so the arm-time log line
 * (stall-monitor.ts) says what will happen; afterwards the exit status (SIGKILL) and the next primary's takeover
 * record (takeover.ts: the previous holder stopped renewing past its stall bound) tell why.
 */
import { logger } from '../lib/log.ts'
import type { KillTimer } from './kill-timer-types.ts'
import type { Watchdog } from './ports.ts'
import { stallBeatMs, WorkerWatchdog } from './stall-watchdog-worker.ts'

const log = logger('election')

/** The kernel timer if it can be used here, else the worker thread (which starts at its first arm, not now). */
export async function createStallWatchdog(killAfterMs: number): Promise<Watchdog> {
  let why: string
  if (!(globalThis as { Bun?: unknown }).Bun) why = 'not running under Bun (bun:ffi)'
  else if (process.platform !== 'linux')
    why = `timer_create with SIGKILL is used on Linux only, not ${process.platform}`
  else {
    try {
      const { createKillTimer } = await import('./kill-timer-bun.ts')
      return new TimerWatchdog(createKillTimer(), killAfterMs)
    } catch (e) {
      why = (e as Error).message
    }
  }
  return new WorkerWatchdog(killAfterMs, why)
}

/** A kernel timer set `killAfterMs` ahead at every beat of the main loop: a loop that stops beating is killed. */
export class TimerWatchdog implements Watchdog {
  readonly mechanism: string
  readonly beatMs: number
  private beatTimer: ReturnType<typeof setInterval> | null = null
  private closed = false

  constructor(
    private readonly timer: KillTimer,
    readonly killAfterMs: number,
  ) {
    this.beatMs = stallBeatMs(killAfterMs)
    this.mechanism = `a kernel timer (timer_create on CLOCK_MONOTONIC) re-armed every ${this.beatMs} ms`
  }

  /** The timer exists since construction: nothing to start. */
  start(): string | null {
    return this.closed ? 'stall watchdog stopped' : null
  }

  arm(): void {
    if (this.closed) return
    if (!this.beat()) return
    if (!this.beatTimer) {
      this.beatTimer = setInterval(() => this.beat(), this.beatMs)
      this.beatTimer.unref?.()
    }
  }

  disarm(): void {
    if (this.beatTimer) clearInterval(this.beatTimer)
    this.beatTimer = null
    if (this.closed) return
    try {
      this.timer.disarm()
    } catch (e) {
      // The deadline may still be set: only closing the timer is sure to remove it.
      log.error(`stall watchdog: disarming the kernel timer failed (${(e as Error).message}): deleting it`)
      this.stop()
    }
  }

  stop(): void {
    if (this.beatTimer) clearInterval(this.beatTimer)
    this.beatTimer = null
    if (this.closed) return
    this.closed = true
    try {
      this.timer.close()
    } catch (e) {
      log.error(`stall watchdog: deleting the kernel timer failed: ${(e as Error).message}`)
    }
  }

  /** Push the deadline `killAfterMs` ahead. On failure the watchdog is deleted (an old deadline must not kill). */
  private beat(): boolean {
    try {
      this.timer.arm(this.killAfterMs)
      return true
    } catch (e) {
      log.error(
        `stall watchdog: re-arming the kernel timer failed (${(e as Error).message}): watchdog deleted; a never-ending stall would now keep the lock`,
      )
      this.stop()
      return false
    }
  }
}
