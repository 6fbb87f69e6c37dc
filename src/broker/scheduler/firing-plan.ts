/**
 * What one firing of a scheduled job does, as a value: the copy it delivers (ActiveMQ SchedulerBroker.scheduledJob:
 * no AMQ_SCHEDULED_* headers, `scheduledJobId`, a message id derived from the job and its firings so a re-run
 * firing is deduped, `expires` shifted so the TTL counts from delivery, the firing time as timestamp unless the
 * producer set one, as 0.1.0 did), the job's next version, or the separate
 * job a cron trigger with repeats starts. Pure: the Scheduler routes the copy and records the plan.
 */
import { isBrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import { type CoreMessage, copyMessage, prop } from '../../model/index.ts'
import type { SendRequest } from '../types.ts'
import type { CronExpression } from './cron.ts'
import { H, SCHEDULED_HEADERS, type JobRecord } from './job.ts'

const log = logger('scheduler')

/** A job as the scheduler holds it: its record, body, store seq and firing state. */
export interface Job extends JobRecord {
  /** The message as sent (AMQ_SCHEDULED_* properties included). */
  message: CoreMessage
  /** Its destination's label, for logs and the job list. */
  destination: string
  body: Uint8Array
  /** seq of the job's current version in the store. */
  seq: number
  cronExpr: CronExpression | null
  /** Bumped on every heap push; heap entries with an older gen are stale. */
  gen: number
  firing: boolean
  removing: boolean
  removal: Promise<void> | null
}

/** What one firing does: the copy to route (null for a cron trigger that starts a repeat job), then the store update. */
export interface Plan {
  job: Job
  copy: SendRequest | null
  /** The job's next version, or null when this was its last firing. */
  next: JobRecord | null
  /** A job started by a cron trigger with REPEAT > 0. */
  spawn: JobRecord | null
}

/** Errors after which the copy is retried later (broker or store temporarily unable), not dropped. */
export function retryable(err: unknown): boolean {
  if (!isBrokerError(err)) return true
  return ![
    'BROKER_DESTINATION_INVALID',
    'BROKER_SELECTOR_INVALID',
    'SCHEDULER_HEADER_INVALID',
    'STOMP_FRAME_INVALID',
    'STOMP_PROTOCOL',
  ].includes(err.code)
}

export function recordOf(j: Job): JobRecord {
  return {
    v: j.v,
    id: j.id,
    cron: j.cron,
    delayMs: j.delayMs,
    periodMs: j.periodMs,
    repeat: j.repeat,
    repeatTotal: j.repeatTotal,
    nextAt: j.nextAt,
    fired: j.fired,
    createdAt: j.createdAt,
    version: j.version,
    stampOnFire: j.stampOnFire,
  }
}

export function planFiring(job: Job, now: number, cronUtc: boolean): Plan {
  const rec = recordOf(job)
  if (job.cronExpr === null) {
    // JobSchedulerImpl: fire; if repeats remain, next = now + period and repeat - 1; else remove.
    const next =
      job.repeat !== 0
        ? {
            ...rec,
            nextAt: now + job.periodMs,
            repeat: job.repeat - 1,
            fired: job.fired + 1,
            version: job.version + 1,
          }
        : null
    return { job, copy: copyOf(job, now), next, spawn: null }
  }
  const cronAt = job.cronExpr.next(now, { utc: cronUtc })
  if (cronAt === null)
    log.error(`job ${job.id}: cron ${JSON.stringify(job.cron)} has no next firing; removing it after this one`)
  const next = cronAt === null ? null : { ...rec, nextAt: cronAt, fired: job.fired + 1, version: job.version + 1 }
  if (job.repeat === 0) return { job, copy: copyOf(job, now), next, spawn: null }
  // A cron trigger with repeats starts a separate non-cron job, as ActiveMQ does. Its id derives from the
  // trigger count, so a re-run trigger after a crash recreates the same job (and the same copy ids).
  const spawn: JobRecord = {
    v: job.v,
    id: `${job.id}.${job.fired + 1}`,
    cron: null,
    delayMs: job.delayMs,
    periodMs: job.periodMs,
    repeat: job.repeat,
    repeatTotal: job.repeat,
    nextAt: now + (job.delayMs > 0 ? job.delayMs : job.periodMs),
    fired: 0,
    createdAt: job.createdAt,
    version: 1,
    stampOnFire: job.stampOnFire,
  }
  return { job, copy: null, next, spawn }
}

/** The message a firing delivers (ActiveMQ SchedulerBroker.scheduledJob). */
export function copyOf(job: Job, now: number): SendRequest {
  const c = copyMessage(job.message)
  for (const k of SCHEDULED_HEADERS) c.properties.delete(k)
  c.properties.set(H.jobId, prop.string(job.id))
  if (job.cron !== null || job.repeatTotal > 0) {
    // Many copies of one message: each needs its own id, and the same id if this firing is ever re-run.
    c.messageId = `${job.id}:${job.fired + 1}`
    c.producer = { id: job.id, seq: job.fired + 1 }
    c.properties.delete('_AMQ_DUPL_ID')
  } else if (c.producer === null) {
    c.messageId = job.id
  }
  if (job.stampOnFire) c.timestamp = now
  if (c.expiration > 0) {
    const ttl = c.expiration - job.createdAt
    if (ttl > 0) c.expiration = now + ttl
  }
  return { message: c }
}
