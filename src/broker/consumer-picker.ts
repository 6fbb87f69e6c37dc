/**
 * ConsumerPicker: which of a queue's consumers gets a message (ActiveMQ's dispatch policy for one queue): consumers
 * kept in priority order (highest first, then arrival); the first exclusive consumer takes everything; a message
 * group sticks to the consumer it was first given to while that one is open; otherwise round robin among the
 * consumers of the highest priority with credit whose selector matches. It owns the consumer list, the group owners
 * and the round-robin cursor; the MessageQueue owns the messages and calls pick() once per message it dispatches.
 */
import type { Consumer } from './consumer.ts'
import type { QueueEntry } from './entry-list.ts'
import { messageSource } from './selector-source.ts'

/** pick(): no consumer has credit now; dispatch stops until credit comes back. */
export const NO_CREDIT = Symbol('no-credit')

export class ConsumerPicker {
  /** Ordered by priority (desc), then arrival: the exclusive consumer is the first exclusive one. */
  readonly consumers: Consumer[] = []
  private readonly groups = new Map<string, Consumer>()
  private rr = 0
  /** The last pick() gave the message's group to the consumer it chose (the delivery says groupFirst). */
  groupFirst = false

  add(c: Consumer): void {
    let i = this.consumers.length
    while (i > 0 && this.consumers[i - 1]!.priority < c.priority) i--
    this.consumers.splice(i, 0, c)
  }

  /** The consumer leaves, and with it its groups (their next message picks a new owner). */
  remove(c: Consumer): void {
    const i = this.consumers.indexOf(c)
    if (i >= 0) this.consumers.splice(i, 1)
    for (const [g, owner] of this.groups) if (owner === c) this.groups.delete(g)
  }

  /** The consumer for `e`; null when none with credit matches it, NO_CREDIT when none has credit at all. */
  pick(e: QueueEntry): Consumer | null | typeof NO_CREDIT {
    this.groupFirst = false
    const cs = this.consumers
    const n = cs.length
    let anyCredit = false
    for (let i = 0; i < n; i++)
      if (cs[i]!.hasCredit()) {
        anyCredit = true
        break
      }
    if (!anyCredit) return NO_CREDIT
    // Exclusive consumer: the first exclusive one (highest priority, earliest) receives everything.
    for (let i = 0; i < n; i++) {
      const c = cs[i]!
      if (c.exclusive) return c.hasCredit() ? (this.selectorOk(c, e) ? c : null) : NO_CREDIT
    }
    const gid = e.msg.message.groupId
    if (gid !== null) {
      const owner = this.groups.get(gid)
      if (owner && !owner.closed) return owner.hasCredit() && this.selectorOk(owner, e) ? owner : null
    }
    // Highest consumer priority among those with credit and a matching selector; round robin within it.
    let best: Consumer | null = null
    let bestAt = 0
    for (let k = 0; k < n; k++) {
      const i = (this.rr + k) % n
      const c = cs[i]!
      if (!c.hasCredit() || (best && c.priority <= best.priority) || !this.selectorOk(c, e)) continue
      best = c
      bestAt = i
    }
    if (best) {
      this.rr = (bestAt + 1) % n
      if (gid !== null) {
        this.groups.set(gid, best)
        this.groupFirst = true
      }
    }
    return best
  }

  private selectorOk(c: Consumer, e: QueueEntry): boolean {
    if (!c.selector) return true
    const m = e.msg.message
    return c.selector.matches(
      messageSource(
        m,
        m.redeliveryCount > 0 || e.redeliveries > 0 || e.recovered === true,
        m.redeliveryCount + e.redeliveries + 1,
      ),
    )
  }
}
