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
import { H, parseMillis } from './job.ts'

const log = logger('scheduler')

/** What a management command reaches of the scheduler. */
export interface ManagedJobs {
  jobs(): Iterable<Job>
  jobById(id: string): Job | undefined
  route(req: SendRequest): Promise<void>
  /** A fresh message id for a BROWSE reply. */
  newId(): string
  /** Remove jobs durably; resolves with how many were removed. */
  removeJobs(list: Job[]): Promise<number>
}

export async function runManagementCommand(req: SendRequest, jobs: ManagedJobs): Promise<void> {
  const h = req.headers
  const action = h[H.action]
  const bad = (header: string, value: string | undefined, expected: string): never => {
    throw new BrokerError(
      'SCHEDULER_HEADER_INVALID',
      `SEND to ${req.destination} header ${header}: ${value === undefined ? 'missing' : JSON.stringify(value)}; expected ${expected}`,
      {
        details: { header, value },
      },
    )
  }
  const start = h[H.startTime] === undefined ? 0 : parseMillis(H.startTime, h[H.startTime]!)
  const end = h[H.endTime] === undefined ? Infinity : parseMillis(H.endTime, h[H.endTime]!)
  const inWindow = (j: Job) => j.nextAt >= start && j.nextAt <= end
  switch (action) {
    case 'BROWSE': {
      const replyTo = h['reply-to']
      if (!replyTo) bad('reply-to', replyTo, 'a destination for the BROWSE replies')
      const list = [...jobs.jobs()]
        .filter((j) => !j.removing && inWindow(j))
        .sort((a, b) => a.nextAt - b.nextAt || a.seq - b.seq)
      // One at a time, in due order, so the replies arrive in that order.
      for (const j of list) {
        await jobs.route({
          destination: replyTo!,
          headers: {
            ...j.headers,
            [H.jobId]: j.id,
            persistent: 'false',
            type: 'Advisory',
            'message-id': jobs.newId(),
            'original-destination': j.destination,
          },
          body: j.body,
        })
      }
      log.debug(`BROWSE: ${list.length} jobs sent to ${replyTo}`)
      return
    }
    case 'REMOVE': {
      const id = h[H.jobId]
      if (!id) bad(H.jobId, id, 'the id of the job to remove')
      const job = jobs.jobById(id!)
      // Unknown ids are not an error: the job may just have fired for the last time (as in ActiveMQ).
      if (job) await jobs.removeJobs([job])
      return
    }
    case 'REMOVEALL': {
      const n = await jobs.removeJobs([...jobs.jobs()].filter(inWindow))
      log.info(`REMOVEALL: ${n} jobs removed${h[H.startTime] || h[H.endTime] ? ` (window ${start}..${end})` : ''}`)
      return
    }
    default:
      bad(H.action, action, 'BROWSE, REMOVE or REMOVEALL')
  }
}
