/**
 * Destinations: the registry of queues and topics by STOMP name and their lifecycle. Owns creation on first use
 * (a queue under its store key when the broker has a store; temporary destinations memory-only and tied to the
 * session that first used the name, deleted with it), the `maxDestinations` check for clients, removal of an idle
 * destination (operator) or an inactive one (gcInactiveDestinations sweep), the `<destinationPolicy>` lookup, and
 * the per-destination metrics. Durable subscriptions live in ./durable-subscriptions.ts; message routing in
 * ./commit-batch.ts.
 */
import { assert } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { BrokerConfig, PolicyEntryConfig } from '../config/types.ts'
import { policyEntryFor } from '../config/index.ts'
import type { DestinationMetrics } from './types.ts'
import { DestinationIndex, isWildcard } from '../model/index.ts'
import { DLQ_DESTINATION, parseFilter, queueStoreKey, type DestinationName } from './destination.ts'
import {
  DESTINATIONS_DEFAULT,
  INACTIVE_TIMEOUT_BEFORE_GC_DEFAULT_MS,
  InactivityTracker,
  checkCreate,
} from './destination-limits.ts'
import type { FlowControl } from './flow-control.ts'
import { MessageQueue, type QueueHost } from './queue.ts'
import type { Topic } from './topic.ts'

const log = logger('broker')

/** The session that creates a temporary destination: it is deleted when that session closes. */
export interface TempOwner {
  readonly tempDests: Set<string>
}

/** The `<destinationPolicy>` entry for a queue or topic (temporary destinations have none), or null. */
export function destinationPolicy(config: BrokerConfig, destination: string): PolicyEntryConfig | null {
  const d = parseFilter(destination)
  if (d.kind !== 'queue' && d.kind !== 'topic') return null
  return policyEntryFor(config.destinationPolicy, d.kind, d.name)
}

export class Destinations {
  readonly queues = new Map<string, MessageQueue>()
  readonly topics = new Map<string, Topic>()
  private readonly inactivity = new InactivityTracker()
  /** Topic subscriptions by filter (a name or a wildcard filter), per topic kind: the fan-out index. */
  private readonly topicSubs = new DestinationIndex<MessageQueue>()
  private readonly tempTopicSubs = new DestinationIndex<MessageQueue>()

  constructor(
    private readonly config: BrokerConfig,
    private readonly host: QueueHost,
    private readonly flow: FlowControl,
    private readonly clock: Clock,
  ) {}

  policyFor(destination: string): PolicyEntryConfig | null {
    return destinationPolicy(this.config, destination)
  }

  has(name: string): boolean {
    return this.queues.has(name) || this.topics.has(name)
  }

  /** Throw BROKER_LIMIT if `dest` does not exist and a client may not create it now (maxDestinations). */
  ensureRoom(dest: DestinationName): void {
    // A wildcard subscription creates no destination (ActiveMQ), so it takes no room.
    if (isWildcard(dest.name)) return
    if (this.queues.has(dest.label) || this.topics.has(dest.label) || dest.label === DLQ_DESTINATION) return
    checkCreate(
      dest,
      this.config.destinations ?? DESTINATIONS_DEFAULT,
      this.config.destinationPolicy,
      this.queues.size + this.topics.size,
      (kind) => this.namesOf(kind),
    )
  }

  private *namesOf(kind: 'queue' | 'topic'): Iterable<string> {
    const prefix = `/${kind}/`
    for (const name of kind === 'queue' ? this.queues.keys() : this.topics.keys())
      if (name.startsWith(prefix)) yield name.slice(prefix.length)
  }

  queueFor(dest: DestinationName, creator: TempOwner | null = null): MessageQueue {
    let q = this.queues.get(dest.label)
    if (q) {
      this.inactivity.touch(dest.label)
      return q
    }
    if (dest.kind === 'temp-queue') {
      q = new MessageQueue(this.host, 'temp-queue', dest, null)
      if (creator) creator.tempDests.add(dest.label)
    } else {
      assert(dest.kind === 'queue', 'queueFor on a topic')
      q = new MessageQueue(this.host, 'queue', dest, this.host.store ? queueStoreKey(dest) : null)
    }
    this.queues.set(dest.label, q)
    return q
  }

  topicFor(dest: DestinationName, creator: TempOwner | null = null): Topic {
    let t = this.topics.get(dest.label)
    if (t) {
      this.inactivity.touch(dest.label)
      return t
    }
    t = { destination: dest.label, subs: new Set(), owner: null, published: 0 }
    if (dest.kind === 'temp-topic' && creator) {
      t.owner = creator
      creator.tempDests.add(dest.label)
    }
    this.topics.set(dest.label, t)
    return t
  }

  private indexOf(kind: string): DestinationIndex<MessageQueue> | null {
    return kind === 'topic' ? this.topicSubs : kind === 'temp-topic' ? this.tempTopicSubs : null
  }

