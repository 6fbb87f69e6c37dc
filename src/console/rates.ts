/**
 * RateSampler: messages per second in and out of each destination over the last minute, for the console's small
 * charts. It samples the broker's enqueue/dequeue counters every RATE_SAMPLE_MS and keeps RATE_SAMPLES of them per
 * destination, for at most RATE_DESTINATIONS_MAX destinations (the deepest first). It owns no counter: a new
 * primary starts from zero samples. Time comes from the caller, so tests need no timers.
 */
import type { DestinationMetrics } from '../broker/index.ts'

export const RATE_SAMPLE_MS = 5000
/** Samples kept per destination: one minute at RATE_SAMPLE_MS, plus the first edge. */
export const RATE_SAMPLES = 13
export const RATE_DESTINATIONS_MAX = 500

interface Sample {
  at: number
  enqueued: number
  dequeued: number
}

export interface Rates {
  /** Messages per second per sampling interval, oldest first (at most RATE_SAMPLES - 1 values). */
  enqueue: number[]
  dequeue: number[]
}

export class RateSampler {
  private readonly series = new Map<string, Sample[]>()

  /** Record one sample of every destination's counters at `now` (ms). */
  sample(all: readonly DestinationMetrics[], now: number): void {
    const tracked =
      all.length <= RATE_DESTINATIONS_MAX
        ? all
        : [...all].sort((a, b) => b.depth - a.depth).slice(0, RATE_DESTINATIONS_MAX)
    const seen = new Set<string>()
    for (const d of tracked) {
      seen.add(d.destination)
      let s = this.series.get(d.destination)
      if (!s) this.series.set(d.destination, (s = []))
      s.push({ at: now, enqueued: d.enqueued, dequeued: d.dequeued })
      if (s.length > RATE_SAMPLES) s.splice(0, s.length - RATE_SAMPLES)
    }
    for (const k of this.series.keys()) if (!seen.has(k)) this.series.delete(k)
  }

  /** Forget everything (this node stopped serving). */
  clear(): void {
    this.series.clear()
  }

  rates(destination: string): Rates {
    const s = this.series.get(destination) ?? []
    const out: Rates = { enqueue: [], dequeue: [] }
    for (let i = 1; i < s.length; i++) {
      const dt = (s[i]!.at - s[i - 1]!.at) / 1000
      if (dt <= 0) continue
      // A counter that went down (a destination removed and created again) counts from zero.
      out.enqueue.push(Math.max(0, s[i]!.enqueued - s[i - 1]!.enqueued) / dt)
      out.dequeue.push(Math.max(0, s[i]!.dequeued - s[i - 1]!.dequeued) / dt)
    }
    return out
  }
}
