/**
 * BrokerMqttCore: the MqttCore port (core-port.ts) on the real broker, with every MQTT session, subscription,
 * queued QoS 1/2 message, in-flight packet id, inbound QoS 2 packet id and retained message in the broker's shared
 * store (keys in mqtt-store.ts), so they survive a takeover as queues do. MemoryCore is the behaviour it follows.
 *
 * - Publishing goes through a broker session per connection (authorization, flow control, dedupe, other
 *   protocols' subscribers and the store all apply); a QoS 2 packet id is written in the message's own batch.
 * - Receiving and retained messages: one TopicTap sees every topic message (any protocol, scheduler firings) inside
 *   the broker's commit; broker-core-router.ts routes it to sessions (broker-core-session.ts holds their queues).
 * - start() reads everything back when the node becomes primary (before connectors open), ends expired sessions,
 *   and re-arms will delays and expiry on the broker's clock. A session connected when the last primary died is
 *   taken as disconnected at start.
 * - On a broker without a store (persistent=false) the same sessions, queues and retained messages are kept in
 *   memory only (`durable` false): they end with this core, as the broker's own non-persistent mode promises.
 * - Shared groups keep queue semantics when a member leaves: broker-core-groups.ts.
 * `matched` (MQTT 5's 0x10 "no matching subscribers") counts the broker's own subscriptions of every protocol, which
 * the broker reports to the tap (TopicTapInfo), and the MQTT sessions the tap routes to.
 * Not promised: a message routed between start()'s first read and its tap registration is not seen by MQTT sessions.
 */
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { Authenticator, Subject } from '../../security/index.ts'
import type { MqttBrokerPort, StoreOp } from './broker-port.ts'
import type { MqttCore, MqttMessage, MqttSession, OpenRequest, OpenResult, SubscribeOptions } from './core-port.ts'
import { coreToMqtt } from './message-map.ts'
import {
  decodeSession,
  encodeSession,
  keys,
  parseSessionKey,
  RETAINED_PREFIX,
  subjectFromRecord,
  subjectToRecord,
} from './mqtt-store.ts'
import { SessionState, type SessionHost, subKey } from './broker-core-session.ts'
import { MqttRouter, type TapInfo } from './broker-core-router.ts'
import { BrokerSessionHandle } from './broker-core-handle.ts'
import { SessionTimers } from './broker-core-timers.ts'
import { handOverGroupDeliveries } from './broker-core-groups.ts'
import { MqttPublisher } from './broker-core-publish.ts'

const log = logger('mqtt')

export interface BrokerMqttCoreOptions {
  broker: MqttBrokerPort
  authenticator?: Authenticator
  /** In-memory deliveries per session (QoS 0, and all of a clean session); beyond it they are dropped (counted). */
  sessionQueueMax?: number
  /** Stored QoS 1/2 deliveries read into memory at once per connected session. */
  sessionWindowMax?: number
  retainedMax?: number
  sessionsMax?: number
  /**
   * Whether the broker has a store (persistent=true). Without one, sessions that outlive their connection (3.1.1
   * clean session 0, MQTT 5 session expiry > 0) and retained messages live in memory only and end with this core,
   * as the broker's own non-persistent mode promises. Default: whether the broker port's `store` is set (the real
   * Broker has it; a port without the field counts as having a store).
   */
  persistent?: boolean
}

export const BROKER_MQTT_CORE_DEFAULTS = {
  sessionQueueMax: 10_000,
  sessionWindowMax: 1_000,
  retainedMax: 100_000,
  sessionsMax: 10_000,
}
/** Most in-flight records one session may hold in the store (the packet id space). */
const IN_FLIGHT_RECORDS_MAX = 65_535

