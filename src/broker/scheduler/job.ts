/**
 * Scheduled jobs as values: the ActiveMQ property names, validation of a message's schedule properties, the job
 * record and its encoding as one stored message of the scheduler store: the job's CoreMessage with the record as
 * JSON in the `sfbroker-job` property. The record is versioned (`v`) so a newer broker can refuse, not misread, an
 * older or newer one; sfbroker 0.1.0's records (format 1: the SEND's header map and the job JSON under
 * `sfbroker-job`) are read by legacyJobReader. It owns no timer, store or broker; the Scheduler does.
 */
import { BrokerError } from '../../lib/errors.ts'
import { type CoreMessage, copyMessage, type Destination, prop, propertyAsString } from '../../model/index.ts'
import type { LegacyMessageReader, StoredMessage } from '../../storage/types.ts'
import { CronExpression } from './cron.ts'

/** ActiveMQ's ScheduledMessage property names (STOMP headers of the same names map onto them). */
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
const RECORD_VERSION = 2

/**
 * True for `ActiveMQ.Scheduler.Management` as a topic or queue. ActiveMQ compares the physical name's prefix
 * case-insensitively (SchedulerBroker.send), so `/topic/activemq.scheduler.management` counts too.
 */
export function isManagementDestination(d: Destination): boolean {
  return (
    (d.kind === 'queue' || d.kind === 'topic') && d.name.toLowerCase().startsWith(MANAGEMENT_DESTINATION.toLowerCase())
  )
}

/** A property's string form (typed ones as JMS converts them), or undefined when absent. */
export function stringProperty(m: CoreMessage, name: string): string | undefined {
  const p = m.properties.get(name)
  if (p === undefined) return undefined
  return propertyAsString(p) ?? undefined
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
    `SEND property ${header}: ${JSON.stringify(value)} is not ${expected}`,
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

/** Whether parseSchedule can return a schedule for `m` (it has a delay, period or cron property and is no job). */
export function hasScheduleProperties(m: CoreMessage): boolean {
  const p = m.properties
  return !p.has(H.jobId) && (p.has(H.cron) || p.has(H.delay) || p.has(H.period))
}

/**
 * The schedule a SEND asks for, or null when it is not a scheduled send. As in ActiveMQ's SchedulerBroker, only
 * CRON, PERIOD or DELAY make a send scheduled; REPEAT alone does not (it only counts repeats of those). A
 * `scheduledJobId` header means the message is itself a delivered copy: never scheduled again (no loops).
 * Throws SCHEDULER_HEADER_INVALID naming the header and value.
 */
export function parseSchedule(m: CoreMessage, repeatMax: number, now: number): ScheduleSpec | null {
  if (!hasScheduleProperties(m)) return null
  const cronText = stringProperty(m, H.cron)
  const delayText = stringProperty(m, H.delay)
  const periodText = stringProperty(m, H.period)
  if (cronText === undefined && delayText === undefined && periodText === undefined) return null
  const delayMs = delayText === undefined ? 0 : parseMillis(H.delay, delayText)
  const periodMs = periodText === undefined ? 0 : parseMillis(H.period, periodText)
  let repeat = 0
  const repeatText = stringProperty(m, H.repeat)
  if (repeatText !== undefined) {
    if (!/^[0-9]{1,10}$/.test(repeatText)) invalid(H.repeat, repeatText, `a whole number 0-${repeatMax}`)
    repeat = Number(repeatText)
    // ActiveMQ throws MessageFormatException("The scheduled repeat value is too large"); so do we.
    if (repeat > repeatMax) invalid(H.repeat, repeatText, `at most ${repeatMax} (the scheduler's repeat limit)`)
  }
  let cron: CronExpression | null = null
  if (cronText !== undefined) cron = CronExpression.parse(cronText, `SEND property ${H.cron}`, { now })
  return { cron, delayMs, periodMs, repeat }
}

/** What the store keeps for a job besides its message (the `sfbroker-job` property). */
export interface JobRecord {
  v: number
  id: string
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
  /** When the job was accepted; TTL (expiration) counts from delivery, i.e. is shifted by (delivery - createdAt). */
  createdAt: number
  /** Bumped on every rewrite. */
  version: number
  /**
   * The producer set no timestamp (SendRequest.timestampDefaulted): each copy gets its firing time as timestamp,
   * as sfbroker 0.1.0 gave it. Records written before this field existed read as false.
   */
  stampOnFire: boolean
}

const RECORD_FIELDS: (keyof JobRecord)[] = [
  'v',
  'id',
  'cron',
  'delayMs',
  'periodMs',
  'repeat',
  'repeatTotal',
  'nextAt',
  'fired',
  'createdAt',
  'version',
  'stampOnFire',
]

/** The stored message of a job: its message (AMQ_SCHEDULED_* kept: BROWSE shows them, firing strips them) + record. */
export function encodeJob(rec: JobRecord, message: CoreMessage): CoreMessage {
  const r: Record<string, unknown> = {}
  for (const k of RECORD_FIELDS) r[k] = rec[k]
  const m = copyMessage(message)
  m.properties.set(RECORD_HEADER, prop.string(JSON.stringify(r)))
  return m
}

/** Throws STORAGE_CORRUPT_RECORD for a record this code cannot read (wrong version or shape). */
export function decodeJob(s: StoredMessage): { rec: JobRecord; message: CoreMessage } {
  const fail = (why: string): never => {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `scheduler store ${JOBS_STORE_KEY} seq ${s.seq} (${s.message.messageId}): ${why}`,
    )
  }
  const raw = stringProperty(s.message, RECORD_HEADER)
  if (raw === undefined) fail(`no ${RECORD_HEADER} property; expected a scheduler job record`)
  let rec: JobRecord
  try {
    rec = JSON.parse(raw!) as JobRecord
  } catch (e) {
    return fail(`unparseable job record: ${(e as Error).message}`)
  }
  if (rec === null || typeof rec !== 'object') fail('job record is not an object')
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
  if (typeof rec.id !== 'string') fail('missing id')
  if (rec.cron !== null && typeof rec.cron !== 'string')
    fail(`field cron is ${JSON.stringify(rec.cron)}; expected a string or null`)
  if (rec.stampOnFire === undefined) rec.stampOnFire = false
  else if (typeof rec.stampOnFire !== 'boolean')
    fail(`field stampOnFire is ${JSON.stringify(rec.stampOnFire)}; expected true or false`)
  const message = copyMessage(s.message)
  message.properties.delete(RECORD_HEADER)
  return { rec, message }
}

