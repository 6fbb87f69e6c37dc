/**
 * The routing side of BrokerMqttCore: the DestinationIndex of session filters and shared groups, the retained
 * messages, and the TopicTap body that turns one topic message (any protocol) into per-session deliveries: one per
 * session at the highest matching QoS with every subscription id, no-local, retain-as-published, one member per
 * shared group (round robin over connected members, over all when none is). A persistent session's QoS 1/2
 * delivery of a persistent message becomes a store op in the publisher's batch; everything else waits in memory.
 * Retained: purge + add under `mqtt://retained/<topic>` in the same batch (an empty payload clears); a retained
 * non-persistent message is written in its own batch once routed (its batch may carry no ops).
 */
import { logger } from '../../lib/log.ts'
import { type CoreMessage, copyMessage, DestinationIndex, filterMatches, isExpired } from '../../model/index.ts'
import type { MqttBrokerPort, StoreOp } from './broker-port.ts'
import type { MqttMessage, QoS, SubscribeOptions } from './core-port.ts'
import { coreToMqtt, wantsRetain } from './message-map.ts'
import { deliveryCopy, keys } from './mqtt-store.ts'
import { type Queued, SessionState, type Sub, subKey } from './broker-core-session.ts'

const log = logger('mqtt')

interface SharedGroup {
  key: string
  members: Map<string, SessionState>
  next: number
}

type IndexEntry = SessionState | SharedGroup

export interface Publishing {
  clientId: string
  /** Unset until the tap saw the message (a delayed or deduplicated message is never seen). */
  matched?: boolean
}

/**
 * What the broker may tell a tap besides the message: how many of its own subscriptions (any protocol) the message
 * went to. Today's TopicTap passes nothing, so subscribers of other protocols are unknown and count as present.
 */
export interface TapInfo {
  subscribers: number
}

export interface RouterHost {
  readonly broker: MqttBrokerPort
  readonly limits: { retainedMax: number }
  /** Whether the broker has a store: without one retained messages are kept in memory only. */
  readonly durable: boolean
}

export class MqttRouter {
  readonly retained = new Map<string, CoreMessage>()
  /**
   * Messages the core is sending now, by message id: the publishing client id (for no-local) and, once routed,
   * whether any subscriber took it (MQTT 5 "no matching subscribers").
   */
  readonly publishing = new Map<string, Publishing>()
  private readonly index = new DestinationIndex<IndexEntry>()
  private readonly groups = new Map<string, SharedGroup>()

  constructor(private readonly host: RouterHost) {}

  /** Retained messages whose topic the filter matches and that have not expired. */
  *retainedMatching(filter: string): Generator<MqttMessage> {
    for (const [topic, m] of this.retained)
      if (filterMatches(filter, topic) && !isExpired(m, this.host.broker.clock.now())) yield coreToMqtt(m)
  }

  addSub(s: SessionState, filter: string, opts: SubscribeOptions): Sub {
    const key = subKey(filter, opts.shareGroup)
    const sub = { filter, opts }
    s.subs.set(key, sub)
    if (opts.shareGroup === undefined) this.index.add(filter, s)
    else {
      let g = this.groups.get(key)
      if (!g) {
        g = { key, members: new Map(), next: 0 }
        this.groups.set(key, g)
        this.index.add(filter, g)
      }
      g.members.set(s.clientId, s)
    }
    return sub
  }

  removeSub(s: SessionState, filter: string, group?: string): boolean {
    const key = subKey(filter, group)
    if (!s.subs.delete(key)) return false
    if (group === undefined) {
      const stillUsed = [...s.subs.values()].some((x) => x.filter === filter && x.opts.shareGroup === undefined)
      if (!stillUsed) this.index.remove(filter, s)
    } else {
      const g = this.groups.get(key)!
      g.members.delete(s.clientId)
      if (g.members.size === 0) {
        this.groups.delete(key)
        this.index.remove(filter, g)
      }
    }
    return true
  }

  // ------------------------------------------------------------------------------------------------ the topic tap

  onTopicMessage(m: CoreMessage, info?: TapInfo): { ops: StoreOp[]; committed?: () => void } | null {
    const mine = this.publishing.get(m.messageId)
    // Unknown (no info): another protocol's subscriber may have taken it, so never claim nobody did.
    if (mine) mine.matched = info === undefined || info.subscribers > 0
    try {
      return this.route(m, mine)
    } catch (e) {
      // The tap must not throw into the broker's commit: a bug here costs MQTT subscribers this message only.
      log.warn(`mqtt: routing ${m.messageId} to MQTT sessions failed: ${(e as Error).message}`)
      return null
    }
  }

