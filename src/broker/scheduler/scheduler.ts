/**
 * Scheduler: ActiveMQ-style delayed, periodic and cron delivery (`AMQ_SCHEDULED_*` headers) and the
 * `ActiveMQ.Scheduler.Management` destination (BROWSE / REMOVE / REMOVEALL). It owns accepting jobs, firing them
 * and the job records in its own PersistenceAdapter (opened by the node at `schedulerDirectory`, same epoch and
 * fence as the message store). It knows no socket and no lock: copies go out through `BrokerCore.route()`. The job
 * table, due heap and timer are ./job-queue.ts; what one firing does is ./firing-plan.ts; the management commands
 * are ./management-command.ts (removal: ./job-removal.ts; the console's list: ./job-list.ts).
 *
 * Semantics (ActiveMQ SchedulerBroker + JobSchedulerImpl):
 * - first firing at now + DELAY, or now + PERIOD when DELAY is 0; with CRON, at the next cron time + that;
 * - non-cron: each firing delivers one copy; REPEAT extra firings follow, PERIOD after the previous firing;
 * - cron, REPEAT 0: one copy per cron time; cron with REPEAT > 0: each cron time starts a separate job (its own
 *   `scheduledJobId`) delivering REPEAT+1 copies DELAY/PERIOD apart, as ActiveMQ does;
 * - a delivered copy has no AMQ_SCHEDULED_* headers, carries `scheduledJobId`, gets a new message id when the job
 *   repeats or is cron, its `expires` is shifted so the TTL counts from delivery, and its timestamp is the firing
 *   time unless the producer set one (SendRequest.timestampDefaulted; sfbroker 0.1.0's behaviour).
 * - jobs overdue at start (no primary was up) fire once right away; a repeating job then continues PERIOD later.
 *
 * Durability and "exactly once" across kill -9 / failover (the argument):
 * - accept() resolves only after the job's add is durable and fenced (store.write), so a receipted scheduled SEND
 *   is recovered by every later primary. A client retry of a SEND with `message-id`/`_AMQ_DUPL_ID` is filtered
 *   with the scheduler store's dedupe record, so a lost receipt does not create a second job.
 * - Firing routes the copy FIRST and records the firing (remove old version + add updated version, one atomic
 *   batch) SECOND. A crash between the two can therefore never lose a copy (the job is still there and fires
 *   again), and cannot duplicate it either, because every copy's message id is a function of (job id, firings
 *   already recorded): the re-fired copy has the same message id, which the broker's producer dedupe record
 *   (message store, survives failover) filters. The other order (record, then route) would lose the copy on a
 *   crash in between, which is worse than any duplicate.
 * - Hence: exactly once for persistent copies; for non-persistent copies (which no store keeps) at least once
 *   only if the broker does not keep their ids in its dedupe record.
 * - The remaining repeat count lives in the job record, updated in the same batch as each firing, so a failover
 *   keeps it: the new primary fires exactly the repeats not yet recorded (and a re-fired, already delivered one
 *   is filtered as above).
 *
 * Not promised: jobs (bodies included) are held in memory; `jobsMax` and `jobBytesMax` bound that and a SEND over
 * them fails with BROKER_LIMIT (ActiveMQ blocks the producer instead). Firing precision is the event loop's.
 */
import crypto from 'node:crypto'
import { BrokerError } from '../../lib/errors.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import { dedupeKey } from '../../model/index.ts'
import { labelOf } from '../destination.ts'
import type { BrokerCore, BrokerSession, SchedulerPort, SendRequest } from '../types.ts'
import type { PersistenceAdapter, RecoveredState, StoreOp } from '../../storage/types.ts'
import { runManagementCommand } from './management-command.ts'
import { planFiring, retryable, type Job, type Plan } from './firing-plan.ts'
import { JobQueue } from './job-queue.ts'
import { removeJobs } from './job-removal.ts'
import { listJobs, type ScheduledJobInfo } from './job-list.ts'
import {
  JOBS_STORE_KEY,
  SCHEDULER_REPEAT_MAX,
  decodeJob,
  encodeJob,
  hasScheduleProperties,
  isManagementDestination,
  parseSchedule,
  type JobRecord,
} from './job.ts'

const log = logger('scheduler')

