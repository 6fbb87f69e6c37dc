/**
 * One MQTT session of BrokerMqttCore (broker-core.ts): its subscriptions, its two queues and its in-flight window.
 *
 * - QoS 0 deliveries, and everything for a session that ends with its connection (expiry 0), wait in `mem`, bounded
 *   by sessionQueueMax (beyond it a delivery is dropped and counted, as MemoryCore does).
 * - QoS 1/2 deliveries of persistent messages to a persistent session live in the store (`mqtt://s/<id>/queue`,
 *   written by the topic tap in the publisher's batch). Only a window of them (sessionWindowMax) is read into memory,
 *   and only while a connection is attached: an offline session costs no memory for them.
 * - Sending one moves it, in one store batch, from the queue key to the in-flight key with its packet id, before the
 *   PUBLISH is written; PUBREC replaces it by a packet-id record; PUBACK/PUBCOMP removes that. So after a takeover
 *   the in-flight state is resent with the same packet ids (dup) and PUBRELs are resent.
 * Store writes of one session run one after another (`serial`), so every op sees the seqs earlier ones assigned.
 * Per the MQTT ordering rule (§4.6: per topic and QoS), the two queues are independent.
 */
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { CoreMessage } from '../../model/index.ts'
import type { Subject } from '../../security/index.ts'
import type { BrokerSession, MqttBrokerPort, StoreOp } from './broker-port.ts'
import type { Delivery, DeliverySink, MqttMessage, QoS, SubscribeOptions, Will } from './core-port.ts'
import { coreToMqtt } from './message-map.ts'
import { type DeliveryInfo, deliveryCopy, keys, readDeliveryCopy, receivedRecord } from './mqtt-store.ts'

const log = logger('mqtt')

export interface Sub {
  filter: string
  opts: SubscribeOptions
}

/** A delivery waiting in memory. */
export interface Queued {
  message: MqttMessage
  qos: QoS
  retain: boolean
  subscriptionIds: number[]
  /** Set when a shared group chose this session (see broker-core-groups.ts). */
  group?: string
}

interface Windowed {
  seq: number
  core: CoreMessage
  info: DeliveryInfo
}

interface InFlight {
  delivery: Delivery
  /** The shared group that chose this session, if one did. */
  group?: string
  received: boolean
  /** The durable write of the PUBREC (received() started it), which PUBREL and PUBCOMP wait for. */
  receivedDurable?: Promise<boolean>
  /** Its record's seq in the in-flight key; 0: not stored (clean session); -1: its store write is pending. */
  seq: number
}

export interface SessionLimits {
  sessionQueueMax: number
  sessionWindowMax: number
}

/** The part of the core a session calls back. */
export interface SessionHost {
  readonly broker: MqttBrokerPort
  readonly limits: SessionLimits
  /** Whether the broker has a store; without one every session lives in memory only. */
  readonly durable: boolean
  dropped: number
  expired(m: MqttMessage): boolean
}

export const subKey = (filter: string, group?: string) => (group === undefined ? filter : `$share/${group}/${filter}`)

export class SessionState {
  readonly subs = new Map<string, Sub>()
  readonly exactlyOnce = new Set<number>()
  readonly inFlight = new Map<number, InFlight>()
  expirySec = 0
  disconnectedAt: number | null = null
  subject: Subject | null = null
  will: Will | undefined
  willTimer: unknown = undefined
  expiryTimer: unknown = undefined
  nextPacketId = 1
  inFlightMax = 1
  started = false
  attached: SessionAttachment | null = null
  /** Whether anything of this session may be in the store (it was persistent once). */
  stored = false
  ended = false
  private readonly mem: Queued[] = []
  private window: Windowed[] = []
  /** Seq after which the queue key's unread messages start. */
  private cursorSeq = 0
  /** The queue key may hold messages beyond the window. */
  private more = true
  private loading = false
  private arrivedDuringLoad = false
  private moving = false
  /** Bumped when the window is dropped: a load begun before is ignored. */
  private generation = 0
  private serialChain: Promise<void> = Promise.resolve()
  /** Shared-group deliveries are being moved out of the stored queue: no window is read meanwhile. */
  handingOver = false

  constructor(
    private readonly host: SessionHost,
    readonly clientId: string,
  ) {}

  /** Outlives its connection. */
  get persistent(): boolean {
    return this.expirySec > 0
  }

  /** Outlives its connection in the store (a broker with a store): its records are written. */
  get durable(): boolean {
    return this.persistent && this.host.durable
  }

