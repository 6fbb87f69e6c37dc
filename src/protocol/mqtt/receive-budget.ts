/**
 * ReceiveBudget: bytes of received packets a listener holds, all connections together (packets waiting to be handled
 * or for the core's answer). A connection charges a packet before handling it; when the budget is full it stops
 * reading its socket and waits its turn (first come, first served). One packet is always let in when nothing is held,
 * so a legal packet is never refused, only delayed.
 */
export class ReceiveBudget {
  used = 0
  private readonly waiters: { bytes: number; grant: () => void }[] = []

  constructor(readonly limit: number) {}

  /** Charges now and returns true, or queues `grant` (called with the bytes charged) and returns false. */
  reserve(bytes: number, grant: () => void): boolean {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.used += bytes
      return true
    }
    this.waiters.push({ bytes, grant })
    return false
  }

  /** Drops a queued grant that is no longer wanted (its connection closed). */
  cancel(grant: () => void): void {
    const i = this.waiters.findIndex((w) => w.grant === grant)
    if (i >= 0) this.waiters.splice(i, 1)
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes)
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const w = this.waiters.shift()!
      this.used += w.bytes
      w.grant()
    }
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit
  }
}