export interface SchedulerOptions {
  store: PersistenceAdapter
  broker: BrokerCore
  clock?: Clock
  /** Largest AMQ_SCHEDULED_REPEAT accepted (ActiveMQ maxSchedulerRepeatAllowed), default 1000. */
  maxRepeat?: number
  /** Most jobs held at once, default 1,000,000. */
  jobsMax?: number
  /** Most body bytes of all jobs held at once (they live in memory), default 256 MiB. */
  jobBytesMax?: number
  /** Wait before firing again after the broker or store refused a copy (e.g. shutting down), default 1000 ms. */
  retryMs?: number
  /** Most jobs fired in one batch (one store write), default 500. */
  fireBatchMax?: number
  /** Jobs read per store.load() call at start, default 500. */
  loadPageSize?: number
  /** Evaluate cron fields in UTC instead of local time (tests; brokers run in UTC). Default false, as ActiveMQ. */
  cronUtc?: boolean
}

export type { ScheduledJobInfo } from './job-list.ts'

export interface SchedulerStats {
  jobs: number
  nextDueAt: number | null
}

export class Scheduler implements SchedulerPort {
  private readonly store: PersistenceAdapter
  private readonly broker: BrokerCore
  private readonly clock: Clock
  private readonly maxRepeat: number
  private readonly jobsMax: number
  private readonly jobBytesMax: number
  private readonly retryMs: number
  private readonly fireBatchMax: number
  private readonly loadPageSize: number
  private readonly cronUtc: boolean

  private state: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  /** The job table, its due heap and the timer. */
  private readonly queue: JobQueue
  /** Adds in flight (reserved against the limits before their write). */
  private pendingJobs = 0
  private pendingBytes = 0
  /** The batch being fired (out of the heap until recorded). */
  private firingJobs: Job[] = []
  private readonly idPrefix = `ID:sched-${crypto.randomBytes(6).toString('hex')}-`
  private idSeq = 0

  constructor(opts: SchedulerOptions) {
    this.store = opts.store
    this.broker = opts.broker
    this.clock = opts.clock ?? systemClock
    this.maxRepeat = opts.maxRepeat ?? SCHEDULER_REPEAT_MAX
    this.jobsMax = opts.jobsMax ?? 1_000_000
    this.jobBytesMax = opts.jobBytesMax ?? 256 * 1024 * 1024
    this.retryMs = opts.retryMs ?? 1000
    this.fireBatchMax = opts.fireBatchMax ?? 500
    this.loadPageSize = opts.loadPageSize ?? 500
    this.cronUtc = opts.cronUtc ?? false
    this.queue = new JobQueue(this.clock, this.cronUtc, {
      running: () => this.state === 'started',
      fire: () => this.fireDue(),
    })
    for (const [k, v] of Object.entries({
      maxRepeat: this.maxRepeat,
      jobsMax: this.jobsMax,
      jobBytesMax: this.jobBytesMax,
      fireBatchMax: this.fireBatchMax,
      loadPageSize: this.loadPageSize,
    })) {
      if (!Number.isSafeInteger(v) || v < (k === 'maxRepeat' ? 0 : 1))
        throw new BrokerError(
          'CONFIG_INVALID',
          `scheduler option ${k}: ${v} is not a whole number ≥ ${k === 'maxRepeat' ? 0 : 1}`,
        )
    }
    if (!Number.isFinite(this.retryMs) || this.retryMs < 0)
      throw new BrokerError('CONFIG_INVALID', `scheduler option retryMs: ${this.retryMs} is not a number of ms ≥ 0`)
  }

  /** Load every job from the store (paged), then arm the timer; overdue jobs fire right away, once. */
  async start(recovered: RecoveredState): Promise<void> {
    if (this.state !== 'new') throw new Error(`assertion failed: Scheduler.start() called in state ${this.state}`)
    this.state = 'starting'
    const now = this.clock.now()
    const stale: { seq: number; id: string }[] = []
    let afterSeq = 0
    let corrupt = 0
    for (;;) {
      const page = await this.store.load(JOBS_STORE_KEY, afterSeq, this.loadPageSize)
      for (const m of page) {
        afterSeq = m.seq
        let job: Job
        try {
          const d = decodeJob(m)
          job = this.queue.makeJob(d.rec, d.message, m.seq, now)
        } catch (err) {
          corrupt++
          log.error(`scheduler store: skipping unreadable job at seq ${m.seq}: ${(err as Error).message}`)
          continue
        }
        const old = this.queue.jobs.get(job.id)
        if (old) {
          // Updates are atomic batches, so two versions of one job mean a bug or a foreign writer: keep the newer.
          const [keep, drop] = old.version >= job.version ? [old, job] : [job, old]
          log.warn(
            `scheduler store: job ${job.id} stored twice (versions ${old.version} and ${job.version}); keeping version ${keep.version}`,
          )
          stale.push({ seq: drop.seq, id: drop.id })
          this.queue.forget(old)
          job = keep
        }
        this.queue.add(job)
      }
      if (page.length < this.loadPageSize) break
    }
    if (stale.length > 0)
      await this.store.write(stale.map((s) => ({ op: 'remove', destination: JOBS_STORE_KEY, seq: s.seq }) as StoreOp))
    let overdue = 0
    for (const job of this.queue.jobs.values()) {
      if (job.nextAt <= now) overdue++
      this.queue.enqueue(job)
    }
    const listed = recovered.destinations.find((d) => d.destination === JOBS_STORE_KEY)?.count
    log.info(
      `scheduler started: ${this.queue.jobs.size} jobs (${overdue} overdue, firing now)${corrupt ? `, ${corrupt} unreadable skipped` : ''}${listed !== undefined && listed !== this.queue.jobs.size + corrupt ? `; store summary listed ${listed}` : ''}`,
    )
    this.state = 'started'
    this.queue.rearm()
  }

