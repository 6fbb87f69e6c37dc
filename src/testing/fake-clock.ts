/**
 * Test kit: a hand-driven Clock: timers fire only when the test calls advance(). It also logs every
 * setTimeout delay so tests can assert the backoff a client chose without waiting for it.
 */
import type { Clock } from '../lib/clock.ts'

interface Timer {
  id: number
  at: number
  ms: number
  fn: () => void
}

export class FakeClock implements Clock {
  private t: number
  private seq = 0
  private timers: Timer[] = []
  /** Every delay passed to setTimeout, in call order. */
  readonly requested: number[] = []

  constructor(start = 1_000_000) {
    this.t = start
  }

  now(): number {
    return this.t
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: ++this.seq, at: this.t + ms, ms, fn }
    this.timers.push(timer)
    this.requested.push(ms)
    return timer.id
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t.id !== handle)
  }

  /** Delays of the timers still pending, soonest first. */
  pending(): number[] {
    return [...this.timers].sort((a, b) => a.at - b.at || a.id - b.id).map((t) => t.ms)
  }

  /** Move time forward by `ms`, firing due timers in order (timers they set are fired too if due). */
  advance(ms: number): void {
    const end = this.t + ms
    for (let guard = 0; guard < 100_000; guard++) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0]
      if (!due) break
      this.timers = this.timers.filter((t) => t !== due)
      this.t = due.at
      due.fn()
    }
    this.t = end
  }
}
