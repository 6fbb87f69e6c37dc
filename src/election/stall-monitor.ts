/**
 * StallMonitor: watches a primary's event loop. A stall that ends (lag over eventLoopStallMax) is not evidence of
 * anything: it asks for an immediate lock re-check. A stall that never ends cannot be seen from the loop, so a
 * watchdog thread (stall-watchdog.ts, behind the Watchdog port) kills the process at STALL_KILL_FACTOR × the bound
 * and the kernel releases the lock.
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { Watchdog } from './ports.ts'

const log = logger('election')

/** A primary whose event loop is unresponsive for this many times eventLoopStallMax is killed by the watchdog. */
export const STALL_KILL_FACTOR = 3

export class StallMonitor {
  private timer: unknown = null
  private watchdog: Watchdog | null = null
  private watchdogTried = false

  constructor(
    private readonly clock: Clock,
    private readonly maxMs: number,
    private readonly makeWatchdog: ((killAfterMs: number) => Watchdog) | null,
    private readonly onStall: (why: string) => void,
  ) {}

  start(): void {
    if (this.maxMs <= 0) return
    if (!this.watchdogTried && this.makeWatchdog) {
      this.watchdogTried = true
      const w = this.makeWatchdog(this.maxMs * STALL_KILL_FACTOR)
      const err = w.start()
      if (err) log.warn(`stall watchdog unavailable (${err}): a never-ending stall would keep the lock`)
      else this.watchdog = w
    }
    this.watchdog?.arm()
    const interval = Math.max(10, Math.min(500, Math.floor(this.maxMs / 4)))
    let last = this.clock.now()
    const tick = () => {
      const now = this.clock.now()
      const lag = now - last - interval
      last = now
      if (lag > this.maxMs) this.onStall(`event loop stalled for ${lag} ms (eventLoopStallMax ${this.maxMs} ms)`)
      this.timer = this.clock.setTimeout(tick, interval)
    }
    this.timer = this.clock.setTimeout(tick, interval)
  }

  stop(): void {
    this.watchdog?.disarm()
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
  }

  /** The elector ended: stop the watchdog thread too. */
  close(): void {
    this.stop()
    this.watchdog?.stop()
    this.watchdog = null
  }
}
