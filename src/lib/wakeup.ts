/**
 * Wakeup: lets code that polls a condition sleep until something changed (`notify()`) or a bound passed, instead of
 * spinning. Used by the parents of event-emitting child processes: the stdout reader notifies, a waiter re-checks
 * its condition. A wait never outlives its timeout; notify wakes every current waiter once.
 */
export class Wakeup {
  private waiters: (() => void)[] = []

  notify(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Resolves on the next notify() or after timeoutMs (at least 1 ms), whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(1, timeoutMs))
      this.waiters.push(() => {
        clearTimeout(t)
        resolve()
      })
    })
  }
}
