/**
 * The scheduler part: delayed, periodic and cron delivery and the ActiveMQ.Scheduler.Management destination.
 * Other parts import only from here.
 */
export { Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.ts'
export { TIMER_MS_MAX } from './job-queue.ts'
export { CronExpression, type CronNextOptions } from './cron.ts'
export {
  H as SCHEDULER_HEADERS,
  MANAGEMENT_DESTINATION,
  SCHEDULER_REPEAT_MAX,
  JOBS_STORE_KEY,
  isManagementDestination,
  legacyJobReader,
  legacyStoreReader,
  parseSchedule,
  type ScheduleSpec,
} from './job.ts'
