/**
 * The clock side of BrokerMqttCore's detached sessions: the will delay and the session expiry, armed from the time of
 * disconnect (so after a takeover they run on from the stored disconnect time, on the broker's Clock). Delays longer
 * than a timer can hold (2^31-1 ms, about 24.8 days) are re-armed in steps. Owns timers only; what a timer does
 * (publish the will, end the session) is the core's.
 */
import type { Clock } from '../../lib/clock.ts'
import type { SessionState } from './broker-core-session.ts'

/** Session expiry interval meaning "never" (MQTT 5 §3.1.2.11.2). */
export const NEVER_EXPIRES = 0xffffffff
/** Longest single timer: setTimeout fires at once beyond a signed 32-bit ms count. */
export const TIMER_STEP_MS_MAX = 2 ** 31 - 1

export interface TimerActions {
  publishWill(s: SessionState): void
  endSession(s: SessionState): void
}

export class SessionTimers {
  constructor(
    private readonly clock: Clock,
    private readonly actions: TimerActions,
  ) {}

  /** After a disconnect at `at`: the will (now, or after its delay when that ends before the session), the expiry. */
  armDetached(s: SessionState, at: number): void {
    this.cancel(s)
    if (s.will) {
      const delayMs = s.will.delaySec * 1000
      if (s.will.delaySec === 0 || at + delayMs <= this.clock.now()) this.actions.publishWill(s)
      else if (s.will.delaySec < s.expirySec)
        s.willTimer = this.at(
          at + delayMs,
          (h) => (s.willTimer = h),
          () => this.actions.publishWill(s),
        )
    }
    if (s.expirySec !== NEVER_EXPIRES)
      s.expiryTimer = this.at(
        at + s.expirySec * 1000,
        (h) => (s.expiryTimer = h),
        () => this.actions.endSession(s),
      )
  }

  cancelWill(s: SessionState): void {
    if (s.willTimer !== undefined) this.clock.clearTimeout(s.willTimer)
    s.willTimer = undefined
  }

  cancel(s: SessionState): void {
    this.cancelWill(s)
    if (s.expiryTimer !== undefined) this.clock.clearTimeout(s.expiryTimer)
    s.expiryTimer = undefined
  }

  /** A timer for an absolute time; `rearm` records the handle of each further step. */
  private at(when: number, rearm: (h: unknown) => void, fn: () => void): unknown {
    const wait = Math.max(0, when - this.clock.now())
    if (wait <= TIMER_STEP_MS_MAX) return this.clock.setTimeout(fn, wait)
    return this.clock.setTimeout(() => rearm(this.at(when, rearm, fn)), TIMER_STEP_MS_MAX)
  }
}
