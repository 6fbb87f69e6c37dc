/**
 * FlowControl: the memory a broker holds for messages and who may take more. Owns the broker-wide usage
 * (`limits.memoryLimit`) and one usage per destination (its policy's memoryLimit, else
 * `limits.destinationMemoryLimit`), the FIFO of producers waiting for memory, the charge a held message carries
 * until its last queue entry lets go, open transactions' charges, and the paging decision (above
 * PAGING_HIGH_WATER a persistent message stays in the store). It does not route, store or decide what a message is.
 *
 * A send that must hold a message in memory waits, FIFO per session, until it fits; with
 * `limits.sendFailIfNoSpace` it fails with BROKER_LIMIT at once, with `sendFailIfNoSpaceAfterTimeout` after that
 * many ms (ActiveMQ's `<systemUsage>` attributes and BaseDestination.waitForSpace). Routed messages (scheduler,
 * DLQ: no session) always wait.
 */
import { BrokerError } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import type { BrokerConfig, PolicyEntryConfig } from '../config/types.ts'
import { MemoryUsage } from './memory-usage.ts'
import type { BrokerMessage } from './message.ts'
import type { MessageQueue } from './queue.ts'

/** Fraction of a memory limit above which persistent messages are paged instead of held. */
export const PAGING_HIGH_WATER = 0.7

/** Who waits for memory: a session (served in order per session), or null for routed messages. */
export interface FlowOwner {
  readonly sessionId: string
}

/** Usages a batch needs, with the bytes each must take. */
export type MemoryNeeds = [MemoryUsage, number][]

interface Waiter {
  needs: MemoryNeeds
  resolve: () => void
  reject: (e: Error) => void
  session: FlowOwner | null
}

export class FlowControl {
  /** The broker-wide usage (`limits.memoryLimit`). */
  readonly memory: MemoryUsage
  private readonly destMemory = new Map<string, MemoryUsage>()
  /**
   * Sends waiting for memory, a FIFO per session (in the order sessions first waited); bounded by the sends in
   * flight. Per session, so that a release looks at each waiting session's first send only: one flat list was
   * scanned whole on every release and every send, O(waiters) each, and a fast producer parks hundreds.
   */
  private readonly waiters = new Map<FlowOwner | null, Waiter[]>()

  constructor(
    private readonly config: BrokerConfig,
    private readonly clock: Clock,
    private readonly policyFor: (destination: string) => PolicyEntryConfig | null,
  ) {
    this.memory = new MemoryUsage(config.limits.memoryLimit)
  }

  destUsage(destination: string): MemoryUsage {
    let u = this.destMemory.get(destination)
    if (!u)
      this.destMemory.set(
        destination,
        (u = new MemoryUsage(this.policyFor(destination)?.memoryLimit ?? this.config.limits.destinationMemoryLimit)),
      )
    return u
  }

  /** Memory held for `destination`, bytes. */
  destinationBytes(destination: string): number {
    return this.destMemory.get(destination)?.used ?? 0
  }

  /** The destination is gone: its usage counter goes with it. */
  forgetDestination(destination: string): void {
    this.destMemory.delete(destination)
  }

  /** Charge an open transaction's SEND to the broker-wide memory now, or false when it does not fit (no waiting). */
  chargeTx(bytes: number): boolean {
    if (this.memory.used + bytes > this.memory.limit) return false
    this.memory.add(bytes)
    return true
  }

  releaseTx(bytes: number): void {
    if (bytes > 0) this.memory.release(bytes)
    this.wakeWaiters()
  }

  /** Charge a message held in memory without waiting (page-in, route-time holds of pageable messages). */
  chargeNow(msg: BrokerMessage, destination: string): void {
    if (msg.charged) return
    const d = this.destUsage(destination)
    this.memory.add(msg.size)
    d.add(msg.size)
    msg.charged = [this.memory, d]
  }

  /** Drop one memory reference; releases the charge at zero. */
  unref(msg: BrokerMessage): void {
    msg.refs--
    if (msg.refs <= 0) this.releaseCharge(msg)
  }

  releaseCharge(msg: BrokerMessage): void {
    if (!msg.charged) return
    for (const u of msg.charged) u.release(msg.size)
    msg.charged = null
    this.wakeWaiters()
  }

  /** Whether memory is above the paging high-water mark, broker-wide or for `destination`. */
  memoryHigh(destination: string): boolean {
    return this.memory.above(PAGING_HIGH_WATER) || this.destUsage(destination).above(PAGING_HIGH_WATER)
  }

  /**
   * Hold a stored-or-not message on a queue: paged when it is persistent under a store key and the queue is
   * paging or memory is above the high-water mark; held in memory otherwise.
   */
  place(q: MessageQueue, msg: BrokerMessage, seq: number): void {
    if (seq > 0 && q.key !== null && (q.isPaging() || this.memoryHigh(q.destination))) {
      q.enqueuePaged(seq)
      return
    }
    this.chargeNow(msg, q.destination)
    q.enqueue(msg, seq)
  }