  /** Stop firing. A batch in flight finishes (its copies and record) before this resolves. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.queue.disarm()
    if (this.queue.inflight) await this.queue.inflight
  }

  stats(): SchedulerStats {
    const top = this.queue.peekValid()
    let next = top ? top.at : null
    // Jobs being fired are out of the heap but still due.
    for (const j of this.firingJobs) if (next === null || j.nextAt < next) next = j.nextAt
    return { jobs: this.queue.jobs.size, nextDueAt: next }
  }

  /**
   * The `max` jobs due first, in due order, and how many there are: a read of the in-memory table, no store I/O and
   * no message round trip (BROWSE through the management destination has no due times). Jobs being removed are left
   * out. Cost O(jobs x log max): a bounded sorted buffer, not a sort of every job.
   */
  list(max: number): { jobs: ScheduledJobInfo[]; total: number } {
    return listJobs(this.queue.jobs.values(), max)
  }

  claims(req: SendRequest): boolean {
    return isManagementDestination(req.message.destination) || hasScheduleProperties(req.message)
  }

  async accept(req: SendRequest, _session: BrokerSession | null): Promise<boolean> {
    const m = req.message
    if (isManagementDestination(m.destination)) {
      this.assertRunning()
      await this.manage(req)
      return true
    }
    const now = this.clock.now()
    const spec = parseSchedule(m, this.maxRepeat, now)
    if (!spec) return false
    this.assertRunning()
    // The scheduler store records the dedupe key of every job message it adds (the model's dedupeKey).
    const key = dedupeKey(m)
    if (key !== null && this.store.isDuplicate(key)) {
      log.debug(`scheduled SEND ${key} to ${labelOf(m.destination)} ignored (already scheduled)`)
      return true
    }
    const held = this.queue.jobs.size
    if (held + this.pendingJobs >= this.jobsMax) {
      throw new BrokerError('BROKER_LIMIT', `scheduler: ${held} jobs held; jobsMax is ${this.jobsMax}`, {
        details: { limit: 'jobsMax' },
      })
    }
    if (this.queue.bytes + this.pendingBytes + m.body.length > this.jobBytesMax) {
      throw new BrokerError(
        'BROKER_LIMIT',
        `scheduler: ${this.queue.bytes} body bytes held, ${m.body.length} more would pass jobBytesMax ${this.jobBytesMax}`,
        { details: { limit: 'jobBytesMax' } },
      )
    }
    let at = now
    if (spec.cron) at = spec.cron.next(now, { utc: this.cronUtc }) ?? now
    at += spec.delayMs > 0 ? spec.delayMs : spec.periodMs
    const rec: JobRecord = {
      v: 2,
      id: this.newId(),
      cron: spec.cron ? spec.cron.text : null,
      delayMs: spec.delayMs,
      periodMs: spec.periodMs,
      repeat: spec.repeat,
      repeatTotal: spec.repeat,
      nextAt: at,
      fired: 0,
      createdAt: now,
      version: 1,
      stampOnFire: req.timestampDefaulted === true,
    }
    // The broker assigns ids before it offers a SEND here; a caller that did not (messageId '') gets the job's.
    const sent = m.messageId === '' ? { ...m, messageId: rec.id } : m
    const message = encodeJob(rec, sent)
    this.pendingJobs++
    this.pendingBytes += m.body.length
    let seq: number
    try {
      const res = await this.store.write([{ op: 'add', destination: JOBS_STORE_KEY, message }])
      seq = res.seqs[0]!
    } finally {
      this.pendingJobs--
      this.pendingBytes -= m.body.length
    }
    // Durable now: the receipt may go out. If we were stopped meanwhile the next primary recovers the job.
    if (this.state === 'started') {
      const job = this.queue.makeJob(rec, sent, seq, now, spec.cron)
      this.queue.add(job)
      this.queue.enqueue(job)
      this.queue.rearm()
      log.debug(`job ${job.id} for ${job.destination} scheduled at ${new Date(job.nextAt).toISOString()}`)
    }
    return true
  }

