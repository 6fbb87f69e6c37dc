/**
 * MemoryUsage: a byte counter with a limit. Used broker-wide (`limits.memoryLimit`), per destination
 * (`limits.destinationMemoryLimit`) and per connector for frames being received (the receive budget, see
 * protocol/stomp/server.ts). Producer flow control waits on it (see Broker): a producer whose message does not fit
 * waits until consumers free memory. A single message larger than the limit is let through when nothing else is
 * held, so an oversized message can never deadlock an empty broker.
 *
 * Releases of large amounts (LARGE_RELEASE_BYTES) are reported to the idle GC (lib/idle-gc.ts), so the memory of
 * dropped large bodies goes back to the OS once the broker is quiet.
 *
 * `reserve()` is the waiting form for callers that can pause (a socket): grants are FIFO, so a large request is not
 * starved by a stream of small ones. It does not promise fairness across different counters.
 */
import { idleGc } from '../lib/idle-gc.ts'

/** A release of at least this many bytes is reported to the idle GC. */
const LARGE_RELEASE_BYTES = 1024 * 1024

export class MemoryUsage {
  used = 0
  /** Largest `used` seen (for tests and metrics). */
  peak = 0
  private readonly waiters: { bytes: number; grant: () => void }[] = []
  constructor(readonly limit: number) {}

  /** Whether `bytes` more fit now. */
  fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit
  }

  /** At or above `fraction` of the limit (paging decisions use 0.7, like ActiveMQ's cursor high-water mark). */
  above(fraction: number): boolean {
    return this.used >= this.limit * fraction
  }

  add(bytes: number): void {
    this.used += bytes
    if (this.used > this.peak) this.peak = this.used
  }

  release(bytes: number): void {
    if (bytes >= LARGE_RELEASE_BYTES) idleGc.noteFreed(bytes)
    this.used -= bytes
    if (this.used < 0) this.used = 0
    this.grantWaiters()
  }

  /**
   * Charge `bytes` now when they fit and nobody waits before us (returns true), else queue `grant`, called (with the
   * bytes already charged) once they fit (returns false). The caller must release() what was granted.
   */
  reserve(bytes: number, grant: () => void): boolean {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.add(bytes)
      return true
    }
    this.waiters.push({ bytes, grant })
    return false
  }

  /** Drop a queued reservation (its connection closed); true when it was still waiting. */
  cancel(grant: () => void): boolean {
    const i = this.waiters.findIndex((w) => w.grant === grant)
    if (i < 0) return false
    this.waiters.splice(i, 1)
    this.grantWaiters()
    return true
  }

  /** Reservations still waiting. */
  waiting(): number {
    return this.waiters.length
  }

  private grantWaiters(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!
      this.add(w.bytes)
      w.grant()
    }
  }
}