  private fitsAll(needs: MemoryNeeds): boolean {
    return needs.every(([u, n]) => u.fits(n))
  }

  /**
   * Producer flow control: wait until every usage can take its bytes, then charge them. Waiters of one session
   * are served in order (a later send never takes memory an earlier one of the same session waits for); across
   * sessions, whoever fits goes, so a producer blocked on one full destination does not block another. Returns null
   * when the bytes were charged at once (nothing to wait for: no promise, no microtask per send), else the wait.
   */
  acquire(needs: MemoryNeeds, session: FlowOwner | null, destination: string): Promise<void> | null {
    if (!this.waiters.has(session) && this.fitsAll(needs)) {
      for (const [u, n] of needs) u.add(n)
      return null
    }
    return this.waitFor(needs, session, destination)
  }

  /** acquire() when the send does not fit (or its session has sends waiting already). */
  private async waitFor(needs: MemoryNeeds, session: FlowOwner | null, destination: string): Promise<void> {
    // ActiveMQ's BaseDestination.waitForSpace: with `<systemUsage sendFailIfNoSpace="true">` a client's send fails
    // at once, with sendFailIfNoSpaceAfterTimeout=N after waiting N ms; by default it waits. Routed messages
    // (scheduler, DLQ: no session) always wait.
    const { sendFailIfNoSpace = false, sendFailIfNoSpaceAfterTimeout = 0 } = this.config.limits
    if (session && sendFailIfNoSpace) throw this.noSpace(needs, destination, 'sendFailIfNoSpace')
    await new Promise<void>((resolve, reject) => {
      const w: Waiter = { needs, resolve, reject, session }
      if (session && sendFailIfNoSpaceAfterTimeout > 0) {
        const timer = this.clock.setTimeout(() => {
          if (!this.removeWaiter(w)) return
          reject(this.noSpace(needs, destination, `sendFailIfNoSpaceAfterTimeout=${sendFailIfNoSpaceAfterTimeout}`))
          this.wakeWaiters()
        }, sendFailIfNoSpaceAfterTimeout)
        w.resolve = () => {
          this.clock.clearTimeout(timer)
          resolve()
        }
        w.reject = (e) => {
          this.clock.clearTimeout(timer)
          reject(e)
        }
      }
      const queue = this.waiters.get(session)
      if (queue) queue.push(w)
      else this.waiters.set(session, [w])
    })
  }

  /** Give back what acquire() charged (the batch did not go ahead). */
  releaseNeeds(needs: MemoryNeeds): void {
    for (const [u, n] of needs) u.release(n)
    this.wakeWaiters()
  }

  /** BROKER_LIMIT for a send that found no memory (ActiveMQ's ResourceAllocationException), naming the full usage. */
  private noSpace(needs: MemoryNeeds, destination: string, setting: string): BrokerError {
    const full = needs.find(([u, n]) => !u.fits(n)) ?? needs[0]!
    const which =
      full[0] === this.memory ? 'the broker-wide memory limit (memoryUsage)' : `the memory limit of ${destination}`
    return new BrokerError(
      'BROKER_LIMIT',
      `SEND to ${destination}: ${full[1]} bytes do not fit in ${which}, ${full[0].used} of ${full[0].limit} bytes used; producer stopped to prevent flooding (${setting})`,
      { details: { limit: full[0].limit, used: full[0].used, bytes: full[1] } },
    )
  }

  /** Take `w` out of its session's queue; false when it is no longer waiting. */
  private removeWaiter(w: Waiter): boolean {
    const queue = this.waiters.get(w.session)
    const i = queue ? queue.indexOf(w) : -1
    if (i < 0) return false
    queue!.splice(i, 1)
    if (queue!.length === 0) this.waiters.delete(w.session)
    return true
  }

  /**
   * Let waiting sends go that now fit: each session's sends in order, a session's first send that does not fit
   * holding back its later ones; sessions take turns, one send each per round, so one session's burst does not
   * take all the memory freed while another waits.
   */
  private wakeWaiters(): void {
    if (this.waiters.size === 0) return
    let progress = true
    while (progress && this.waiters.size > 0) {
      progress = false
      for (const [session, queue] of this.waiters) {
        const w = queue[0]!
        if (!this.fitsAll(w.needs)) continue
        queue.shift()
        if (queue.length === 0) this.waiters.delete(session)
        for (const [u, n] of w.needs) u.add(n)
        w.resolve()
        progress = true
      }
    }
  }

  /** The session closed: its waiting sends fail with BROKER_SESSION_CLOSED. */
  rejectWaiters(session: FlowOwner): void {
    const queue = this.waiters.get(session)
    this.waiters.delete(session)
    for (const w of queue ?? []) {
      w.reject(
        new BrokerError(
          'BROKER_SESSION_CLOSED',
          `session ${session.sessionId} closed while its send waited for memory`,
        ),
      )
    }
    this.wakeWaiters()
  }

  /** The broker stopped: every waiting send fails with `err`. */
  rejectAll(err: Error): void {
    const all = [...this.waiters.values()].flat()
    this.waiters.clear()
    for (const w of all) w.reject(err)
  }
}
