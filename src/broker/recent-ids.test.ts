/**
 * Goal: RecentIds forgets exactly the ids past its capacity, oldest latest-add first, and an id deleted or added
 * again keeps the window exact. Method: small capacities against a plain array model, seeded random operations.
 */
import { expect, test } from 'bun:test'
import { SeededRandom, seedFromEnv } from '../lib/random.ts'
import { RecentIds } from './recent-ids.ts'

test('RecentIds evicts the oldest id once capacity is crossed', () => {
  const r = new RecentIds(3)
  for (const id of ['a', 'b', 'c']) r.add(id)
  expect(['a', 'b', 'c'].map((id) => r.has(id))).toEqual([true, true, true])
  r.add('d')
  expect(['a', 'b', 'c', 'd'].map((id) => r.has(id))).toEqual([false, true, true, true])
  expect(r.size).toBe(3)
})

test('RecentIds keeps an id added again until its latest add leaves the window', () => {
  const r = new RecentIds(3)
  r.add('a')
  r.add('b')
  r.delete('a')
  r.add('a') // now the newest
  r.add('c')
  r.add('d') // evicts b (a's first slot is stale)
  expect(['a', 'b', 'c', 'd'].map((id) => r.has(id))).toEqual([true, false, true, true])
})

test('RecentIds matches a model under seeded random adds and deletes', () => {
  const seed = seedFromEnv()
  const rnd = new SeededRandom(seed)
  for (const capacity of [1, 2, 5, 17]) {
    const r = new RecentIds(capacity)
    // The model: an id is known iff its latest add is among the last `capacity` adds and no delete came after it.
    const lastAdd = new Map<string, number>()
    let adds = 0
    for (let i = 0; i < 5000; i++) {
      const id = `m${rnd.int(0, capacity * 3)}`
      if (rnd.next() < 0.2) {
        r.delete(id)
        lastAdd.delete(id)
      } else {
        r.add(id)
        lastAdd.set(id, adds++)
      }
      for (let k = 0; k <= capacity * 3; k++) {
        const probe = `m${k}`
        const at = lastAdd.get(probe)
        const want = at !== undefined && at >= adds - capacity
        if (r.has(probe) !== want)
          throw new Error(`SEED=${seed} capacity ${capacity} step ${i}: has(${probe}) is ${r.has(probe)}`)
      }
    }
  }
})
