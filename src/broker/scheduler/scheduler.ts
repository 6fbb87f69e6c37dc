/**
 * Scheduler: ActiveMQ-style delayed, periodic and cron delivery (`AMQ_SCHEDULED_*` headers) and the
 * `ActiveMQ.Scheduler.Management` destination (BROWSE / REMOVE / REMOVEALL). It owns the job table, the timer and
 * the job records in its own PersistenceAdapter (opened by the node at `schedulerDirectory`, same epoch and fence
 * as the message store). It knows no socket and no lock: copies go out through `BrokerCore.route()`. What one
 * firing does is ./firing-plan.ts; the management commands are ./management-command.ts.
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
import { type CoreMessage, dedupeKey } from '../../model/index.ts'
import { labelOf } from '../destination.ts'
import type { BrokerCore, BrokerSession, SchedulerPort, SendRequest } from '../types.ts'
import type { PersistenceAdapter, RecoveredState, StoreOp } from '../../storage/types.ts'
import { CronExpression } from './cron.ts'
import { MinHeap } from '../../lib/min-heap.ts'
import { runManagementCommand } from './management-command.ts'
import { planFiring, retryable, type Job, type Plan } from './firing-plan.ts'
import {
  JOBS_STORE_KEY,
  SCHEDULER_REPEAT_MAX,
  decodeJob,
  encodeJob,
  isManagementDestination,
  parseSchedule,
  type JobRecord,
} from './job.ts'

const log = logger('scheduler')

/** setTimeout overflows above 2^31-1 ms (fires at once): longer waits are cut to this and re-armed. */
export const TIMER_MS_MAX = 2 ** 31 - 1

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

export interface SchedulerStats {
  jobs: number
  nextDueAt: number | null
}

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

