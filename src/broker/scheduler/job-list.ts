/**
 * listJobs: the scheduler's job table as the admin console lists it (Scheduler.list): the `max` jobs due first, in
 * due order, without bodies or headers, and how many there are. A read of memory only, no store I/O.
 */
import type { Job } from './firing-plan.ts'

/** One job as list() shows it (for the admin console): no body, no headers. */
export interface ScheduledJobInfo {
  id: string
  destination: string
  /** When it fires next (epoch ms); a job being fired right now keeps its due time until recorded. */
  nextDueAt: number
  delayMs: number
  periodMs: number
  cron: string | null
  /** Firings left after the next one (AMQ_SCHEDULED_REPEAT counts down), of `repeatTotal`. */
  repeat: number
  repeatTotal: number
  fired: number
  createdAt: number
  bodyBytes: number
}

/**
 * Jobs being removed are left out. Cost O(jobs x log max): a bounded sorted buffer, not a sort of every job.
 */
export function listJobs(jobs: Iterable<Job>, max: number): { jobs: ScheduledJobInfo[]; total: number } {
  const top: Job[] = []
  const before = (a: Job, b: Job): boolean => a.nextAt < b.nextAt || (a.nextAt === b.nextAt && a.seq < b.seq)
  let total = 0
  for (const j of jobs) {
    if (j.removing) continue
    total++
    if (max <= 0 || (top.length >= max && !before(j, top[top.length - 1]!))) continue
    let lo = 0
    let hi = top.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (before(top[mid]!, j)) lo = mid + 1
      else hi = mid
    }
    top.splice(lo, 0, j)
    if (top.length > max) top.pop()
  }
  return {
    total,
    jobs: top.map((j) => ({
      id: j.id,
      destination: j.destination,
      nextDueAt: j.nextAt,
      delayMs: j.delayMs,
      periodMs: j.periodMs,
      cron: j.cron,
      repeat: j.repeat,
      repeatTotal: j.repeatTotal,
      fired: j.fired,
      createdAt: j.createdAt,
      bodyBytes: j.body.length,
    })),
  }
}