  /** Register a topic subscription under its filter (its queue's dest): counted on the filter's topic entry. */
  addSubscription(q: MessageQueue, creator: TempOwner | null = null): void {
    this.topicFor(q.dest, creator).subs.add(q)
    this.indexOf(q.dest.kind)!.add(q.dest.name, q)
  }

  /** Unregister a topic subscription (closed, removed or replaced). */
  removeSubscription(q: MessageQueue): void {
    this.topics.get(q.destination)?.subs.delete(q)
    this.indexOf(q.dest.kind)?.remove(q.dest.name, q)
  }

  /** Every subscription whose filter matches the topic `dest` (a name); the caller applies the fan-out rules. */
  subscriptionsMatching(dest: DestinationName): Iterable<MessageQueue> {
    const index = this.indexOf(dest.kind)
    if (index === null || index.size === 0) return []
    return index.match(dest.name)
  }

  /** A temporary destination's session closed: it goes, with its messages and subscriptions. */
  deleteTemp(name: string): void {
    const q = this.queues.get(name)
    if (q) {
      this.queues.delete(name)
      q.delete()
    }
    const t = this.topics.get(name)
    if (t) {
      this.topics.delete(name)
      for (const s of t.subs) {
        this.indexOf(s.dest.kind)?.remove(s.dest.name, s)
        s.delete()
      }
    }
    this.flow.forgetDestination(name)
  }

  /** Remove a queue or topic that holds no message and has no consumer or subscription; false when it is not so. */
  removeIdle(name: string): boolean {
    const q = this.queues.get(name)
    if (q) {
      if (q.kind !== 'queue' || q.depth() > 0 || q.consumers.length > 0) return false
      this.queues.delete(name)
      q.delete()
    } else {
      const t = this.topics.get(name)
      if (!t || t.owner !== null || t.subs.size > 0) return false
      this.topics.delete(name)
    }
    this.flow.forgetDestination(name)
    this.inactivity.forget(name)
    return true
  }

  /**
   * One gcInactiveDestinations sweep: remove queues and topics whose policy entry says so and that have had no
   * consumer, no message and no use for its inactiveTimoutBeforeGC (ActiveMQ's purgeInactiveDestinations).
   * Temporary destinations go with their session instead; topics holding any subscription (durable ones
   * included) are in use. Returns the destinations removed (at most `max`, 0 = no limit).
   */
  purgeInactive(max = 0): string[] {
    const now = this.clock.now()
    const removed: string[] = []
    const timeoutOf = (name: string): number | null => {
      const p = this.policyFor(name)
      return p?.gcInactiveDestinations === true
        ? (p.inactiveTimeoutBeforeGC ?? INACTIVE_TIMEOUT_BEFORE_GC_DEFAULT_MS)
        : null
    }
    for (const [name, q] of this.queues) {
      if (max > 0 && removed.length >= max) break
      if (q.kind !== 'queue') continue
      const timeout = timeoutOf(name)
      if (timeout === null) continue
      if (
        !this.inactivity.expired(
          name,
          q.consumers.length === 0 && q.depth() === 0,
          q.enqueued + q.dequeued,
          now,
          timeout,
        )
      )
        continue
      this.queues.delete(name)
      q.delete()
      this.flow.forgetDestination(name)
      this.inactivity.forget(name)
      removed.push(name)
    }
    for (const [name, t] of this.topics) {
      if (max > 0 && removed.length >= max) break
      if (t.owner !== null || !name.startsWith('/topic/')) continue
      const timeout = timeoutOf(name)
      if (timeout === null) continue
      if (!this.inactivity.expired(name, t.subs.size === 0, t.published, now, timeout)) continue
      this.topics.delete(name)
      this.flow.forgetDestination(name)
      this.inactivity.forget(name)
      removed.push(name)
    }
    if (removed.length > 0) {
      const shown = removed.slice(0, 10).join(', ')
      log.info(
        `removed ${removed.length} inactive destination(s) (gcInactiveDestinations): ${shown}${removed.length > 10 ? `, ... ${removed.length - 10} more` : ''}`,
      )
    }
    return removed
  }

  /** Per-destination counters, sorted by name; a topic sums its subscriptions. */
  metrics(): DestinationMetrics[] {
    const destinations: DestinationMetrics[] = []
    for (const q of this.queues.values()) {
      destinations.push({
        destination: q.destination,
        enqueued: q.enqueued,
        dequeued: q.dequeued,
        depth: q.depth(),
        consumers: q.consumers.length,
        expired: q.expired,
      })
    }
    for (const t of this.topics.values()) {
      let dequeued = 0,
        depth = 0,
        consumers = 0,
        expired = 0
      for (const q of t.subs) {
        dequeued += q.dequeued
        depth += q.depth()
        consumers += q.consumers.length
        expired += q.expired
      }
      destinations.push({ destination: t.destination, enqueued: t.published, dequeued, depth, consumers, expired })
    }
    destinations.sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0))
    return destinations
  }
}
