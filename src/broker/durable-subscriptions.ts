/**
 * DurableSubscriptions: the durable topic subscriptions (`activemq.subscriptionName` with a client id) by
 * `<clientId>:<name>`. Owns their records in the store (putSubscription / removeSubscription, their messages
 * under `durable://<clientId>:<name>`), which consumer is active on each, recovery of the records, and the
 * replace rule: re-subscribing with another topic, selector or noLocal replaces the subscription and drops its
 * messages (ActiveMQ). What an inactive subscription keeps is the topic's fan-out rule (./topic.ts).
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { DurableSubscriptionRecord, StoreOp } from '../storage/types.ts'
import { durableStoreKey, type DestinationName } from './destination.ts'
import type { Destinations } from './destinations.ts'
import type { Consumer } from './consumer.ts'
import { MessageQueue, type QueueHost } from './queue.ts'
import { Selector } from './selector.ts'
import type { StoreWrites } from './store-writes.ts'

const log = logger('broker')

export interface DurableSub {
  record: DurableSubscriptionRecord
  queue: MessageQueue
  active: Consumer | null
}

/** A durable subscription as status, admin and tests see it. */
export interface DurableSubscriptionInfo {
  clientId: string
  subscriptionName: string
  destination: string
  active: boolean
  depth: number
}

export class DurableSubscriptions {
  private readonly subs = new Map<string, DurableSub>()

  constructor(
    private readonly host: QueueHost,
    private readonly destinations: Destinations,
    private readonly writes: StoreWrites,
    private readonly clock: Clock,
  ) {}

  /** Put a subscription (recovered, or just created) on its topic. */
  attach(rec: DurableSubscriptionRecord, dest: DestinationName): DurableSub {
    const q = new MessageQueue(this.host, 'durable', dest, rec.storeKey)
    q.subSelector = rec.selector ? Selector.parse(rec.selector) : null
    q.noLocalClientId = rec.noLocal ? rec.clientId : null
    const d: DurableSub = { record: rec, queue: q, active: null }
    this.subs.set(`${rec.clientId}:${rec.subscriptionName}`, d)
    this.destinations.addSubscription(q)
    return d
  }

  get(clientId: string, name: string): DurableSub | undefined {
    return this.subs.get(`${clientId}:${name}`)
  }

  /** The subscription whose messages are stored under `storeKey` (recovery). */
  byStoreKey(storeKey: string): DurableSub | undefined {
    return [...this.subs.values()].find((s) => s.record.storeKey === storeKey)
  }

  /** The subscription backed by queue `q`. */
  byQueue(q: MessageQueue): DurableSub | undefined {
    for (const d of this.subs.values()) if (d.queue === q) return d
    return undefined
  }

  /** Find or create (or replace, when topic/selector/noLocal changed) a durable subscription. */
  open(clientId: string, name: string, dest: DestinationName, selector: string | null, noLocal: boolean): DurableSub {
    const existing = this.get(clientId, name)
    if (existing) {
      const r = existing.record
      if (r.destination === dest.label && r.selector === selector && r.noLocal === noLocal) return existing
      log.info(
        `durable subscription ${clientId}:${name} changed (topic, selector or noLocal): replacing it and dropping its messages`,
      )
      this.drop(existing, false)
    }
    const rec: DurableSubscriptionRecord = {
      clientId,
      subscriptionName: name,
      destination: dest.label,
      selector,
      noLocal,
      storeKey: durableStoreKey(clientId, name),
      createdAt: this.clock.now(),
    }
    const d = this.attach(rec, dest)
    if (this.writes.store) {
      const ops: StoreOp[] = existing
        ? [
            { op: 'purge', destination: rec.storeKey },
            { op: 'putSubscription', subscription: rec },
          ]
        : [{ op: 'putSubscription', subscription: rec }]
      this.writes.write(ops).catch(() => {})
    }
    return d
  }

  /** Remove a durable subscription and its messages (UNSUBSCRIBE with the subscription name). */
  async remove(d: DurableSub): Promise<void> {
    await this.drop(d, true)
  }

  private async drop(d: DurableSub, removeRecord: boolean): Promise<void> {
    const r = d.record
    this.subs.delete(`${r.clientId}:${r.subscriptionName}`)
    this.destinations.removeSubscription(d.queue)
    d.queue.delete()
    if (this.writes.store && removeRecord) {
      await this.writes.write([
        { op: 'purge', destination: r.storeKey },
        { op: 'removeSubscription', clientId: r.clientId, subscriptionName: r.subscriptionName },
      ])
    }
  }

  list(): DurableSubscriptionInfo[] {
    return [...this.subs.values()].map((d) => ({
      clientId: d.record.clientId,
      subscriptionName: d.record.subscriptionName,
      destination: d.record.destination,
      active: d.active !== null,
      depth: d.queue.depth(),
    }))
  }

  /** Remove expired pending messages (the periodic sweep). */
  sweepExpired(now: number): void {
    for (const d of this.subs.values()) d.queue.sweepExpired(now)
  }
}
