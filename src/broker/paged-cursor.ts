/**
 * PagedCursor: which of a queue's persistent messages live only in the store, and loading them back a page at a
 * time. Two kinds exist: the recovered range (every stored message with seq below the broker's boundary, i.e.
 * written before this broker started) and an explicit sorted list of seqs paged since. A page-in loads
 * PAGE_SIZE messages with `store.load` and keeps only those it knows to be paged, so a message whose write
 * resolved but whose routing is still pending is never loaded twice, and hands them out in seq order up to the
 * first paged one the load missed, so no message overtakes an earlier one still in the store. It owns no memory
 * charge and no dispatch: the queue holds what a page-in hands it (./queue.ts).
 */
import { logger } from '../lib/log.ts'
import type { PersistenceAdapter, StoredMessage } from '../storage/types.ts'

const log = logger('broker')

/** Messages loaded per page-in (ActiveMQ's maxPageSize is 200). Page-in starts when fewer are pending in memory. */
export const PAGE_SIZE = 200
/**
 * Messages in a queue's first page-in since this broker took over (then PAGE_SIZE): its first consumer gets a
 * message after reading and decoding a few, on code not yet compiled, instead of a whole page.
 */
export const LEAD_PAGE_SIZE = 16
/** Consumed head slots of the paged list kept before it is compacted. */
const PAGED_HEAD_COMPACT_MIN = 4096

/** What a browser needs to read paged messages without disturbing the queue. */
export interface PagedSnapshot {
  seqs: Set<number>
  rangeActive: boolean
  rangeAfter: number
  rangeDropped: ReadonlySet<number>
}

export class PagedCursor {
  private paged: number[] = []
  private pagedHead = 0
  private rangeActive = false
  private rangeAfter = 0
  private rangeRemaining = 0
  /** Recovered-range seqs an operator took out (#18, management.ts): page-in skips them. */
  private rangeDropped = new Set<number>()

  get count(): number {
    return this.paged.length - this.pagedHead + this.rangeRemaining
  }

  isPaging(): boolean {
    return this.rangeActive || this.paged.length > this.pagedHead
  }

  /** Recovery: `count` stored messages below the seq boundary belong to this queue. */
  startRecoveredRange(count: number): void {
    this.rangeActive = count > 0
    this.rangeAfter = 0
    this.rangeRemaining = count
  }

  /** Stored message `seq` stays in the store until paged in (kept sorted). */
  add(seq: number): void {
    const p = this.paged
    if (p.length === this.pagedHead || p[p.length - 1]! < seq) p.push(seq)
    else p.splice(this.lowerBound(seq), 0, seq)
  }

  private lowerBound(seq: number): number {
    const p = this.paged
    let lo = this.pagedHead,
      hi = p.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (p[mid]! < seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Forget everything (the queue was deleted). */
  clear(): void {
    this.paged = []
    this.pagedHead = 0
    this.rangeActive = false
    this.rangeRemaining = 0
  }

  snapshot(): PagedSnapshot {
    return {
      seqs: new Set(this.paged.slice(this.pagedHead)),
      rangeActive: this.rangeActive,
      rangeAfter: this.rangeAfter,
      rangeDropped: new Set(this.rangeDropped),
    }
  }

  /** Take stored message `seq` out if it is still waiting paged out (false otherwise); page-in never loads it. */
  take(seq: number, seqBoundary: number): boolean {
    const p = this.paged
    const lo = this.lowerBound(seq)
    if (lo < p.length && p[lo] === seq) {
      p.splice(lo, 1)
    } else if (this.rangeActive && seq > this.rangeAfter && seq < seqBoundary && !this.rangeDropped.has(seq)) {
      this.rangeDropped.add(seq)
      this.rangeRemaining = Math.max(0, this.rangeRemaining - 1)
    } else return false
    return true
  }

  /**
   * Load the next page of `key` from `store` (at most `pageSize` messages) and hand each paged message to `hold`
   * (recovered: from the range). `deleted()` is asked after the load: a queue deleted meanwhile takes nothing.
   */
  async pageIn(
    store: PersistenceAdapter,
    key: string,
    seqBoundary: () => number,
    deleted: () => boolean,
    hold: (m: StoredMessage, recovered: boolean) => void,
    pageSize = PAGE_SIZE,
  ): Promise<void> {
    if (this.rangeActive) {
      const batch = await store.load(key, this.rangeAfter, pageSize)
      if (deleted()) return
      let done = batch.length < pageSize
      for (const m of batch) {
        if (m.seq >= seqBoundary()) {
          done = true
          break
        }
        if (this.rangeDropped.delete(m.seq)) {
          this.rangeAfter = m.seq
          continue
        }
        this.rangeAfter = m.seq
        this.rangeRemaining = Math.max(0, this.rangeRemaining - 1)
        hold(m, true)
      }
      if (done) {
        this.rangeActive = false
        this.rangeRemaining = 0
        this.rangeDropped.clear()
      }
      return
    }
    if (this.paged.length === this.pagedHead) return
    const first = this.paged[this.pagedHead]!
    const batch = await store.load(key, first - 1, pageSize)
    if (deleted()) return
    const loaded = new Map<number, StoredMessage>()
    for (const m of batch) loaded.set(m.seq, m)
    // Hand out the paged seqs in order while each was loaded, and stop at the first that was not: a message
    // routed while the load ran may sit below the loaded range (another session's write took a later seq but
    // routed first), and holding what comes after it would put later messages of its producer ahead of it.
    // Loaded messages not on the list are skipped: their routing is still pending, and routing will page them.
    const p = this.paged
    while (this.pagedHead < p.length) {
      const seq = p[this.pagedHead]!
      const m = loaded.get(seq)
      if (m !== undefined) hold(m, false)
      else if (seq === first) {
        // Always progress: the first paged seq must be in the store; if it is gone (purged), forget it.
        log.warn(`page-in of ${key}: paged message seq ${first} is no longer in the store; skipping it`)
      } else break
      this.pagedHead++
    }
    if (this.pagedHead > PAGED_HEAD_COMPACT_MIN && this.pagedHead * 2 > this.paged.length) {
      this.paged = this.paged.slice(this.pagedHead)
      this.pagedHead = 0
    }
  }
}
