/**
 * RecentIds: the in-memory half of producer dedupe, a bounded set of the most recently accepted producer message
 * ids (FIFO eviction at `capacity`, by the time of each id's latest add). It covers non-persistent sends and
 * writes still in flight; the store's isDuplicate() covers what is durable.
 *
 * A ring of the ids in add order plus a map from id to the ring position of its latest add: eviction is O(1). (A
 * Set evicted through `values().next()` walks the slots its earlier deletes left at the front of its ordered
 * table: that walk was an eighth of the broker's CPU on a non-persistent load with client message ids.)
 */

/** Recent producer message ids remembered in memory for dedupe (non-persistent sends, writes in flight). */
export const DEDUPE_WINDOW_DEFAULT = 100_000

export class RecentIds {
  /** id -> the add count at its latest add (its ring slot is that count modulo capacity). */
  private readonly latest = new Map<string, number>()
  /** Grows to `capacity` as ids arrive (an idle broker does not hold a 100,000-slot array), then wraps. */
  private readonly ring: string[] = []
  private adds = 0

  constructor(private readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new Error(`assertion failed: RecentIds capacity ${capacity} is not a whole number ≥ 1`)
  }

  get size(): number {
    return this.latest.size
  }

  has(id: string): boolean {
    return this.latest.has(id)
  }

  add(id: string): void {
    const slot = this.adds % this.capacity
    if (slot === this.ring.length) this.ring.push(id)
    else {
      const old = this.ring[slot]!
      // The slot's previous id leaves the window, unless it was added again since (then a later slot holds it).
      if (this.latest.get(old) === this.adds - this.capacity) this.latest.delete(old)
      this.ring[slot] = id
    }
    this.latest.set(id, this.adds)
    this.adds++
  }

  delete(id: string): void {
    this.latest.delete(id)
  }
}
