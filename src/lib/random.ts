/**
 * Seeded randomness (mulberry32) for everything that must replay from one printed number: the storage
 * conformance suite and its crash writer, parser and broker fuzz tests, the chaos harness's fault schedule and
 * workload. One generator, so a seed means the same sequence everywhere. Not for anything cryptographic, and no
 * I/O here: `seedFromEnv` only reads `process.env.SEED`.
 */
import { BrokerError } from './errors.ts'

export class SeededRandom {
  private s: number

  constructor(readonly seed: number) {
    this.s = seed >>> 0
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  /** One element of a non-empty list. */
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('SeededRandom.pick of an empty list')
    return xs[Math.floor(this.next() * xs.length)]!
  }

  /** Shuffles `xs` in place (Fisher-Yates) and returns it. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
    }
    return xs
  }
}

/** `() => number` in [0, 1) from a seed: for code that takes a plain generator function. */
export function seededGenerator(seed: number): () => number {
  const r = new SeededRandom(seed)
  return () => r.next()
}

/** The seed of this run: `SEED` from the environment (a non-negative integer), else random in [0, 2^31). */
export function seedFromEnv(): number {
  const env = process.env.SEED
  if (env !== undefined && env !== '') {
    const n = Number(env)
    if (!Number.isInteger(n) || n < 0)
      throw new BrokerError('CLI_USAGE', `env SEED: "${env}" is not a non-negative integer`)
    return n
  }
  return Math.floor(Math.random() * 2 ** 31)
}
