/**
 * MemoryUsage: a byte counter with a limit, used twice: broker-wide (`limits.memoryLimit`) and per destination
 * (`limits.destinationMemoryLimit`). Producer flow control waits on it (see Broker): a producer whose message does
 * not fit waits until consumers free memory. A single message larger than the limit is let through when nothing
 * else is held, so an oversized message can never deadlock an empty broker.
 */
export class MemoryUsage {
  used = 0
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
  }

  release(bytes: number): void {
    this.used -= bytes
    if (this.used < 0) this.used = 0
  }
}
