/**
 * Virtual time for the election simulation. One SimScheduler holds every timer of every simulated node, ordered by
 * (time, sequence); `step()` fires the earliest, then lets the microtask queue drain, so each timer's whole async
 * chain runs before the next timer fires. Nothing here reads the real clock: a schedule replays exactly from its seed.
 * A NodeClock is one node's view: it can be paused (SIGSTOP: nothing of the node runs until resumed, then every
 * deferred timer fires late), starved (timers fire late by a random extra delay), killed (nothing ever runs again),
 * and jumped (its `now()` reads an offset, as a wall clock stepped by NTP does).
 */
import type { Clock } from '../../lib/clock.ts'
import { MinHeap } from '../../lib/min-heap.ts'

interface Timer {
  t: number
  seq: number
  fn: () => void
  cancelled: boolean
}

export class SimScheduler {
  now = 0
  private seq = 0
  private readonly heap = new MinHeap<Timer>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq))

  at(t: number, fn: () => void): Timer {
    const timer: Timer = { t: Math.max(t, this.now), seq: this.seq++, fn, cancelled: false }
    this.heap.push(timer)
    return timer
  }

  /** Fire the earliest timer (advancing time to it) and drain microtasks. False when no timer is left. */
  async step(): Promise<boolean> {
    for (;;) {
      const t = this.heap.pop()
      if (!t) return false
      if (t.cancelled) continue
      this.now = t.t
      t.fn()
      await drain()
      return true
    }
  }

  get pending(): number {
    return this.heap.size
  }
}

/** Let every queued microtask (and the ones they queue) run: a macrotask runs only once the queue is empty. */
function drain(): Promise<void> {
  return new Promise((r) => setImmediate(r))
}

export class NodeClock implements Clock {
  private pausedUntil: number | null = null
  private deferred: (() => void)[] = []
  private starveUntil = 0
  private starveMaxMs = 0
  private offsetMs = 0
  dead = false

  constructor(
    private readonly sched: SimScheduler,
    private readonly random: () => number,
  ) {}

  now(): number {
    return this.sched.now + this.offsetMs
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return this.timer(fn, ms, true)
  }

  /**
   * Run `fn` on another thread of this process (a worker's system call): stopped with the process, but not
   * starved with its event loop.
   */
  thread(fn: () => void, ms: number): void {
    this.timer(fn, ms, false)
  }

  private timer(fn: () => void, ms: number, starvable: boolean): unknown {
    const handle: { timer: Timer | null; cancelled: boolean } = { timer: null, cancelled: false }
    const extra = starvable && this.sched.now < this.starveUntil ? Math.floor(this.random() * this.starveMaxMs) : 0
    const fire = () => {
      if (handle.cancelled || this.dead) return
      if (this.pausedUntil !== null) {
        // Stopped: it runs when the node is resumed, late.
        this.deferred.push(fire)
        return
      }
      fn()
    }
    handle.timer = this.sched.at(this.sched.now + Math.max(0, ms) + extra, fire)
    return handle
  }

  clearTimeout(h: unknown): void {
    const handle = h as { timer: Timer | null; cancelled: boolean } | null
    if (!handle) return
    handle.cancelled = true
    if (handle.timer) handle.timer.cancelled = true
  }

  /** Run `fn` as this node would: not while stopped, never once killed. */
  run(fn: () => void, afterMs = 0): void {
    this.setTimeout(fn, afterMs)
  }

  get paused(): boolean {
    return this.pausedUntil !== null
  }

  pause(): void {
    this.pausedUntil = this.sched.now
  }

  resume(): void {
    if (this.pausedUntil === null) return
    this.pausedUntil = null
    const ds = this.deferred
    this.deferred = []
    // Everything that came due while stopped runs now, in the order it came due.
    for (const fire of ds) this.sched.at(this.sched.now, fire)
  }

  starve(untilMs: number, maxExtraMs: number): void {
    this.starveUntil = untilMs
    this.starveMaxMs = maxExtraMs
  }

  jump(ms: number): void {
    this.offsetMs += ms
  }

  /** NTP brought the wall clock back in line. */
  resetJumps(): void {
    this.offsetMs = 0
  }
}
