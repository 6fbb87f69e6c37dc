/**
 * KeepAlive: a primary's periodic proof that it still holds the lock, judged on evidence only (issue #12).
 * Evidence of loss: the lock path names another inode or none, the holder record names another node or epoch, a
 * higher epoch exists, or one filesystem call has been in progress for longer than keepAliveTimeout *where it runs*
 * (SharePort.busy: the worker's own stamp, the same call on two looks). A late timer, a stalled loop or a short pause is not evidence: it
 * only makes the owner call `recheckNow()`. One check runs at a time; a renewal is written only while the term it
 * belongs to still runs, so a check that finishes after a hand-over never overwrites the next primary's record.
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { LockHandle, SharePort } from './ports.ts'
import { parseHolderRecord, epochsOf, type HolderRecord, type ReplicaRecord } from './shared-dir.ts'
import type { Input } from './state-machine.ts'

const log = logger('election')

export interface KeepAliveTerm {
  handle: LockHandle
  record: HolderRecord
}

export interface KeepAliveOptions {
  port: SharePort
  clock: Clock
  periodMs: number
  timeoutMs: number
  /** The term being kept alive (null once it ended). */
  term(): KeepAliveTerm | null
  /** Non-null: also look for a waiting preferred replica (failback) and answer 'yield' when one is. */
  preferredWaiting: ((reps: ReplicaRecord[]) => boolean) | null
  /** The verdict of a check: loss, fencing, hand-over. */
  onVerdict(v: Input): void
}

export class KeepAlive {
  private timer: unknown = null
  private running = false
  private inFlight: Promise<void> | null = null
  /** Duration of the last check (ms), or null before the first. */
  latencyMs: number | null = null

  constructor(private readonly o: KeepAliveOptions) {}

  start(): void {
    if (this.o.periodMs <= 0) return
    this.running = true
    this.schedule()
  }

  stop(): void {
    this.running = false
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer)
    this.timer = null
  }

  get active(): boolean {
    return this.running
  }

  /** Check now (the loop was late or stalled): the evidence decides, lateness alone never does. */
  recheckNow(why: string): void {
    if (!this.running) return
    log.warn(`${why}: re-checking the lock now (a late event loop is not evidence of loss)`)
    void this.once()
  }

  private schedule(): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null
      if (!this.running) return
      void this.once().finally(() => {
        if (this.running && this.timer === null) this.schedule()
      })
    }, this.o.periodMs)
  }

  /** One check at a time: a second caller shares the one in flight. */
  once(): Promise<void> {
    if (this.inFlight) return this.inFlight
    const p = this.check().finally(() => {
      if (this.inFlight === p) this.inFlight = null
    })
    this.inFlight = p
    return p
  }

  private async check(): Promise<void> {
    const term = this.o.term()
    if (!term) return
    const { handle, record: rec } = term
    const { port, clock, timeoutMs } = this.o
    const pollMs = Math.max(10, Math.min(100, Math.floor(timeoutMs / 4)))
    let timer: unknown = null
    let settled = false
    // Hung = the same call seen in progress for over the timeout on two looks a poll apart. One look is not enough:
    // a process stopped (SIGSTOP, VM pause) in the middle of a call resumes with the call's stamp old, and its
    // worker finishes the call at once; only a call that is still the same one a poll later is stuck.
    let suspect: number | null = null
    const hung = new Promise<'hung'>((resolve) => {
      const poll = () => {
        if (settled) return
        const b = port.busy()
        if (b.ms > timeoutMs) {
          if (suspect === b.seq) return resolve('hung')
          suspect = b.seq
        } else suspect = null
        timer = clock.setTimeout(poll, pollMs)
      }
      timer = clock.setTimeout(poll, pollMs)
    })
    const look = (async (): Promise<Input | 'yield' | null> => {
      const facts = await port.check(this.o.preferredWaiting !== null)
      if (facts.missing)
        return {
          kind: 'lost',
          reason: `keep-alive: ${port.lockPath} cannot be read (${facts.missing}): lock file missing`,
        }
      if (facts.pathIno !== handle.ino || facts.pathDev !== handle.dev)
        return {
          kind: 'lost',
          reason: `keep-alive: ${port.lockPath} was replaced (inode ${facts.pathIno}, we locked ${handle.ino})`,
        }
      const onDisk = parseHolderRecord(facts.recordText)
      if (!onDisk || onDisk.nodeId !== rec.nodeId || onDisk.epoch !== rec.epoch) {
        return {
          kind: 'lost',
          reason: `keep-alive: holder record names ${onDisk ? `${onDisk.nodeId} epoch ${onDisk.epoch}` : 'nobody (unreadable)'}, expected ${rec.nodeId} epoch ${rec.epoch}`,
        }
      }
      const max = Math.max(0, ...epochsOf(facts.epochs))
      if (max > rec.epoch)
        return { kind: 'fenced', reason: `keep-alive: epoch ${max} exists above ours (${rec.epoch})` }
      if (this.o.preferredWaiting && facts.replicas && this.o.preferredWaiting(parseReplicas(facts.replicas)))
        return 'yield'
      // The hang verdict may already have been given and the step-down may have handed the lock over: a renewal
      // written now would overwrite the next primary's record and depose it. Renew only while this term runs.
      if (!this.running || this.o.term()?.record !== rec) return null
      rec.renewedAt = clock.now()
      await port.writeRecord(handle.ino, handle.dev, rec, true)
      return null
    })().catch((err): Input => ({ kind: 'lost', reason: `keep-alive check failed: ${(err as Error).message}` }))
    const startedAt = clock.now()
    const outcome = await Promise.race([look, hung])
    settled = true
    clock.clearTimeout(timer)
    this.latencyMs = clock.now() - startedAt
    if (this.o.term()?.record !== rec) return // a step-down (or a new term) happened meanwhile
    if (outcome === 'hung')
      return this.o.onVerdict({
        kind: 'lost',
        reason: `keep-alive: a filesystem call on the share has made no progress for over ${timeoutMs} ms (hung filesystem?)`,
      })
    if (outcome === 'yield')
      return this.o.onVerdict({ kind: 'yield', reason: 'a preferred broker (failback) is waiting: handing over' })
    if (outcome) this.o.onVerdict(outcome)
  }
}

function parseReplicas(texts: string[]): ReplicaRecord[] {
  const reps: ReplicaRecord[] = []
  for (const t of texts) {
    try {
      const r = JSON.parse(t) as ReplicaRecord
      if (typeof r.nodeId === 'string') reps.push(r)
    } catch {
      // being replaced or torn: skip this round
    }
  }
  return reps
}