  /** Runs store work after this session's earlier store work; a failure is logged (the broker self-fences). */
  serial<T>(work: () => Promise<T>): Promise<T> {
    const p = this.serialChain.then(work)
    this.serialChain = p.then(
      () => undefined,
      (e) => log.warn(`mqtt session ${this.clientId}: store write failed: ${(e as Error).message}`),
    )
    return p
  }

  write(ops: StoreOp[]): Promise<number[]> {
    return this.serial(() => this.host.broker.storeWrite(ops))
  }

  // ------------------------------------------------------------------------------------------------ arrivals

  /** A delivery kept in memory (bounded by sessionQueueMax). */
  enqueue(q: Queued): void {
    if (this.mem.length >= this.host.limits.sessionQueueMax) {
      this.host.dropped++
      return
    }
    this.mem.push(q)
    this.pump()
  }

  /** A delivery the tap wrote to the queue key, now durable. */
  storedArrived(): void {
    this.more = true
    if (this.loading) this.arrivedDuringLoad = true
    this.pump()
  }

  /** After recovery: in-flight records of the in-flight key, in seq order. */
  recoverInFlight(seq: number, core: CoreMessage): void {
    const { info, message } = readDeliveryCopy(core, keys.inflight(this.clientId))
    const packetId = info.packetId ?? 0
    const delivery: Delivery = {
      packetId,
      qos: info.qos,
      dup: true,
      retain: info.retain,
      message: coreToMqtt(message),
      subscriptionIds: info.subscriptionIds,
    }
    this.inFlight.set(packetId, { delivery, received: info.received === true, seq, group: info.group })
  }

  // ------------------------------------------------------------------------------------------------ sending

  start(): void {
    const a = this.attached
    if (!a) return
    this.started = true
    for (const [id, f] of this.inFlight) {
      if (f.seq === -1) continue
      if (f.received) a.sink.release(id)
      else a.sink.deliver({ ...f.delivery, dup: true })
      if (this.attached !== a) return
    }
    this.pump()
  }

  /** Sends what the window allows to the attached, started connection. */
  pump(): void {
    const a = this.attached
    if (!a || !this.started) return
    while (this.mem.length > 0) {
      const q = this.mem[0]!
      if (this.host.expired(q.message)) {
        this.mem.shift()
        continue
      }
      if (q.qos !== 0 && this.inFlight.size >= this.inFlightMax) break
      this.mem.shift()
      const packetId = q.qos === 0 ? 0 : this.newPacketId()
      const { group, ...rest } = q
      const d: Delivery = { packetId, ...rest, dup: false }
      if (packetId !== 0) this.inFlight.set(packetId, { delivery: d, received: false, seq: 0, group })
      a.sink.deliver(d)
      if (this.attached !== a) return
    }
    this.pumpStored()
  }

  private pumpStored(): void {
    if (this.moving || this.handingOver || !this.stored) return
    const room = this.inFlightMax - this.inFlight.size
    if (room <= 0) return
    if (this.window.length === 0) {
      if (this.more && !this.loading) this.load()
      return
    }
    const taken = this.window.splice(0, room)
    const queueKey = keys.queue(this.clientId)
    const inflightKey = keys.inflight(this.clientId)
    const ops: StoreOp[] = []
    const sent: InFlight[] = []
    for (const w of taken) {
      ops.push({ op: 'remove', destination: queueKey, seq: w.seq })
      const message = coreToMqtt(w.core)
      if (this.host.expired(message)) continue
      const packetId = this.newPacketId()
      const info: DeliveryInfo = { ...w.info, packetId, received: false }
      ops.push({ op: 'add', destination: inflightKey, message: deliveryCopy(w.core, info) })
      const f: InFlight = {
        delivery: {
          packetId,
          qos: info.qos,
          dup: false,
          retain: info.retain,
          message,
          subscriptionIds: info.subscriptionIds,
        },
        received: false,
        seq: -1,
        group: info.group,
      }
      this.inFlight.set(packetId, f)
      sent.push(f)
    }
    this.moving = true
    this.write(ops).then(
      (seqs) => {
        this.moving = false
        sent.forEach((f, i) => (f.seq = seqs[i]!))
        const now = this.attached
        if (now && this.started)
          for (const f of sent) {
            if (this.attached !== now) break
            if (this.inFlight.get(f.delivery.packetId) === f) now.sink.deliver(f.delivery)
          }
        this.pump()
      },
      () => {
        // The broker gives up the primary role on a failed write; the records stay as they were in the store.
        this.moving = false
      },
    )
  }

