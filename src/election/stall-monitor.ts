/**
 * StallMonitor: watches a primary's event loop. A stall that ends (lag over eventLoopStallMax) is not evidence of
 * anything: it asks for an immediate lock re-check. A stall that never ends cannot be seen from the loop, so the stall
 * watchdog (stall-watchdog.ts, behind the Watchdog port: a kernel timer, or a worker thread where there is none)
 * kills the process at STALL_KILL_FACTOR × the bound and the kernel releases the lock. The kill comes without a
 * word, so arming says in the log what will happen.
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
  private watchdogStarted = false
  private prepared = false
  private closed = false

  constructor(
    private readonly clock: Clock,
    private readonly maxMs: number,
    private readonly makeWatchdog: ((killAfterMs: number) => Watchdog | Promise<Watchdog>) | null,
    private readonly onStall: (why: string) => void,
  ) {}

  /** The watchdog's kill bound (0: no watchdog: disabled, not prepared yet, or none could be made here). */
  get killAfterMs(): number {
    return this.watchdog ? this.maxMs * STALL_KILL_FACTOR : 0
  }

  /** Pick the watchdog before the election starts (its module loads asynchronously); nothing is armed yet. */
  async prepare(): Promise<void> {
    if (this.prepared) return
    this.prepared = true
    if (this.maxMs <= 0 || !this.makeWatchdog) return
    let w: Watchdog
    try {
      w = await this.makeWatchdog(this.maxMs * STALL_KILL_FACTOR)
    } catch (e) {
      log.warn(`stall watchdog unavailable (${(e as Error).message}): a never-ending stall would keep the lock`)
      return
    }
    if (this.closed) w.stop()
    else this.watchdog = w
  }

  start(): void {
    if (this.maxMs <= 0) return
    if (!this.prepared) throw new Error('assertion failed: StallMonitor.prepare() must run before start()')
    const w = this.watchdog
    if (w && !this.watchdogStarted) {
      this.watchdogStarted = true
      const err = w.start()
      if (err) {
        log.warn(`stall watchdog unavailable (${err}): a never-ending stall would keep the lock`)
        this.watchdog = null
      }
    }
    if (this.watchdog) {
      this.watchdog.arm()
      log.info(
        `stall watchdog armed: an event loop unresponsive for ${this.maxMs * STALL_KILL_FACTOR} ms (${STALL_KILL_FACTOR} × eventLoopStallMax) while primary gets this process killed with SIGKILL by ${this.watchdog.mechanism}, so the kernel releases the lock`,
      )
    }
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

  /** The elector ended: delete the watchdog too. */
  close(): void {
    this.closed = true
    this.stop()
    this.watchdog?.stop()
    this.watchdog = null
  }
}
