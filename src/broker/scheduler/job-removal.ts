/**
 * removeJobs: durable removal of scheduled jobs (ActiveMQ.Scheduler.Management REMOVE / REMOVEALL). A job being
 * fired is removed once its firing is recorded, so its latest version is the one removed; a job already being
 * removed by an earlier command is waited for, not removed twice. A failed store write puts the jobs not yet removed
 * back in the queue (due as before) and rejects. It owns no state: the jobs are the JobQueue's.
 */
import type { PersistenceAdapter, StoreOp } from '../../storage/types.ts'
import type { Job } from './firing-plan.ts'
import { JOBS_STORE_KEY } from './job.ts'
import type { JobQueue } from './job-queue.ts'

/** Jobs removed per store write. */
export const REMOVE_CHUNK_JOBS = 1000
/** Firing batches waited for at most before the removal goes ahead (each one settles; this bounds the loop). */
export const REMOVE_FIRING_WAITS_MAX = 10_000

/** Remove `list` durably; resolves with how many this call removed. */
export async function removeJobs(queue: JobQueue, store: PersistenceAdapter, list: Job[]): Promise<number> {
  const mine: Job[] = []
  const others: Promise<void>[] = []
  for (const j of list) {
    if (j.removal) others.push(j.removal)
    else if (queue.jobs.get(j.id) === j) {
      j.removing = true
      mine.push(j)
    }
  }
  let removed = 0
  const work = (async () => {
    for (let i = 0; i < REMOVE_FIRING_WAITS_MAX && queue.inflight && mine.some((j) => j.firing); i++)
      await queue.inflight
    const live = mine.filter((j) => queue.jobs.get(j.id) === j)
    for (let i = 0; i < live.length; i += REMOVE_CHUNK_JOBS) {
      const part = live.slice(i, i + REMOVE_CHUNK_JOBS)
      try {
        await store.write(part.map((j) => ({ op: 'remove', destination: JOBS_STORE_KEY, seq: j.seq }) as StoreOp))
      } catch (err) {
        for (const j of live.slice(i)) {
          j.removing = false
          j.removal = null
          queue.enqueue(j)
        }
        queue.rearm()
        throw err
      }
      for (const j of part) queue.forget(j)
      removed += part.length
    }
  })()
  for (const j of mine) j.removal = work
  try {
    await work
    await Promise.all(others.map((p) => p.catch(() => undefined)))
  } finally {
    queue.rearm()
  }
  return removed
}