  private route(m: CoreMessage, mine: Publishing | undefined): { ops: StoreOp[]; committed?: () => void } | null {
    const ops: StoreOp[] = []
    const after: (() => void)[] = []
    const topic = m.destination.name
    if (wantsRetain(m)) this.retain(m, topic, ops, after)
    const retainWork = after.length
    const matches = this.index.match(topic)
    if (matches.size === 0 || isExpired(m, this.host.broker.clock.now())) {
      return ops.length + after.length === 0 ? null : { ops, committed: () => after.forEach((f) => f()) }
    }
    const message = { ...coreToMqtt(m), origin: mine?.clientId }
    const targets = new Map<SessionState, Queued>()
    for (const entry of matches) {
      if (entry instanceof SessionState) {
        for (const sub of entry.subs.values()) {
          if (sub.opts.shareGroup !== undefined || !filterMatches(sub.filter, topic)) continue
          if (sub.opts.noLocal && message.origin === entry.clientId) continue
          const q = this.queued(message, sub, false)
          const prev = targets.get(entry)
          if (!prev) targets.set(entry, q)
          else {
            prev.qos = Math.max(prev.qos, q.qos) as QoS
            prev.retain ||= q.retain
            prev.subscriptionIds.push(...q.subscriptionIds)
          }
        }
        continue
      }
      const member = this.pickMember(entry)
      // A member's own subscription may carry a different QoS than the group's first: each member's applies.
      if (member)
        after.push(
          this.deliverTo(
            member,
            m,
            { ...this.queued(message, member.subs.get(entry.key)!, false), group: entry.key },
            ops,
          ),
        )
    }
    for (const [s, q] of targets) after.push(this.deliverTo(s, m, q, ops))
    if (mine && after.length > retainWork) mine.matched = true
    return { ops, committed: () => after.forEach((f) => f()) }
  }

  /** Store op (persistent session, persistent message, QoS 1/2) or memory queue; returns what to run at commit. */
  private deliverTo(s: SessionState, m: CoreMessage, q: Queued, ops: StoreOp[]): () => void {
    if (s.durable && m.persistent && q.qos > 0) {
      ops.push({ op: 'add', destination: keys.queue(s.clientId), message: deliveryCopy(m, q) })
      s.stored = true
      return () => s.storedArrived()
    }
    return () => s.enqueue(q)
  }

  private retain(m: CoreMessage, topic: string, ops: StoreOp[], after: (() => void)[]): void {
    const clear = m.body.length === 0
    if (!clear && !this.retained.has(topic) && this.retained.size >= this.host.limits.retainedMax) {
      log.warn(`mqtt: retainedMax ${this.host.limits.retainedMax} reached; ${m.messageId} on ${topic} not retained`)
      return
    }
    const key = keys.retained(topic)
    const kept = copyMessage(m, { producer: null, persistent: true })
    const write: StoreOp[] = [{ op: 'purge', destination: key }]
    if (!clear) write.push({ op: 'add', destination: key, message: kept })
    if (m.persistent && this.host.durable) ops.push(...write)
    after.push(() => {
      if (clear) this.retained.delete(topic)
      else this.retained.set(topic, kept)
      // A non-persistent message may not add ops to its own batch: its retained copy is written after it.
      if (!m.persistent && this.host.durable)
        this.host.broker
          .storeWrite(write)
          .catch((e) => log.warn(`mqtt: storing retained ${topic}: ${(e as Error).message}`))
    })
  }

  queued(m: MqttMessage, sub: Sub, fromRetained: boolean): Queued {
    return {
      message: m,
      qos: Math.min(m.qos, sub.opts.qos) as QoS,
      retain: fromRetained || (sub.opts.retainAsPublished && m.retain),
      subscriptionIds: sub.opts.subscriptionId === undefined ? [] : [sub.opts.subscriptionId],
    }
  }

  /**
   * Another member of the group `key` for a delivery `leaving` gives up: round robin over its connected members, or
   * over all of them unless `connectedOnly`. Undefined when there is none.
   */
  otherMember(key: string, leaving: SessionState, connectedOnly: boolean): SessionState | undefined {
    const g = this.groups.get(key)
    if (!g) return undefined
    const others = [...g.members.values()].filter((m) => m !== leaving && !m.ended)
    const live = others.filter((m) => m.attached)
    const pool = live.length > 0 || connectedOnly ? live : others
    if (pool.length === 0) return undefined
    return pool[g.next++ % pool.length]
  }

  /** Round robin over connected members; over all members when none is connected (their queues hold it). */
  private pickMember(g: SharedGroup): SessionState | undefined {
    const all = [...g.members.values()].filter((m) => !m.ended)
    const live = all.filter((m) => m.attached)
    const pool = live.length > 0 ? live : all
    if (pool.length === 0) return undefined
    return pool[g.next++ % pool.length]
  }
}