export class BrokerMqttCore implements MqttCore, SessionHost {
  readonly broker: MqttBrokerPort
  readonly limits: typeof BROKER_MQTT_CORE_DEFAULTS
  /** State goes to the broker's store (false: memory only, see BrokerMqttCoreOptions.persistent). */
  readonly durable: boolean
  dropped = 0
  private readonly sessions = new Map<string, SessionState>()
  readonly router = new MqttRouter(this)
  readonly publisher: MqttPublisher
  private readonly retained = this.router.retained
  /** open() of one client id at a time. */
  private readonly opening = new Map<string, Promise<unknown>>()
  private removeTap: (() => void) | null = null
  readonly timers: SessionTimers
  private stopped = false

  constructor(private readonly options: BrokerMqttCoreOptions) {
    this.broker = options.broker
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined))
    const { persistent, ...limits } = defined
    this.limits = { ...BROKER_MQTT_CORE_DEFAULTS, ...limits } as typeof BROKER_MQTT_CORE_DEFAULTS
    this.durable = options.persistent ?? options.broker.store !== null
    this.publisher = new MqttPublisher(this.broker, this.router, this.limits)
    this.timers = new SessionTimers(this.broker.clock, {
      publishWill: (s) => this.publishWill(s),
      endSession: (s) => void this.endSession(s),
    })
  }

  // ------------------------------------------------------------------------------------------------ lifecycle

  /** Reads every MQTT record of the store, ends expired sessions, registers the topic tap. */
  async start(): Promise<void> {
    const now = this.broker.clock.now()
    const byClient = new Map<string, string[]>()
    for (const key of this.broker.storeKeys('mqtt://')) {
      if (key.startsWith(RETAINED_PREFIX)) {
        const [m] = await this.broker.storeLoad(key, 0, 1)
        if (m) this.retained.set(key.slice(RETAINED_PREFIX.length), m.message)
        continue
      }
      const parsed = parseSessionKey(key)
      if (!parsed) {
        log.warn(`mqtt: store key ${key} is not an MQTT key this core knows; left alone`)
        continue
      }
      const list = byClient.get(parsed.clientId) ?? []
      list.push(parsed.rest)
      byClient.set(parsed.clientId, list)
    }
    for (const [clientId, rests] of byClient) {
      const s = new SessionState(this, clientId)
      s.stored = true
      // storeKeys() lists keys that held records too: each is read before it counts.
      const [rec] = rests.includes('session') ? await this.broker.storeLoad(keys.session(clientId), 0, 1) : []
      if (!rec) {
        await this.purgeSession(s)
        continue
      }
      const r = decodeSession(rec.message, keys.session(clientId))
      s.expirySec = r.expirySec
      s.subject = subjectFromRecord(r.subject)
      s.nextPacketId = r.nextPacketId
      s.will = r.will ?? undefined
      s.disconnectedAt = r.disconnectedAt ?? now
      for (const rest of rests) {
        if (!rest.startsWith('qos2-in/')) continue
        const id = Number(rest.slice('qos2-in/'.length))
        if ((await this.broker.storeLoad(keys.qos2In(clientId, id), 0, 1)).length > 0) s.exactlyOnce.add(id)
      }
      for (const m of await this.broker.storeLoad(keys.inflight(clientId), 0, IN_FLIGHT_RECORDS_MAX))
        s.recoverInFlight(m.seq, m.message)
      this.sessions.set(clientId, s)
      for (const sub of r.subs) this.router.addSub(s, sub.filter, sub.opts)
    }
    this.removeTap = this.broker.addTopicTap({
      onTopicMessage: (m, info?: TapInfo) => this.router.onTopicMessage(m, info),
    })
    for (const s of [...this.sessions.values()]) {
      const endsAt = s.disconnectedAt! + s.expirySec * 1000
      if (s.expirySec !== 0xffffffff && endsAt <= now) await this.endSession(s)
      else this.timers.armDetached(s, s.disconnectedAt!)
    }
  }

  /** Unregisters the tap and every timer; sessions stay in the store for the next primary. */
  async stop(): Promise<void> {
    this.stopped = true
    this.removeTap?.()
    this.removeTap = null
    for (const s of this.sessions.values()) {
      this.timers.cancel(s)
      const a = s.attached
      s.attached = null
      if (a) await a.brokerSession.close().catch(() => {})
    }
  }

  /** Test view. */
  sessionCount(): number {
    return this.sessions.size
  }

  /** Test view: the retained message of a dotted topic. */
  retainedOf(topic: string): MqttMessage | undefined {
    const m = this.retained.get(topic)
    return m && coreToMqtt(m)
  }

  expired(m: MqttMessage): boolean {
    return m.expiresAt !== undefined && m.expiresAt <= this.broker.clock.now()
  }

  // ------------------------------------------------------------------------------------------------ open

  async open(req: OpenRequest): Promise<OpenResult> {
    if (this.stopped) throw new BrokerError('BROKER_STOPPED', 'mqtt: the broker core is stopped')
    const before = this.opening.get(req.clientId) ?? Promise.resolve()
    const mine = before.catch(() => {}).then(() => this.openNow(req))
    this.opening.set(req.clientId, mine)
    try {
      return await mine
    } finally {
      if (this.opening.get(req.clientId) === mine) this.opening.delete(req.clientId)
    }
  }

  private async openNow(req: OpenRequest): Promise<OpenResult> {
    const subject: Subject | null = this.options.authenticator
      ? await this.options.authenticator.authenticate(req.credentials)
      : null
    if (req.will) this.authorizeWill(subject, req.will.message.topic)
    let s = this.sessions.get(req.clientId)
    if (s?.attached) {
      const old = s.attached
      s.attached = null
      s.started = false
      s.dropWindow()
      old.sink.takenOver()
      if (s.will && (s.will.delaySec === 0 || req.cleanStart)) this.publishWill(s)
      await old.brokerSession.close().catch(() => {})
    }
    if (s) this.timers.cancel(s)
    if (s && req.cleanStart) {
      await this.endSession(s)
      s = undefined
    }
    const sessionPresent = s !== undefined
    // Before any state is made: a client id a connection of another protocol holds refuses this open (as ActiveMQ).
    const brokerSession = this.broker.connect({
      clientId: req.clientId,
      protocol: 'mqtt',
      subject,
      remoteAddress: req.credentials.remoteAddress,
    })
    if (!s) {
      if (this.sessions.size >= this.limits.sessionsMax) {
        await brokerSession.close().catch(() => {})
        throw new BrokerError('BROKER_LIMIT', `mqtt: sessionsMax ${this.limits.sessionsMax} sessions reached`)
      }
      s = new SessionState(this, req.clientId)
      this.sessions.set(req.clientId, s)
    }
    s.expirySec = req.sessionExpirySec
    s.will = req.will
    s.subject = subject
    s.inFlightMax = Math.max(1, req.inFlightMax)
    s.disconnectedAt = null
    try {
      if (s.durable) await this.saveSession(s)
      else if (s.stored) await this.purgeSession(s)
    } catch (e) {
      await brokerSession.close().catch(() => {})
      throw e
    }
    const handle = new BrokerSessionHandle(this, s, req.sink, brokerSession)
    s.attached = handle
    return { sessionPresent, session: handle }
  }

  /**
   * The will's topic is authorised at CONNECT (MQTT 5 §3.1.2.5 lets the server refuse it: CONNACK 0x87, 3.1.1 0x05),
   * before any session state changes, through a short-lived broker session of the same subject.
   */
  private authorizeWill(subject: Subject | null, topic: string): void {
    const probe = this.broker.connect({ protocol: 'mqtt', subject, remoteAddress: 'will check' })
    try {
      this.broker.authorize(probe, 'write', { kind: 'topic', name: topic })
    } finally {
      probe.close().catch(() => {})
    }
  }

  /** Handle.close(): detaches; a session with expiry 0 ends, else expiry and will delay run on the clock. */
  async detach(s: SessionState, publishWill: boolean, expiryOverride?: number): Promise<void> {
    const a = s.attached
    s.attached = null
    s.started = false
    s.dropWindow()
    if (expiryOverride !== undefined) s.expirySec = expiryOverride
    if (!publishWill) s.will = undefined
    await a?.brokerSession.close().catch(() => {})
    // Stopping (step-down): the session stays as the store has it; the next primary takes it as disconnected.
    if (this.stopped) return
    if (s.expirySec === 0) return this.endSession(s)
    s.disconnectedAt = this.broker.clock.now()
    this.timers.armDetached(s, s.disconnectedAt)
    if (s.durable) await this.saveSession(s)
    await handOverGroupDeliveries(this, s, 'detached')
  }

  /** The session record, replaced in one batch. */
  saveSession(s: SessionState): Promise<number[]> {
    s.stored = true
    return s.write([
      { op: 'purge', destination: keys.session(s.clientId) },
      {
        op: 'add',
        destination: keys.session(s.clientId),
        message: encodeSession(
          {
            clientId: s.clientId,
            expirySec: s.expirySec,
            disconnectedAt: s.disconnectedAt,
            subject: subjectToRecord(s.subject),
            subs: [...s.subs.values()],
            will: s.will ?? null,
            nextPacketId: s.nextPacketId,
          },
          this.broker.clock.now(),
        ),
      },
    ])
  }

  private async purgeSession(s: SessionState): Promise<void> {
    const ops: StoreOp[] = this.broker
      .storeKeys(keys.sessionPrefix(s.clientId))
      .map((destination) => ({ op: 'purge', destination }))
    if (ops.length > 0) await s.write(ops)
    s.stored = false
  }

  /** Ends a session: will published, subscriptions removed, every record of it deleted. */
  async endSession(s: SessionState): Promise<void> {
    if (s.ended) return
    s.ended = true
    this.timers.cancel(s)
    if (s.will) this.publishWill(s)
    await handOverGroupDeliveries(this, s, 'ended').catch((e) => log.warn(`mqtt: ending ${s.clientId}: ${e}`))
    for (const sub of [...s.subs.values()]) this.router.removeSub(s, sub.filter, sub.opts.shareGroup)
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId)
    if (s.stored) await this.purgeSession(s).catch((e) => log.warn(`mqtt: ending ${s.clientId}: ${e}`))
  }

  /** Sends the will through a broker session of the will's owner (authorization applies); failures are logged. */
  publishWill(s: SessionState): void {
    const will = s.will
    s.will = undefined
    this.timers.cancelWill(s)
    if (!will || this.stopped) return
    let session: ReturnType<MqttBrokerPort['connect']>
    try {
      session = this.broker.connect({ protocol: 'mqtt', subject: s.subject, remoteAddress: `will of ${s.clientId}` })
    } catch (e) {
      log.warn(`mqtt: will of ${s.clientId} lost: ${(e as Error).message}`)
      return
    }
    this.publisher
      .send(session, s.clientId, will.message)
      .catch((e) => log.warn(`mqtt: will of ${s.clientId} refused: ${(e as Error).message}`))
      .finally(() => session.close().catch(() => {}))
    if (s.durable && !s.ended && s.stored) void this.saveSession(s)
  }

  // ------------------------------------------------------------------------------------------------ subscriptions

  async subscribe(s: SessionState, filter: string, opts: SubscribeOptions): Promise<{ existed: boolean }> {
    const a = s.attached!
    this.broker.authorize(a.brokerSession, 'read', { kind: 'topic', name: filter })
    const existed = s.subs.has(subKey(filter, opts.shareGroup))
    const sub = this.router.addSub(s, filter, opts)
    if (s.durable) await this.saveSession(s)
    const sendRetained = opts.retainHandling === 0 || (opts.retainHandling === 1 && !existed)
    if (opts.shareGroup === undefined && sendRetained)
      for (const m of this.router.retainedMatching(filter)) s.enqueue(this.router.queued(m, sub, true))
    return { existed }
  }

  async unsubscribe(s: SessionState, filter: string, group?: string): Promise<boolean> {
    if (!this.router.removeSub(s, filter, group)) return false
    if (s.durable) await this.saveSession(s)
    return true
  }
}

export type { MqttSession }
