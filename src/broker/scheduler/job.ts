/**
 * Scheduled jobs as values: the ActiveMQ header names, validation of a SEND's schedule headers, the job record
 * and its encoding as one StoredMessage of the scheduler store. It owns no timer, store or broker; the Scheduler
 * does. The encoding is versioned (`v`) so a newer broker can refuse, not misread, an older or newer record.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { StoredMessage } from '../../storage/types.ts'
import { CronExpression } from './cron.ts'

/** STOMP header names, identical to ActiveMQ's ScheduledMessage property names. */
export const H = {
  delay: 'AMQ_SCHEDULED_DELAY',
  period: 'AMQ_SCHEDULED_PERIOD',
  repeat: 'AMQ_SCHEDULED_REPEAT',
  cron: 'AMQ_SCHEDULED_CRON',
  jobId: 'scheduledJobId',
  action: 'AMQ_SCHEDULER_ACTION',
  startTime: 'ACTION_START_TIME',
  endTime: 'ACTION_END_TIME',
} as const

export const SCHEDULED_HEADERS = [H.delay, H.period, H.repeat, H.cron] as const
export const MANAGEMENT_DESTINATION = 'ActiveMQ.Scheduler.Management'
export type ManagementAction = 'BROWSE' | 'REMOVE' | 'REMOVEALL'
/** ActiveMQ's maxSchedulerRepeatAllowed default (AMQ-7458). */
export const SCHEDULER_REPEAT_MAX = 1000
/** The store key every job lives under in the scheduler's own store. */
export const JOBS_STORE_KEY = 'scheduler://jobs'
/** Header of a StoredMessage carrying the job metadata as JSON. */
const RECORD_HEADER = 'sfbroker-job'
const RECORD_VERSION = 1

/**
 * True for `ActiveMQ.Scheduler.Management` as a topic or queue. ActiveMQ compares the physical name's prefix
 * case-insensitively (SchedulerBroker.send), so `/topic/activemq.scheduler.management` counts too.
 */
export function isManagementDestination(destination: string): boolean {
  const m = /^\/(?:topic|queue)\/(.*)$/.exec(destination)
  const name = m ? m[1]! : destination
  return name.toLowerCase().startsWith(MANAGEMENT_DESTINATION.toLowerCase())
}

export interface ScheduleSpec {
  cron: CronExpression | null
  delayMs: number
  periodMs: number
  repeat: number
}

function invalid(header: string, value: string, expected: string): never {
  throw new BrokerError(
    'SCHEDULER_HEADER_INVALID',
    `SEND header ${header}: ${JSON.stringify(value)} is not ${expected}`,
    {
      details: { header, value },
    },
  )
}

/** A whole number of milliseconds, 0..2^53-1 (Java longs beyond that are never sensible delays). */
export function parseMillis(header: string, value: string): number {
  if (!/^[0-9]{1,16}$/.test(value) || !Number.isSafeInteger(Number(value)))
    invalid(header, value, 'a whole number of milliseconds ≥ 0')
  return Number(value)
}

/**
 * The schedule a SEND asks for, or null when it is not a scheduled send. As in ActiveMQ's SchedulerBroker, only
 * CRON, PERIOD or DELAY make a send scheduled; REPEAT alone does not (it only counts repeats of those). A
 * `scheduledJobId` header means the message is itself a delivered copy: never scheduled again (no loops).
 * Throws SCHEDULER_HEADER_INVALID naming the header and value.
 */
export function parseSchedule(headers: Record<string, string>, repeatMax: number, now: number): ScheduleSpec | null {
  if (headers[H.jobId] !== undefined) return null
  const cronText = headers[H.cron]
  const delayText = headers[H.delay]
  const periodText = headers[H.period]
  if (cronText === undefined && delayText === undefined && periodText === undefined) return null
  const delayMs = delayText === undefined ? 0 : parseMillis(H.delay, delayText)
  const periodMs = periodText === undefined ? 0 : parseMillis(H.period, periodText)
  let repeat = 0
  const repeatText = headers[H.repeat]
  if (repeatText !== undefined) {
    if (!/^[0-9]{1,10}$/.test(repeatText)) invalid(H.repeat, repeatText, `a whole number 0-${repeatMax}`)
    repeat = Number(repeatText)
    // ActiveMQ throws MessageFormatException("The scheduled repeat value is too large"); so do we.
    if (repeat > repeatMax) invalid(H.repeat, repeatText, `at most ${repeatMax} (the scheduler's repeat limit)`)
  }
  let cron: CronExpression | null = null
  if (cronText !== undefined) cron = CronExpression.parse(cronText, `SEND header ${H.cron}`, { now })
  return { cron, delayMs, periodMs, repeat }
}

/** What the store keeps for a job (besides the body). */
export interface JobRecord {
  v: number
  id: string
  destination: string
  /** The SEND headers as received (AMQ_SCHEDULED_* included: BROWSE shows them, firing strips them). */
  headers: Record<string, string>
  cron: string | null
  delayMs: number
  periodMs: number
  /** Repeats still to come after the next firing (ActiveMQ decrements it on each non-cron firing). */
  repeat: number
  /** The repeat count the job was created with: a job with repeats or cron gives every copy a new message id. */
  repeatTotal: number
  /** When the job fires next (epoch ms). */
  nextAt: number
  /** Firings done so far: copies delivered (or cron triggers); makes copy ids deterministic across failover. */
  fired: number
  /** When the job was accepted; TTL (`expires`) counts from delivery, i.e. is shifted by (delivery - createdAt). */
  createdAt: number
  /** Bumped on every rewrite, so each stored version has its own message id. */
  version: number
}

export function encodeJob(rec: JobRecord, body: Uint8Array): Omit<StoredMessage, 'seq'> {
  return { messageId: `${rec.id}#${rec.version}`, headers: { [RECORD_HEADER]: JSON.stringify(rec) }, body }
}

/** Throws STORAGE_CORRUPT_RECORD for a record this code cannot read (wrong version or shape). */
export function decodeJob(m: StoredMessage): JobRecord {
  const fail = (why: string): never => {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `scheduler store ${JOBS_STORE_KEY} seq ${m.seq} (${m.messageId}): ${why}`,
    )
  }
  const raw = m.headers[RECORD_HEADER]
  if (raw === undefined) fail(`no ${RECORD_HEADER} header; expected a scheduler job record`)
  let rec: JobRecord
  try {
    rec = JSON.parse(raw!) as JobRecord
  } catch (e) {
    return fail(`unparseable job record: ${(e as Error).message}`)
  }
  if (rec.v !== RECORD_VERSION) fail(`job record version ${JSON.stringify(rec.v)}; expected ${RECORD_VERSION}`)
  const nums: (keyof JobRecord)[] = [
    'delayMs',
    'periodMs',
    'repeat',
    'repeatTotal',
    'nextAt',
    'fired',
    'createdAt',
    'version',
  ]
  for (const k of nums)
    if (typeof rec[k] !== 'number' || !Number.isFinite(rec[k] as number))
      fail(`field ${k} is ${JSON.stringify(rec[k])}; expected a number`)
  if (
    typeof rec.id !== 'string' ||
    typeof rec.destination !== 'string' ||
    typeof rec.headers !== 'object' ||
    rec.headers === null
  )
    fail('missing id, destination or headers')
  if (rec.cron !== null && typeof rec.cron !== 'string')
    fail(`field cron is ${JSON.stringify(rec.cron)}; expected a string or null`)
  return rec
}
