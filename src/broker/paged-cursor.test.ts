/**
 * Goal: a page-in hands out paged messages in seq order and never puts one ahead of an earlier paged message still
 * in the store, even when routing adds a lower seq while the load runs (two sessions' writes take seqs in one
 * order and route in the other); it still makes progress past a paged seq that is gone from the store, and a
 * loaded message whose routing is still pending waits for its routing. Method: the cursor alone over a store
 * whose load() the test resolves by hand, from a sorted map of seqs.
 */
import { describe, expect, test } from 'bun:test'
import { createMessage } from '../model/index.ts'
import type { PersistenceAdapter, StoredMessage } from '../storage/types.ts'
import { PagedCursor } from './paged-cursor.ts'

/** A store of `seqs` whose load() returns what is stored above `after` when the test calls `release()`. */
class HeldStore {
  readonly stored = new Set<number>()
  private pending: (() => void)[] = []
  constructor(seqs: number[]) {
    for (const s of seqs) this.stored.add(s)
  }
  get adapter(): PersistenceAdapter {
    return {
      load: (_key: string, after: number, limit: number) =>
        new Promise<StoredMessage[]>((resolve) => {
          this.pending.push(() => {
            const out = [...this.stored]
              .filter((s) => s > after)
              .sort((a, b) => a - b)
              .slice(0, limit)
              .map((seq) => ({
                seq,
                message: createMessage({
                  messageId: `m${seq}`,
                  destination: { kind: 'queue', name: 'Q' },
                  timestamp: 0,
                }),
              }))
            resolve(out)
          })
        }),
    } as unknown as PersistenceAdapter
  }
  release(): void {
    const p = this.pending
    this.pending = []
    for (const f of p) f()
  }
}

async function pageIn(cursor: PagedCursor, store: HeldStore, duringLoad: () => void = () => {}): Promise<number[]> {
  const held: number[] = []
  const done = cursor.pageIn(
    store.adapter,
    'queue://Q',
    () => Number.MAX_SAFE_INTEGER,
    () => false,
    (m) => held.push(m.seq),
  )
  duringLoad()
  store.release()
  await done
  return held
}

describe('PagedCursor page-in order', () => {
  test('PagedCursor holds back what follows a lower seq paged while the load ran, then hands all out in order', async () => {
    // Session A's message took seq 110 and session B's 111, but B's routed first: the page-in loads after 110.
    const store = new HeldStore([110, 111, 112])
    const cursor = new PagedCursor()
    cursor.add(111)
    const first = await pageIn(cursor, store, () => {
      cursor.add(110) // A's first message, routed while the load ran
      cursor.add(112) // A's next one, written and routed after it
    })
    // 112 was loaded, but handing it out now would put it ahead of 110, which the load did not reach.
    expect(first).toEqual([])
    expect(cursor.count).toBe(3)
    expect(await pageIn(cursor, store)).toEqual([110, 111, 112])
    expect(cursor.isPaging()).toBe(false)
  })

  test('PagedCursor skips a paged seq that is gone from the store and goes on', async () => {
    const store = new HeldStore([6, 7])
    const cursor = new PagedCursor()
    for (const s of [5, 6, 7]) cursor.add(s)
    expect(await pageIn(cursor, store)).toEqual([6, 7])
    expect(cursor.count).toBe(0)
  })

  test('PagedCursor leaves a loaded message whose routing is pending to its routing, and pages it in after', async () => {
    // Seq 2 is written but not routed yet (not on the list): it is not taken, so it is never held twice.
    const store = new HeldStore([1, 2, 3])
    const cursor = new PagedCursor()
    cursor.add(1)
    cursor.add(3)
    expect(await pageIn(cursor, store)).toEqual([1, 3])
    cursor.add(2)
    expect(await pageIn(cursor, store)).toEqual([2])
    expect(cursor.isPaging()).toBe(false)
  })
})
