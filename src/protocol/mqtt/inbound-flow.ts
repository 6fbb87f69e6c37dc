/**
 * InboundFlow: how much one connection may hold of what it received. Each packet is charged to the listener's
 * ReceiveBudget before it is handled and released once its answer is written; the socket is paused while the budget
 * makes it wait, or while `pendingPacketsMax` packets are queued or awaiting their answers. Owns the counts and
 * pause/resume only; which packet runs when is the connection's.
 */
import type { ReceiveBudget } from './receive-budget.ts'

export interface FlowSocket {
  pause(): unknown
  resume(): unknown
}

export class InboundFlow {
  /** Bytes this connection holds of the budget. */
  private charged = 0
  private paused = false
  private waitingGrant: (() => void) | null = null
  private headCharged = false

  constructor(
    private readonly socket: FlowSocket,
    private readonly budget: ReceiveBudget | undefined,
    readonly pendingPacketsMax: number,
  ) {}

  /** Whether reading is paused now (for tests and metrics). */
  get isPaused(): boolean {
    return this.paused
  }

  /** Charges the head packet; false (and `onGrant` queued, called once it is charged) when it must wait. */
  charge(bytes: number, onGrant: () => void): boolean {
    if (!this.budget) return true
    if (this.waitingGrant) return false
    if (this.headCharged) {
      this.headCharged = false
      return true
    }
    const grant = () => {
      this.waitingGrant = null
      this.charged += bytes
      // Granted with the bytes charged: the head packet is taken without charging again.
      this.headCharged = true
      onGrant()
    }
    if (this.budget.reserve(bytes, grant)) {
      this.charged += bytes
      return true
    }
    this.waitingGrant = grant
    return false
  }

  release(bytes: number): void {
    const n = Math.min(bytes, this.charged)
    if (n <= 0) return
    this.charged -= n
    this.budget?.release(n)
  }

  /** Pauses or resumes the socket for `queued` packets not started and `answering` awaiting their answer. */
  update(queued: number, answering: number): void {
    const stop = queued >= this.pendingPacketsMax || answering >= this.pendingPacketsMax || this.waitingGrant !== null
    if (stop && !this.paused) {
      this.paused = true
      this.socket.pause()
    } else if (!stop && this.paused) {
      this.paused = false
      this.socket.resume()
    }
  }

  /** The connection is closing: a queued grant is withdrawn (it would only be released again). */
  cancelWait(): void {
    if (this.waitingGrant) this.budget?.cancel(this.waitingGrant)
    this.waitingGrant = null
  }

  /** The socket closed: everything still charged goes back. */
  close(): void {
    this.cancelWait()
    this.release(this.charged)
  }
}