  private load(): void {
    const gen = this.generation
    const asked = this.host.limits.sessionWindowMax - this.window.length
    if (asked <= 0) return
    this.loading = true
    this.arrivedDuringLoad = false
    const key = keys.queue(this.clientId)
    this.host.broker.storeLoad(key, this.cursorSeq, asked).then(
      (list) => {
        this.loading = false
        if (gen !== this.generation) return this.pump()
        for (const m of list) {
          this.cursorSeq = m.seq
          try {
            const { info, message } = readDeliveryCopy(m.message, key)
            this.window.push({ seq: m.seq, core: message, info })
          } catch (e) {
            // A record this core cannot read stays in the store, reported, and is skipped, as stores skip rot.
            log.warn(`mqtt session ${this.clientId}: queued record ${m.seq} skipped: ${(e as Error).message}`)
          }
        }
        if (list.length < asked && !this.arrivedDuringLoad) this.more = false
        this.pump()
      },
      (e) => {
        this.loading = false
        log.warn(`mqtt session ${this.clientId}: loading its queue failed: ${(e as Error).message}`)
      },
    )
  }

  /** Takes the memory-queued deliveries a shared group chose this session for (to hand them to another member). */
  takeGroupQueued(): Queued[] {
    const taken = this.mem.filter((q) => q.group !== undefined)
    if (taken.length > 0) this.mem.splice(0, this.mem.length, ...this.mem.filter((q) => q.group === undefined))
    return taken
  }

  /** Takes the in-flight deliveries of shared groups not yet PUBREC'd (the session ended: nobody will ack them). */
  takeGroupInFlight(): { delivery: Delivery; group: string; seq: number }[] {
    const out: { delivery: Delivery; group: string; seq: number }[] = []
    for (const [id, f] of this.inFlight)
      if (f.group !== undefined && !f.received && f.seq !== -1) {
        this.inFlight.delete(id)
        out.push({ delivery: f.delivery, group: f.group, seq: f.seq })
      }
    return out
  }

  /** Detached: the window's messages stay in the store and are read again on the next attach. */
  dropWindow(): void {
    this.generation++
    if (this.window.length > 0) this.cursorSeq = this.window[0]!.seq - 1
    this.window = []
    this.more = true
    this.loading = false
  }

  private newPacketId(): number {
    for (let i = 0; i < 65536; i++) {
      const id = this.nextPacketId
      this.nextPacketId = id >= 65535 ? 1 : id + 1
      if (!this.inFlight.has(id)) return id
    }
    throw new BrokerError('BROKER_LIMIT', `mqtt session ${this.clientId}: all 65535 packet ids are in flight`)
  }

  /** PUBACK / PUBCOMP. */
  settle(packetId: number): boolean {
    const f = this.inFlight.get(packetId)
    if (!f || f.seq === -1) return false
    this.inFlight.delete(packetId)
    if (f.seq !== 0) void this.serial(() => this.host.broker.storeWrite(this.removeInFlightOps(f)))
    this.pump()
    return true
  }

  private removeInFlightOps(f: InFlight): StoreOp[] {
    return [{ op: 'remove', destination: keys.inflight(this.clientId), seq: f.seq }]
  }

  /**
   * PUBREC: the message is dropped, the packet id stays until PUBCOMP. Resolves once the in-flight record says so
   * durably (the connection sends PUBREL only then); a repeated PUBREC waits for the same write.
   */
  received(packetId: number): Promise<boolean> {
    const f = this.inFlight.get(packetId)
    if (!f || f.delivery.qos !== 2 || f.seq === -1) return Promise.resolve(false)
    if (f.receivedDurable) return f.receivedDurable
    if (f.received) return Promise.resolve(true) // recovered after a takeover: its record already says so
    f.received = true
    if (f.seq === 0) return (f.receivedDurable = Promise.resolve(true))
    f.receivedDurable = this.serial(async () => {
      const [seq] = await this.host.broker.storeWrite([
        ...this.removeInFlightOps(f),
        {
          op: 'add',
          destination: keys.inflight(this.clientId),
          message: receivedRecord(packetId, this.host.broker.clock.now()),
        },
      ])
      f.seq = seq!
      return true
    })
    return f.receivedDurable
  }
}

/** What a session knows of the connection attached to it. */
export interface SessionAttachment {
  readonly sink: DeliverySink
  readonly brokerSession: BrokerSession
}
