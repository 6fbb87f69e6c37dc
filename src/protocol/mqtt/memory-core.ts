/**
 * MemoryCore: a complete in-memory MqttCore (core-port.ts) for unit tests and as the executable statement of the
 * port's contract: persistent sessions with queues and in-flight state kept across reconnects, takeover, wills with
 * delay, session expiry, retained messages, overlapping subscriptions merged into one delivery per session,
 * no-local, retain-as-published, retain handling, subscription identifiers, shared subscriptions with queue
 * semantics (round robin over the group, connected members first) and exactly-once receive state.
 * Nothing is durable: a promise resolves once the state changed. Not for production.
 */
import { BrokerError } from '../../lib/errors.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import type { Authenticator } from '../../security/index.ts'
import type {
  Delivery,
  MqttCore,
  MqttMessage,
  OpenRequest,
  OpenResult,
  QoS,
  SubscribeOptions,
  Will,
} from './core-port.ts'
import { TopicTree, filterMatches } from './topic-tree.ts'
import { MemoryHandle } from './memory-core-handle.ts'

export interface MemoryCoreOptions {
  clock?: Clock
  authenticator?: Authenticator
  /** Messages queued per session beyond its in-flight window; a message for a full queue is dropped (counted). */
  sessionQueueMax?: number
  /** Retained messages kept; a new retained topic beyond it fails the publish with BROKER_LIMIT. */
  retainedMax?: number
  /** Sessions kept (connected or not); an open() of a new client id beyond it fails with BROKER_LIMIT. */
  sessionsMax?: number
}

export const MEMORY_CORE_DEFAULTS = { sessionQueueMax: 10_000, retainedMax: 100_000, sessionsMax: 10_000 }

const NEVER_EXPIRES = 0xffffffff

interface Sub {
  filter: string
  opts: SubscribeOptions
}

interface Queued {
  message: MqttMessage
  qos: QoS
  retain: boolean
  subscriptionIds: number[]
  /** The shared group (`$share/<group>/<filter>`) that chose this session: another member takes it if it leaves. */
  group?: string
}

export interface InFlight {
  delivery: Delivery
  group?: string
  /** 'received': PUBREC seen, waiting for PUBCOMP. */
  state: 'sent' | 'received'
}

interface SharedGroup {
  members: Map<string, State>
  next: number
}

/** Everything the core keeps for one client id. */
export interface State {
  clientId: string
  subs: Map<string, Sub>
  queue: Queued[]
  inFlight: Map<number, InFlight>
  nextPacketId: number
  exactlyOnce: Set<number>
  expirySec: number
  attached: MemoryHandle | null
  inFlightMax: number
  started: boolean
  will?: Will
  willTimer?: unknown
  expiryTimer?: unknown
}

const subKey = (filter: string, group?: string) => (group === undefined ? filter : `$share/${group}/${filter}`)

export class MemoryCore implements MqttCore {
  readonly clock: Clock
  private readonly opts: Required<Omit<MemoryCoreOptions, 'clock' | 'authenticator'>>
  private readonly sessions = new Map<string, State>()
  private readonly retained = new Map<string, MqttMessage>()
  /** Non-shared subscriptions by (filter, clientId); shared groups by (filter, '$share/' + group). */
  private readonly tree = new TopicTree<{ state: State } | { group: SharedGroup; key: string }>()
  private readonly groups = new Map<string, SharedGroup>()
  /** Messages dropped because a session queue was full. */
  dropped = 0

  constructor(private readonly options: MemoryCoreOptions = {}) {
    this.clock = options.clock ?? systemClock
    this.opts = { ...MEMORY_CORE_DEFAULTS, ...options }
  }

  async open(req: OpenRequest): Promise<OpenResult> {
    if (this.options.authenticator) await this.options.authenticator.authenticate(req.credentials)
    let s = this.sessions.get(req.clientId)
    if (s?.attached) {
      const old = s.attached
      s.attached = null
      s.started = false
      old.sink.takenOver()
      // The old connection's will: published now unless delayed (a delayed will is cancelled by this reconnect).
      if (s.will && (s.will.delaySec === 0 || req.cleanStart)) this.publishWill(s)
    }
    if (s) this.cancelTimers(s)
    if (s && req.cleanStart) {
      this.endSession(s)
      s = undefined
    }
    const sessionPresent = s !== undefined
    if (!s) {
      if (this.sessions.size >= this.opts.sessionsMax)
        throw new BrokerError('BROKER_LIMIT', `mqtt: sessionsMax ${this.opts.sessionsMax} sessions reached`)
      s = {
        clientId: req.clientId,
        subs: new Map(),
        queue: [],
        inFlight: new Map(),
        nextPacketId: 1,
        exactlyOnce: new Set(),
        expirySec: 0,
        attached: null,
        inFlightMax: 1,
        started: false,
      }
      this.sessions.set(req.clientId, s)
    }
    s.expirySec = req.sessionExpirySec
    s.will = req.will
    s.inFlightMax = Math.max(1, req.inFlightMax)
    const handle = new MemoryHandle(this, s, req.sink)
    s.attached = handle
    return { sessionPresent, session: handle }
  }

