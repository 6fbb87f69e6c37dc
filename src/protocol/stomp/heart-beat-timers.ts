/**
 * HeartBeatTimers: the timers of a negotiated heart-beat plan (heart-beat.ts) on one connection: an EOL written
 * after `sendEveryMs` of output silence, and a read timeout after `readTimeoutMs` of input silence (STOMP 1.2
 * "Heart-beating"). What a timeout means (ERROR, close) is the connection's call.
 */
import type { Socket } from 'node:net'
import type { Clock } from '../../lib/clock.ts'
import type { HeartBeatPlan } from './heart-beat.ts'
import type { SocketOutput } from './socket-output.ts'

export interface HeartBeatHost {
  /** Beats are written only while this holds. */
  connected(): boolean
  /** Once closed, the read check stops. */
  closed(): boolean
  /** Nothing was read for silentMs (at least the plan's readTimeoutMs). */
  readTimedOut(silentMs: number, plan: HeartBeatPlan): void
}

export class HeartBeatTimers {
  /** When input last arrived. */
  lastReadAt: number
  private plan: HeartBeatPlan | null = null
  private readTimer: unknown = null
  private writeTimer: unknown = null

  constructor(
    private readonly clock: Clock,
    private readonly socket: Socket,
    private readonly out: Pick<SocketOutput, 'lastWriteAt' | 'idle'>,
    private readonly host: HeartBeatHost,
  ) {
    this.lastReadAt = clock.now()
  }

  start(plan: HeartBeatPlan): void {
    this.plan = plan
    if (plan.sendEveryMs > 0) this.scheduleWriteBeat()
    if (plan.readTimeoutMs > 0) this.scheduleReadCheck(plan.readTimeoutMs)
  }

  stop(): void {
    for (const t of [this.readTimer, this.writeTimer]) if (t !== null) this.clock.clearTimeout(t)
    this.readTimer = this.writeTimer = null
  }

  private scheduleWriteBeat(): void {
    const plan = this.plan!
    // Checking every half interval keeps the longest silence near sendEveryMs.
    const tickMs = Math.max(1, plan.sendEveryMs >> 1)
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = null
      if (!this.host.connected()) return
      if (this.clock.now() - this.out.lastWriteAt >= tickMs) {
        this.out.lastWriteAt = this.clock.now()
        if (this.out.idle() && !this.socket.destroyed) this.socket.write('\n')
      }
      this.scheduleWriteBeat()
    }, tickMs)
  }

  private scheduleReadCheck(delayMs: number): void {
    this.readTimer = this.clock.setTimeout(() => {
      this.readTimer = null
      if (this.host.closed()) return
      const plan = this.plan!
      const silentMs = this.clock.now() - this.lastReadAt
      if (silentMs >= plan.readTimeoutMs) {
        this.host.readTimedOut(silentMs, plan)
        return
      }
      this.scheduleReadCheck(plan.readTimeoutMs - silentMs)
    }, delayMs)
  }
}