  // ---- management (ActiveMQ.Scheduler.Management, ./management-command.ts) ----

  private manage(req: SendRequest): Promise<void> {
    return runManagementCommand(req, {
      jobs: () => this.queue.jobs.values(),
      route: (r) => this.broker.route(r),
      now: () => this.clock.now(),
      newId: () => this.newId(),
      removeJobs: (list) => removeJobs(this.queue, this.store, list),
      jobById: (id) => this.queue.jobs.get(id),
    })
  }

  // ---- firing ----

  private async fireDue(): Promise<void> {
    const now = this.clock.now()
    if (now < this.queue.backoffUntil) return
    const batch = this.queue.takeDue(now, this.fireBatchMax)
    if (batch.length === 0) return
    this.firingJobs = batch
    try {
      await this.fireBatch(batch, now)
    } finally {
      this.firingJobs = []
    }
  }

  private async fireBatch(batch: Job[], now: number): Promise<void> {
    const plans: Plan[] = []
    for (const job of batch) {
      try {
        plans.push(planFiring(job, now, this.cronUtc))
      } catch (err) {
        // A plan cannot fail for a valid job; keep the job rather than lose it, and say so loudly.
        log.error(`job ${job.id}: cannot compute its firing: ${(err as Error).message}; retrying in ${this.retryMs} ms`)
        job.firing = false
        this.queue.enqueue(job)
        this.queue.backoffUntil = now + this.retryMs
      }
    }
    // Route every copy first (calls start in due order; the broker may group-commit them), then record.
    const routed = await Promise.allSettled(plans.map((p) => (p.copy ? this.broker.route(p.copy) : Promise.resolve())))
    const done: Plan[] = []
    let retry = false
    plans.forEach((p, i) => {
      const r = routed[i]!
      if (r.status === 'rejected') {
        if (retryable(r.reason) && this.state === 'started') {
          retry = true
          log.warn(
            `job ${p.job.id}: copy to ${p.job.destination} not accepted (${(r.reason as Error).message}); retrying in ${this.retryMs} ms`,
          )
          p.job.firing = false
          this.queue.enqueue(p.job)
          return
        }
        if (retryable(r.reason)) {
          // Stopping: leave the job as recorded; the next primary fires it (same message id, so no duplicate).
          p.job.firing = false
          return
        }
        log.error(`job ${p.job.id}: copy to ${p.job.destination} dropped: ${(r.reason as Error).message}`)
      }
      done.push(p)
    })
    if (retry) this.queue.backoffUntil = now + this.retryMs
    if (done.length === 0) return
    const ops: StoreOp[] = []
    for (const p of done) {
      ops.push({ op: 'remove', destination: JOBS_STORE_KEY, seq: p.job.seq })
      if (p.next) ops.push({ op: 'add', destination: JOBS_STORE_KEY, message: encodeJob(p.next, p.job.message) })
      if (p.spawn) ops.push({ op: 'add', destination: JOBS_STORE_KEY, message: encodeJob(p.spawn, p.job.message) })
    }
    let seqs: number[]
    try {
      seqs = (await this.store.write(ops)).seqs
    } catch (err) {
      // The copies went out but the firing is not recorded: the job fires again later (here or on the next
      // primary) with the same copy ids, which the broker's dedupe record filters.
      log.error(
        `recording ${done.length} job firings failed: ${(err as Error).message}; they will be fired again (same message ids)`,
      )
      for (const p of done) {
        p.job.firing = false
        this.queue.enqueue(p.job)
      }
      this.queue.backoffUntil = this.clock.now() + this.retryMs
      return
    }
    let k = 0
    for (const p of done) {
      const job = p.job
      job.firing = false
      if (p.next) {
        Object.assign(job, p.next)
        job.seq = seqs[k++]!
        if (this.queue.jobs.get(job.id) === job) this.queue.enqueue(job)
      } else {
        this.queue.forget(job)
      }
      if (p.spawn) {
        const sub = this.queue.makeJob(p.spawn, job.message, seqs[k++]!, now)
        this.queue.add(sub)
        this.queue.enqueue(sub)
      }
    }
  }

  // ---- ids and state ----

  private newId(): string {
    return `${this.idPrefix}${++this.idSeq}`
  }

  private assertRunning(): void {
    if (this.state !== 'started')
      throw new BrokerError(
        'BROKER_STOPPED',
        `scheduler is ${this.state === 'stopped' ? 'stopped' : 'not started yet'}; scheduled SENDs are not accepted`,
      )
  }
}