  /** Test view: number of sessions kept. */
  sessionCount(): number {
    return this.sessions.size
  }

  /** Test view: the retained message of a dotted topic. */
  retainedOf(topic: string): MqttMessage | undefined {
    return this.retained.get(topic)
  }

  route(message: MqttMessage): boolean {
    if (message.retain) {
      if (message.payload.length === 0) this.retained.delete(message.topic)
      else {
        if (!this.retained.has(message.topic) && this.retained.size >= this.opts.retainedMax)
          throw new BrokerError('BROKER_LIMIT', `mqtt: retainedMax ${this.opts.retainedMax} retained messages reached`)
        this.retained.set(message.topic, message)
      }
    }
    if (this.expired(message)) return false
    const perSession = new Map<State, Queued>()
    const states = new Set<State>()
    let matched = false
    for (const entry of this.tree.match(message.topic)) {
      if ('state' in entry) {
        states.add(entry.state)
        continue
      }
      const member = this.pickMember(entry.group)
      if (!member) continue
      matched = true
      this.enqueue(member, { ...this.queued(message, member.subs.get(entry.key)!, false), group: entry.key })
    }
    // Overlapping subscriptions of one session: one delivery at the highest QoS with every subscription id.
    for (const s of states) {
      for (const sub of s.subs.values()) {
        if (sub.opts.shareGroup !== undefined || !filterMatches(sub.filter, message.topic)) continue
        if (sub.opts.noLocal && message.origin === s.clientId) continue
        matched = true
        const q = this.queued(message, sub, false)
        const prev = perSession.get(s)
        if (!prev) perSession.set(s, q)
        else {
          prev.qos = Math.max(prev.qos, q.qos) as QoS
          prev.retain ||= q.retain
          prev.subscriptionIds.push(...q.subscriptionIds)
        }
      }
    }
    for (const [s, q] of perSession) this.enqueue(s, q)
    return matched
  }

  subscribe(s: State, filter: string, opts: SubscribeOptions): { existed: boolean } {
    const key = subKey(filter, opts.shareGroup)
    const existed = s.subs.has(key)
    const sub = { filter, opts }
    s.subs.set(key, sub)
    if (opts.shareGroup === undefined) this.tree.set(filter, s.clientId, { state: s })
    else {
      let g = this.groups.get(key)
      if (!g) {
        g = { members: new Map(), next: 0 }
        this.groups.set(key, g)
        this.tree.set(filter, key, { group: g, key })
      }
      g.members.set(s.clientId, s)
    }
    const sendRetained = opts.retainHandling === 0 || (opts.retainHandling === 1 && !existed)
    if (opts.shareGroup === undefined && sendRetained)
      for (const m of this.retained.values())
        if (filterMatches(filter, m.topic) && !this.expired(m)) this.enqueue(s, this.queued(m, sub, true))
    return { existed }
  }

  unsubscribe(s: State, filter: string, group?: string): boolean {
    const key = subKey(filter, group)
    if (!s.subs.delete(key)) return false
    if (group === undefined) {
      const stillUsed = [...s.subs.values()].some((x) => x.filter === filter && x.opts.shareGroup === undefined)
      if (!stillUsed) this.tree.delete(filter, s.clientId)
    } else {
      const g = this.groups.get(key)!
      g.members.delete(s.clientId)
      if (g.members.size === 0) {
        this.groups.delete(key)
        this.tree.delete(filter, key)
      }
    }
    return true
  }

  /** Sends what the window allows to the attached, started connection. */
  pump(s: State): void {
    const h = s.attached
    if (!h || !s.started) return
    while (s.queue.length > 0) {
      const q = s.queue[0]!
      if (this.expired(q.message)) {
        s.queue.shift()
        continue
      }
      if (q.qos === 0) {
        s.queue.shift()
        h.sink.deliver({
          packetId: 0,
          qos: 0,
          dup: false,
          retain: q.retain,
          message: q.message,
          subscriptionIds: q.subscriptionIds,
        })
        if (s.attached !== h) return
        continue
      }
      if (s.inFlight.size >= s.inFlightMax) return
      s.queue.shift()
      const packetId = this.nextPacketId(s)
      const d: Delivery = {
        packetId,
        qos: q.qos,
        dup: false,
        retain: q.retain,
        message: q.message,
        subscriptionIds: q.subscriptionIds,
      }
      s.inFlight.set(packetId, { delivery: d, state: 'sent', group: q.group })
      h.sink.deliver(d)
      if (s.attached !== h) return
    }
  }