interface HeapEntry {
  at: number
  seq: number
  gen: number
  job: Job
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
  private readonly jobs = new Map<string, Job>()
  private readonly heap = new MinHeap<HeapEntry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq))
  private bytes = 0
  /** Adds in flight (reserved against the limits before their write). */
  private pendingJobs = 0
  private pendingBytes = 0
  private timer: unknown = null
  private timerAt = Infinity
  private inflight: Promise<void> | null = null
  /** The batch being fired (out of the heap until recorded). */
  private firingJobs: Job[] = []
  private backoffUntil = 0
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
          job = this.makeJob(d.rec, d.message, m.seq, now)
        } catch (err) {
          corrupt++
          log.error(`scheduler store: skipping unreadable job at seq ${m.seq}: ${(err as Error).message}`)
          continue
        }
        const old = this.jobs.get(job.id)
        if (old) {
          // Updates are atomic batches, so two versions of one job mean a bug or a foreign writer: keep the newer.
          const [keep, drop] = old.version >= job.version ? [old, job] : [job, old]
          log.warn(
            `scheduler store: job ${job.id} stored twice (versions ${old.version} and ${job.version}); keeping version ${keep.version}`,
          )
          stale.push({ seq: drop.seq, id: drop.id })
          this.forget(old)
          job = keep
        }
        this.jobs.set(job.id, job)
        this.bytes += job.body.length
      }
      if (page.length < this.loadPageSize) break
    }
    if (stale.length > 0)
      await this.store.write(stale.map((s) => ({ op: 'remove', destination: JOBS_STORE_KEY, seq: s.seq }) as StoreOp))
    let overdue = 0
    for (const job of this.jobs.values()) {
      if (job.nextAt <= now) overdue++
      this.enqueue(job)
    }
    const listed = recovered.destinations.find((d) => d.destination === JOBS_STORE_KEY)?.count
    log.info(
      `scheduler started: ${this.jobs.size} jobs (${overdue} overdue, firing now)${corrupt ? `, ${corrupt} unreadable skipped` : ''}${listed !== undefined && listed !== this.jobs.size + corrupt ? `; store summary listed ${listed}` : ''}`,
    )
    this.state = 'started'
    this.rearm()
  }

  /** Stop firing. A batch in flight finishes (its copies and record) before this resolves. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return
    this.state = 'stopped'
    this.disarm()
    if (this.inflight) await this.inflight
  }

  stats(): SchedulerStats {
    const top = this.peekValid()
    let next = top ? top.at : null
    // Jobs being fired are out of the heap but still due.
    for (const j of this.firingJobs) if (next === null || j.nextAt < next) next = j.nextAt
    return { jobs: this.jobs.size, nextDueAt: next }
  }

  /**
   * The `max` jobs due first, in due order, and how many there are: a read of the in-memory table, no store I/O and
   * no message round trip (BROWSE through the management destination has no due times). Jobs being removed are left
   * out. Cost O(jobs x log max): a bounded sorted buffer, not a sort of every job.
   */
  list(max: number): { jobs: ScheduledJobInfo[]; total: number } {
    const top: Job[] = []
    const before = (a: Job, b: Job): boolean => a.nextAt < b.nextAt || (a.nextAt === b.nextAt && a.seq < b.seq)
    let total = 0
    for (const j of this.jobs.values()) {
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
    if (this.jobs.size + this.pendingJobs >= this.jobsMax) {
      throw new BrokerError('BROKER_LIMIT', `scheduler: ${this.jobs.size} jobs held; jobsMax is ${this.jobsMax}`, {
        details: { limit: 'jobsMax' },
      })
    }
    if (this.bytes + this.pendingBytes + m.body.length > this.jobBytesMax) {
      throw new BrokerError(
        'BROKER_LIMIT',
        `scheduler: ${this.bytes} body bytes held, ${m.body.length} more would pass jobBytesMax ${this.jobBytesMax}`,
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
      const job = this.makeJob(rec, sent, seq, now, spec.cron)
      this.jobs.set(job.id, job)
      this.bytes += job.body.length
      this.enqueue(job)
      this.rearm()
      log.debug(`job ${job.id} for ${job.destination} scheduled at ${new Date(job.nextAt).toISOString()}`)
    }
    return true
  }

  // ---- management (ActiveMQ.Scheduler.Management, ./management-command.ts) ----

  private manage(req: SendRequest): Promise<void> {
    return runManagementCommand(req, {
      jobs: () => this.jobs.values(),
      route: (r) => this.broker.route(r),
      now: () => this.clock.now(),
      newId: () => this.newId(),
      removeJobs: (list) => this.removeJobs(list),
      jobById: (id) => this.jobs.get(id),
    })
  }

  /** Remove jobs durably. Waits for a firing of any of them to finish first, then removes their latest version. */
  private async removeJobs(list: Job[]): Promise<number> {
    const mine: Job[] = []
    const others: Promise<void>[] = []
    for (const j of list) {
      if (j.removal) others.push(j.removal)
      else if (this.jobs.get(j.id) === j) {
        j.removing = true
        mine.push(j)
      }
    }
    let removed = 0
    const work = (async () => {
      for (let i = 0; i < 10_000 && this.inflight && mine.some((j) => j.firing); i++) await this.inflight
      const live = mine.filter((j) => this.jobs.get(j.id) === j)
      const chunk = 1000
      for (let i = 0; i < live.length; i += chunk) {
        const part = live.slice(i, i + chunk)
        try {
          await this.store.write(
            part.map((j) => ({ op: 'remove', destination: JOBS_STORE_KEY, seq: j.seq }) as StoreOp),
          )
        } catch (err) {
          for (const j of live.slice(i)) {
            j.removing = false
            j.removal = null
            this.enqueue(j)
          }
          this.rearm()
          throw err
        }
        for (const j of part) this.forget(j)
        removed += part.length
      }
    })()
    for (const j of mine) j.removal = work
    try {
      await work
      await Promise.all(others.map((p) => p.catch(() => undefined)))
    } finally {
      this.rearm()
    }
    return removed
  }

  // ---- firing ----

  private async fireDue(): Promise<void> {
    const now = this.clock.now()
    if (now < this.backoffUntil) return
    const batch: Job[] = []
    while (batch.length < this.fireBatchMax) {
      const e = this.peekValid()
      if (!e || e.at > now) break
      this.heap.pop()
      e.job.firing = true
      batch.push(e.job)
    }
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
        this.enqueue(job)
        this.backoffUntil = now + this.retryMs
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
          this.enqueue(p.job)
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
    if (retry) this.backoffUntil = now + this.retryMs
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
        this.enqueue(p.job)
      }
      this.backoffUntil = this.clock.now() + this.retryMs
      return
    }
    let k = 0
    for (const p of done) {
      const job = p.job
      job.firing = false
      if (p.next) {
        Object.assign(job, p.next)
        job.seq = seqs[k++]!
        if (this.jobs.get(job.id) === job) this.enqueue(job)
      } else {
        this.forget(job)
      }
      if (p.spawn) {
        const sub = this.makeJob(p.spawn, job.message, seqs[k++]!, now)
        this.jobs.set(sub.id, sub)
        this.bytes += sub.body.length
        this.enqueue(sub)
      }
    }
  }

  // ---- job table, heap and timer ----

  private makeJob(
    rec: JobRecord,
    message: CoreMessage,
    seq: number,
    now: number,
    cronExpr?: CronExpression | null,
  ): Job {
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

  private forget(job: Job): void {
    if (this.jobs.get(job.id) === job) {
      this.jobs.delete(job.id)
      this.bytes -= job.body.length
    }
  }

  private enqueue(job: Job): void {
    job.gen++
    this.heap.push({ at: job.nextAt, seq: job.seq, gen: job.gen, job })
  }

  /** The earliest entry that still stands for a waiting job (stale ones are dropped on the way). */
  private peekValid(): HeapEntry | undefined {
    for (;;) {
      const e = this.heap.peek()
      if (!e) return undefined
      const j = e.job
      if (e.gen === j.gen && !j.firing && !j.removing && this.jobs.get(j.id) === j) return e
      this.heap.pop()
    }
  }

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

  private disarm(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.timerAt = Infinity
  }

  /** Arm the timer for the earliest due job (or the end of a retry back-off). At most one timer exists. */
  private rearm(): void {
    if (this.state !== 'started' || this.inflight) return
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
    if (this.state !== 'started' || this.inflight) return
    this.inflight = this.fireDue()
      .catch((err) => log.error(`firing scheduled jobs failed: ${(err as Error).message}`))
      .finally(() => {
        this.inflight = null
        this.rearm()
      })
  }
}
