/**
 * RecentIds: the in-memory half of producer dedupe, a bounded set of the most recently accepted producer message
 * ids (FIFO eviction at `capacity`). It covers non-persistent sends and writes still in flight; the store's
 * isDuplicate() covers what is durable.
 */

/** Recent producer message ids remembered in memory for dedupe (non-persistent sends, writes in flight). */
export const DEDUPE_WINDOW_DEFAULT = 100_000

export class RecentIds {
  private readonly set = new Set<string>()
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.set.has(id)
  }
  add(id: string): void {
    this.set.add(id)
    if (this.set.size > this.capacity) this.set.delete(this.set.values().next().value as string)
  }
  delete(id: string): void {
    this.set.delete(id)
  }
}
