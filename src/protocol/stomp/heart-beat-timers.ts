/**
 * HeartBeatTimers: the timers of one connection's negotiated heart-beat plan (heart-beat.ts): an EOL written
 * after `sendEveryMs` of output silence, and a read check that reports `readTimeoutMs` of input silence (STOMP 1.2
 * "Heart-beating"). What a read timeout means (ERROR, close) is the connection's call.
 */
import type { Clock } from '../../lib/clock.ts'
import type { DuplexPort } from './duplex-port.ts'
import type { HeartBeatPlan } from './heart-beat.ts'
import type { OutboundWriter } from './outbound-writer.ts'

export interface HeartBeatHost {
  /** Beats are written only while this holds. */
  connected(): boolean
  /** Once closed, the read check stops. */
  closed(): boolean
  /** Nothing was read for silentMs (at least the plan's readTimeoutMs). */
  readTimedOut(silentMs: number, plan: HeartBeatPlan): void
}

export class HeartBeatTimers {
  /** When input last arrived (set by the connection on every read). */
  lastReadAt: number
  private plan: HeartBeatPlan | null = null
  private readTimer: unknown = null
  private writeTimer: unknown = null

  constructor(
    private readonly clock: Clock,
    private readonly port: DuplexPort,
    private readonly out: Pick<OutboundWriter, 'lastWriteAt' | 'idle'>,
    private readonly host: HeartBeatHost,
  ) {
    this.lastReadAt = clock.now()
  }

  start(plan: HeartBeatPlan): void {
    this.plan = plan
    if (plan.sendEveryMs > 0) this.scheduleWriteBeat(plan)
    if (plan.readTimeoutMs > 0) this.scheduleReadCheck(plan, plan.readTimeoutMs)
  }

  stop(): void {
    if (this.readTimer !== null) this.clock.clearTimeout(this.readTimer)
    if (this.writeTimer !== null) this.clock.clearTimeout(this.writeTimer)
    this.readTimer = this.writeTimer = null
  }

  private scheduleWriteBeat(plan: HeartBeatPlan): void {
    // Checking every half interval keeps the longest silence near sendEveryMs.
    const tickMs = Math.max(1, plan.sendEveryMs >> 1)
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = null
      if (!this.host.connected()) return
      if (this.clock.now() - this.out.lastWriteAt >= tickMs) {
        this.out.lastWriteAt = this.clock.now()
        if (this.out.idle() && !this.port.destroyed) this.port.write('\n')
      }
      this.scheduleWriteBeat(plan)
    }, tickMs)
  }

  private scheduleReadCheck(plan: HeartBeatPlan, delayMs: number): void {
    this.readTimer = this.clock.setTimeout(() => {
      this.readTimer = null
      if (this.host.closed()) return
      const silentMs = this.clock.now() - this.lastReadAt
      if (silentMs >= plan.readTimeoutMs) {
        this.host.readTimedOut(silentMs, plan)
        return
      }
      this.scheduleReadCheck(plan, plan.readTimeoutMs - silentMs)
    }, delayMs)
  }
}
