/**
 * The `ActiveMQ.Scheduler.Management` destination's commands (AMQ_SCHEDULER_ACTION): BROWSE sends every job due
 * in the [start, end] window to `reply-to` as a non-persistent Advisory message, in due order; REMOVE removes one
 * job (an unknown id is not an error: it may just have fired for the last time, as in ActiveMQ); REMOVEALL removes
 * every job in the window. A missing or bad header is SCHEDULER_HEADER_INVALID naming header, value and
 * expectation. The job table and its durable removal stay the Scheduler's.
 */
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { SendRequest } from '../types.ts'
import type { Job } from './firing-plan.ts'
import { copyMessage, prop } from '../../model/index.ts'
import { labelOf } from '../destination.ts'
import { H, parseMillis, stringProperty } from './job.ts'

const log = logger('scheduler')

/** What a management command reaches of the scheduler. */
export interface ManagedJobs {
  jobs(): Iterable<Job>
  jobById(id: string): Job | undefined
  route(req: SendRequest): Promise<void>
  /** The scheduler's clock: the timestamp of a reply whose job's producer set none. */
  now(): number
  /** A fresh message id for a BROWSE reply. */
  newId(): string
  /** Remove jobs durably; resolves with how many were removed. */
  removeJobs(list: Job[]): Promise<number>
}

export async function runManagementCommand(req: SendRequest, jobs: ManagedJobs): Promise<void> {
  const m = req.message
  const where = labelOf(m.destination)
  const str = (k: string): string | undefined => stringProperty(m, k)
  const action = str(H.action)
  const bad = (header: string, value: string | undefined, expected: string): never => {
    throw new BrokerError(
      'SCHEDULER_HEADER_INVALID',
      `SEND to ${where} ${header}: ${value === undefined ? 'missing' : JSON.stringify(value)}; expected ${expected}`,
      {
        details: { header, value },
      },
    )
  }
  const startText = str(H.startTime)
  const endText = str(H.endTime)
  const start = startText === undefined ? 0 : parseMillis(H.startTime, startText)
  const end = endText === undefined ? Infinity : parseMillis(H.endTime, endText)
  const inWindow = (j: Job) => j.nextAt >= start && j.nextAt <= end
  switch (action) {
    case 'BROWSE': {
      const replyTo = m.replyTo
      if (replyTo === null) bad('reply-to', str('reply-to'), 'a destination for the BROWSE replies')
      const list = [...jobs.jobs()]
        .filter((j) => !j.removing && inWindow(j))
        .sort((a, b) => a.nextAt - b.nextAt || a.seq - b.seq)
      // One at a time, in due order, so the replies arrive in that order.
      for (const j of list) {
        const c = copyMessage(j.message, {
          destination: replyTo!,
          persistent: false,
          type: 'Advisory',
          messageId: jobs.newId(),
          producer: null,
        })
        if (j.stampOnFire) c.timestamp = jobs.now()
        c.properties.set(H.jobId, prop.string(j.id))
        c.properties.set('original-destination', prop.string(j.destination))
        await jobs.route({ message: c })
      }
      log.debug(`BROWSE: ${list.length} jobs sent to ${labelOf(replyTo!)}`)
      return
    }
    case 'REMOVE': {
      const id = str(H.jobId)
      if (!id) bad(H.jobId, id, 'the id of the job to remove')
      const job = jobs.jobById(id!)
      // Unknown ids are not an error: the job may just have fired for the last time (as in ActiveMQ).
      if (job) await jobs.removeJobs([job])
      return
    }
    case 'REMOVEALL': {
      const n = await jobs.removeJobs([...jobs.jobs()].filter(inWindow))
      log.info(`REMOVEALL: ${n} jobs removed${startText || endText ? ` (window ${start}..${end})` : ''}`)
      return
    }
    default:
      bad(H.action, action, 'BROWSE, REMOVE or REMOVEALL')
  }
}
