/**
 * SyncLatency: the fsync count and latency histogram every disk adapter reports in stats() (Prometheus style:
 * cumulative buckets by upper bound in ms, +Inf last, and the sum). Each adapter picks its bucket bounds.
 */
import type { StoreStats } from './types.ts'

export class SyncLatency {
  private syncs = 0
  private sumMs = 0
  /** Cumulative: a sample counts in every bucket whose bound it is under. */
  private readonly counts: number[]

  constructor(private readonly bucketsMs: readonly number[]) {
    this.counts = bucketsMs.map(() => 0)
  }

  record(ms: number): void {
    this.syncs++
    this.sumMs += ms
    for (let i = 0; i < this.bucketsMs.length; i++) if (ms <= this.bucketsMs[i]) this.counts[i]++
  }

  snapshot(): Pick<StoreStats, 'syncs' | 'syncLatencyMs' | 'syncLatencySumMs'> {
    return {
      syncs: this.syncs,
      syncLatencyMs: this.bucketsMs.map((le, i) => ({ le, count: this.counts[i] })),
      syncLatencySumMs: this.sumMs,
    }
  }
}