  start(s: State): void {
    const h = s.attached
    if (!h) return
    s.started = true
    for (const [id, f] of s.inFlight) {
      if (f.state === 'received') h.sink.release(id)
      else h.sink.deliver({ ...f.delivery, dup: true })
      if (s.attached !== h) return
    }
    this.pump(s)
  }

  detach(s: State, publishWill: boolean, expiryOverride?: number): void {
    s.attached = null
    s.started = false
    if (expiryOverride !== undefined) s.expirySec = expiryOverride
    if (!publishWill) s.will = undefined
    if (s.expirySec === 0) {
      this.endSession(s)
      return
    }
    this.handOver(s, false)
    if (s.will) {
      if (s.will.delaySec === 0) this.publishWill(s)
      else if (s.will.delaySec < s.expirySec)
        s.willTimer = this.clock.setTimeout(() => this.publishWill(s), s.will.delaySec * 1000)
    }
    if (s.expirySec !== NEVER_EXPIRES)
      s.expiryTimer = this.clock.setTimeout(() => this.endSession(s), s.expirySec * 1000)
  }

  private endSession(s: State): void {
    this.cancelTimers(s)
    if (s.will) this.publishWill(s)
    this.handOver(s, true)
    for (const sub of [...s.subs.values()]) this.unsubscribe(s, sub.filter, sub.opts.shareGroup)
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId)
  }

  private publishWill(s: State): void {
    const will = s.will
    s.will = undefined
    if (s.willTimer !== undefined) this.clock.clearTimeout(s.willTimer)
    s.willTimer = undefined
    if (!will) return
    try {
      this.route({ ...will.message, origin: s.clientId })
    } catch {
      // A will over a limit is lost, as a refused publish would be; nobody is left to tell.
    }
  }

  private cancelTimers(s: State): void {
    if (s.willTimer !== undefined) this.clock.clearTimeout(s.willTimer)
    if (s.expiryTimer !== undefined) this.clock.clearTimeout(s.expiryTimer)
    s.willTimer = s.expiryTimer = undefined
  }

  private queued(m: MqttMessage, sub: Sub, fromRetained: boolean): Queued {
    return {
      message: m,
      qos: Math.min(m.qos, sub.opts.qos) as QoS,
      retain: fromRetained || (sub.opts.retainAsPublished && m.retain),
      subscriptionIds: sub.opts.subscriptionId === undefined ? [] : [sub.opts.subscriptionId],
    }
  }

  private enqueue(s: State, q: Queued): void {
    if (s.queue.length >= this.opts.sessionQueueMax) {
      this.dropped++
      return
    }
    s.queue.push(q)
    this.pump(s)
  }

  /**
   * Queue semantics across a shared group (MQTT 5 §4.8.2): a member that disconnects hands its queued group messages
   * to a connected member; one whose session ends hands them (and its unacknowledged in-flight ones) to any member.
   * A message no other member can take stays (disconnect) or is dropped with the group's last member (end).
   */
  private handOver(s: State, ended: boolean): void {
    const moved: Queued[] = []
    if (ended)
      for (const [id, f] of s.inFlight)
        if (f.group !== undefined && f.state === 'sent') {
          s.inFlight.delete(id)
          moved.push({ ...f.delivery, group: f.group })
        }
    moved.push(...s.queue.filter((q) => q.group !== undefined))
    if (moved.length === 0) return
    s.queue = s.queue.filter((q) => q.group === undefined)
    for (const q of moved) {
      const g = this.groups.get(q.group!)
      const others = g ? [...g.members.values()].filter((m) => m !== s) : []
      const live = others.filter((m) => m.attached)
      const pool = live.length > 0 || !ended ? live : others
      const to = pool.length > 0 ? pool[g!.next++ % pool.length]! : undefined
      if (to) this.enqueue(to, { ...this.queued(q.message, to.subs.get(q.group!)!, false), group: q.group })
      else if (!ended) s.queue.push(q)
    }
  }

  /** Round robin over connected members; all members when none is connected (their queues hold it). */
  private pickMember(g: SharedGroup): State | undefined {
    const all = [...g.members.values()]
    const live = all.filter((m) => m.attached)
    const pool = live.length > 0 ? live : all
    if (pool.length === 0) return undefined
    return pool[g.next++ % pool.length]
  }

  private nextPacketId(s: State): number {
    for (;;) {
      const id = s.nextPacketId
      s.nextPacketId = id >= 65535 ? 1 : id + 1
      if (!s.inFlight.has(id)) return id
    }
  }

  private expired(m: MqttMessage): boolean {
    return m.expiresAt !== undefined && m.expiresAt <= this.clock.now()
  }
}