/**
 * The reader of sfbroker 0.1.0's job records (format 1: `{sfbroker-job: <v1 JSON with destination and the SEND
 * headers>}` and the body) for the scheduler store's OpenOptions.legacyMessage. `fromHeaders` turns the SEND's
 * STOMP headers into a message (the node passes the STOMP mapping's fromLegacyStored); the client's message-id or
 * _AMQ_DUPL_ID becomes the producer identity again, as a SEND would have it. The result is a format 2 job message.
 */
export function legacyJobReader(fromHeaders: LegacyMessageReader): LegacyMessageReader {
  return (messageId, headers, body) => {
    const fail = (why: string): never => {
      throw new BrokerError('STORAGE_CORRUPT_RECORD', `scheduler store 0.1.0 record ${messageId}: ${why}`)
    }
    let old: Record<string, unknown>
    try {
      old = JSON.parse(headers[RECORD_HEADER] ?? 'null')
    } catch (e) {
      return fail(`unparseable job record: ${(e as Error).message}`)
    }
    if (old === null || typeof old !== 'object' || old.v !== 1) fail(`not a version 1 ${RECORD_HEADER} record`)
    const h = old.headers as Record<string, string> | null
    if (typeof old.destination !== 'string' || h === null || typeof h !== 'object')
      fail('missing destination or headers')
    const id = typeof old.id === 'string' ? old.id : fail('missing id')
    // The record kept the SEND's raw headers; 0.1.0 read `persistent` in any case when it fired the copy.
    const sent: Record<string, string> = { ...h, destination: old.destination as string }
    if (sent.persistent !== undefined) sent.persistent = sent.persistent.toLowerCase()
    const m = fromHeaders(id, sent, body)
    const key = h!['message-id'] || h!._AMQ_DUPL_ID || null
    if (key !== null) {
      m.messageId = key
      m.producer = { id: key, seq: null }
    }
    const rec: Record<string, unknown> = {}
    for (const k of RECORD_FIELDS) rec[k] = old[k]
    rec.v = RECORD_VERSION
    // 0.1.0 built each copy from the SEND's headers, so a copy got the firing time unless the SEND had a timestamp.
    rec.stampOnFire = !h!.timestamp
    m.properties.set(RECORD_HEADER, prop.string(JSON.stringify(rec)))
    return m
  }
}

/**
 * One reader for 0.1.0 records of either store, for a caller that does not know which store a directory holds
 * (the warm standby follows both): a record whose only header is `sfbroker-job` is a job record (legacyJobReader);
 * anything else is a message record (`fromHeaders`). 0.1.0 gave every stored message a `destination` header and
 * no job record one, so the two cannot be confused.
 */
export function legacyStoreReader(fromHeaders: LegacyMessageReader): LegacyMessageReader {
  const jobs = legacyJobReader(fromHeaders)
  return (messageId, headers, body) =>
    headers[RECORD_HEADER] !== undefined && headers.destination === undefined
      ? jobs(messageId, headers, body)
      : fromHeaders(messageId, headers, body)
}
