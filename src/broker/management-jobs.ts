/**
 * ScheduledJobs: the admin console's view of the scheduler (BrokerManagement.jobs / removeJobs), spoken through
 * ActiveMQ's own management protocol rather than the scheduler's internals: a BROWSE sent to
 * ActiveMQ.Scheduler.Management with a reply-to temp queue, REMOVE and REMOVEALL as plain sends. So what the console
 * sees and does is what any JMS or STOMP client could, with the same authorization path. Counts come from the
 * scheduler's stats(); the list holds at most JOBS_LIST_MAX jobs.
 */
import { BrokerError } from '../lib/errors.ts'
import { type CoreMessage, createMessage, prop, propertyAsString } from '../model/index.ts'
import type { Broker } from './broker.ts'
import type { SchedulerPort } from './types.ts'

/** Scheduled jobs listed at most. */
export const JOBS_LIST_MAX = 1000

export interface JobInfo {
  id: string
  destination: string
  delayMs: number | null
  periodMs: number | null
  repeat: number | null
  cron: string | null
  bodyBytes: number
}

/** The scheduler as the console's view needs it: the port, and its counts. */
export type SchedulerView = SchedulerPort & { stats(): { jobs: number; nextDueAt: number | null } }

export class ScheduledJobs {
  private browses = 0

  constructor(
    private readonly broker: Broker,
    private readonly scheduler: SchedulerView | null,
    /** Sends as a producer would (BrokerManagement.send). */
    private readonly send: (message: CoreMessage) => Promise<void>,
  ) {}

  /**
   * Scheduled jobs in due order (at most JOBS_LIST_MAX), through ActiveMQ's own management protocol: a BROWSE sent
   * to ActiveMQ.Scheduler.Management with a reply-to temp queue this call subscribes to. Null without a scheduler.
   */
  async list(): Promise<{ jobs: JobInfo[]; total: number; nextDueAt: number | null } | null> {
    if (!this.scheduler) return null
    const stats = this.scheduler.stats()
    const s = this.broker.connect({ remoteAddress: 'admin console', protocol: 'admin' })
    const replyTo = {
      kind: 'temp-queue' as const,
      name: `sfbroker.console.jobs.${process.pid}.${++this.browses}`,
    }
    const jobs: JobInfo[] = []
    try {
      s.subscribe({ id: 'jobs', destination: replyTo, ack: 'auto', prefetch: 10_000 }, (d) => {
        if (d.browserEnd || jobs.length >= JOBS_LIST_MAX) return
        const m = d.message
        const str = (k: string): string | null => {
          const v = m.properties.get(k)
          return v === undefined ? null : propertyAsString(v)
        }
        const num = (k: string): number | null => {
          const v = str(k)
          return v === null || v === '' ? null : Number(v)
        }
        jobs.push({
          id: str('scheduledJobId') ?? '',
          destination: str('original-destination') ?? '',
          delayMs: num('AMQ_SCHEDULED_DELAY'),
          periodMs: num('AMQ_SCHEDULED_PERIOD'),
          repeat: num('AMQ_SCHEDULED_REPEAT'),
          cron: str('AMQ_SCHEDULED_CRON'),
          bodyBytes: m.body.length,
        })
      })
      await s.send({ message: this.command({ AMQ_SCHEDULER_ACTION: 'BROWSE' }, replyTo) })
      // Replies are dispatched from microtasks after each route; one macrotask turn lets the last ones arrive.
      await new Promise((r) => setImmediate(r))
    } finally {
      await s.close()
    }
    return { jobs, total: stats.jobs, nextDueAt: stats.nextDueAt }
  }

  /** Remove one scheduled job (id) or all (null), through ActiveMQ.Scheduler.Management REMOVE / REMOVEALL. */
  async remove(id: string | null): Promise<void> {
    if (!this.scheduler)
      throw new BrokerError('BROKER_DESTINATION_INVALID', 'the scheduler is not enabled (schedulerSupport)')
    const props: Record<string, string> =
      id === null ? { AMQ_SCHEDULER_ACTION: 'REMOVEALL' } : { AMQ_SCHEDULER_ACTION: 'REMOVE', scheduledJobId: id }
    await this.send(this.command(props, null))
  }

  /** A message to ActiveMQ.Scheduler.Management with string properties (the command) and a reply-to. */
  private command(props: Record<string, string>, replyTo: { kind: 'temp-queue'; name: string } | null): CoreMessage {
    const m = createMessage({
      messageId: '',
      destination: { kind: 'queue', name: 'ActiveMQ.Scheduler.Management' },
      timestamp: this.broker.clock.now(),
      replyTo,
    })
    for (const k in props) m.properties.set(k, prop.string(props[k]!))
    return m
  }
}
