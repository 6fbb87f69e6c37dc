/**
 * JobQueue: the scheduler's job table (id → job, and the body bytes it holds), the heap of due times and the one
 * timer that fires them. The Scheduler decides what a firing does and records it; this file only keeps which job is
 * due next and wakes the Scheduler then (`hooks.fire`), one firing batch at a time. Heap entries are never removed
 * in place: a job's `gen` is bumped on every push, and an entry whose gen, firing, removing or table slot no longer
 * matches is dropped when it reaches the top (peekValid).
 */
import type { Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import { MinHeap } from '../../lib/min-heap.ts'
import type { CoreMessage } from '../../model/index.ts'
import { labelOf } from '../destination.ts'
import { CronExpression } from './cron.ts'
import type { Job } from './firing-plan.ts'
import type { JobRecord } from './job.ts'

const log = logger('scheduler')

/** setTimeout overflows above 2^31-1 ms (fires at once): longer waits are cut to this and re-armed. */
export const TIMER_MS_MAX = 2 ** 31 - 1

interface HeapEntry {
  at: number
  seq: number
  gen: number
  job: Job
}

export interface JobQueueHooks {
  /** The scheduler is started: the timer is armed and fires only then. */
  running(): boolean
  /** Fire what is due; the timer re-arms once it settles. */
  fire(): Promise<void>
}

export class JobQueue {
  readonly jobs = new Map<string, Job>()
  /** Body bytes of the jobs in the table. */
  bytes = 0
  /** No firing before this (epoch ms): a retry back-off after a refused copy or a failed record. */
  backoffUntil = 0
  private readonly heap = new MinHeap<HeapEntry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq))
  private timer: unknown = null
  private timerAt = Infinity
  private firing: Promise<void> | null = null

  constructor(
    private readonly clock: Clock,
    private readonly cronUtc: boolean,
    private readonly hooks: JobQueueHooks,
  ) {}

  /** The firing batch in flight (hooks.fire), if any. */
  get inflight(): Promise<void> | null {
    return this.firing
  }

  /** A job as held from its record and message; a stored cron text is parsed unless `cronExpr` is given. */
  makeJob(rec: JobRecord, message: CoreMessage, seq: number, now: number, cronExpr?: CronExpression | null): Job {
    const expr =
      cronExpr !== undefined
        ? cronExpr
        : rec.cron === null
          ? null
          : CronExpression.parse(rec.cron, `stored job ${rec.id} cron`, { utc: this.cronUtc, now })
    return {
      ...rec,
      message,
      destination: labelOf(message.destination),
      body: message.body,
      seq,
      cronExpr: expr,
      gen: 0,
      firing: false,
      removing: false,
      removal: null,
    }
  }

  /** Put a job in the table and count its body (not yet due: enqueue() does that). */
  add(job: Job): void {
    this.jobs.set(job.id, job)
    this.bytes += job.body.length
  }

  /** Take a job out of the table if it still stands there; its heap entries go stale. */
  forget(job: Job): void {
    if (this.jobs.get(job.id) === job) {
      this.jobs.delete(job.id)
      this.bytes -= job.body.length
    }
  }

  /** Make the job due at its nextAt (any earlier entry of it goes stale). */
  enqueue(job: Job): void {
    job.gen++
    this.heap.push({ at: job.nextAt, seq: job.seq, gen: job.gen, job })
  }

  /** The earliest entry that still stands for a waiting job (stale ones are dropped on the way). */
  peekValid(): HeapEntry | undefined {
    for (;;) {
      const e = this.heap.peek()
      if (!e) return undefined
      const j = e.job
      if (e.gen === j.gen && !j.firing && !j.removing && this.jobs.get(j.id) === j) return e
      this.heap.pop()
    }
  }

  /** Take up to `max` jobs due at `now` out of the heap, in due order, marked firing. */
  takeDue(now: number, max: number): Job[] {
    const batch: Job[] = []
    while (batch.length < max) {
      const e = this.peekValid()
      if (!e || e.at > now) break
      this.heap.pop()
      e.job.firing = true
      batch.push(e.job)
    }
    return batch
  }

  disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.timerAt = Infinity
  }

  /** Arm the timer for the earliest due job (or the end of a retry back-off). At most one timer exists. */
  rearm(): void {
    if (!this.hooks.running() || this.firing) return
    const top = this.peekValid()
    if (!top) return this.disarm()
    const at = Math.max(top.at, this.backoffUntil)
    if (this.timer !== null && this.timerAt === at) return
    this.disarm()
    const waitMs = Math.min(Math.max(0, at - this.clock.now()), TIMER_MS_MAX)
    this.timerAt = at
    this.timer = this.clock.setTimeout(() => {
      this.timer = null
      this.timerAt = Infinity
      this.pump()
    }, waitMs)
  }

  private pump(): void {
    if (!this.hooks.running() || this.firing) return
    this.firing = this.hooks
      .fire()
      .catch((err) => log.error(`firing scheduled jobs failed: ${(err as Error).message}`))
      .finally(() => {
        this.firing = null
        this.rearm()
      })
  }
}
