/**
 * Latency recording for the load generator: samples in ms kept in a growable Float64Array (bounded by
 * `samplesMax`; past it, reservoir sampling keeps a uniform sample so memory stays flat on very long runs),
 * percentiles by sorting a copy at the end. Not a live histogram: cheap to record, computed once.
 */
export const LATENCY_SAMPLES_MAX_DEFAULT = 1_000_000

export interface LatencySummary {
  count: number
  minMs: number
  meanMs: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
}

export class LatencyRecorder {
  private samples = new Float64Array(1024)
  private n = 0
  private seen = 0
  private sum = 0
  private min = Infinity
  private max = -Infinity

  constructor(
    private readonly samplesMax = LATENCY_SAMPLES_MAX_DEFAULT,
    private readonly random: () => number = Math.random,
  ) {}

  record(ms: number): void {
    this.seen++
    this.sum += ms
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
    if (this.n < this.samplesMax) {
      if (this.n === this.samples.length) {
        const next = new Float64Array(Math.min(this.samplesMax, this.samples.length * 2))
        next.set(this.samples)
        this.samples = next
      }
      this.samples[this.n++] = ms
      return
    }
    const j = Math.floor(this.random() * this.seen)
    if (j < this.samplesMax) this.samples[j] = ms
  }

  get count(): number {
    return this.seen
  }

  summary(): LatencySummary {
    if (this.seen === 0) return { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 }
    const sorted = this.samples.slice(0, this.n).sort()
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]
    const r = (x: number) => Math.round(x * 1000) / 1000
    return {
      count: this.seen,
      minMs: r(this.min),
      meanMs: r(this.sum / this.seen),
      p50Ms: r(q(0.5)),
      p90Ms: r(q(0.9)),
      p99Ms: r(q(0.99)),
      p999Ms: r(q(0.999)),
      maxMs: r(this.max),
    }
  }
}
