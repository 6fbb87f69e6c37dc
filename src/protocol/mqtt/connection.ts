/**
 * MqttConnection: one client over any duplex byte stream (TCP, TLS, a WebSocket adapter), from CONNECT to close.
 * Owns framing (packet-framer.ts, then mqtt-packet's parser for the version CONNECT chose), the order of work and
 * answers, keep-alive (1.5 × the negotiated interval, §3.1.2.10), the receive budget, and every way a connection
 * ends: DISCONNECT from the client, a violation (MQTT 5: CONNACK or DISCONNECT with its reason code first), keep-alive
 * expiry, takeover by a newer connection of the same client id, server shutdown. Nothing thrown by a packet escapes:
 * it costs this connection only. Packet semantics live in the handlers (connect-handler, publish-in, delivery-out,
 * subscribe-handler); the broker is reached only through the MqttCore port.
 */
import { generate, type Packet } from 'mqtt-packet'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { MqttCore, MqttSession } from './core-port.ts'
import { MqttProtocolError, RC, disconnectCode, reasonOfCoreError } from './reason-codes.ts'
import { PacketDecoder } from './packet-decoder.ts'
import { InboundFlow } from './inbound-flow.ts'
import { acceptConnack, planConnect, refuseConnack, type ConnectPlan, type ServerLimits } from './connect-handler.ts'
import { OutboundPublisher } from './delivery-out.ts'
import { InboundPublisher } from './publish-in.ts'
import { handleSubscribe, handleUnsubscribe } from './subscribe-handler.ts'
import {
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_OUT_BYTES_MAX,
  DEFAULT_PENDING_PACKETS_MAX,
  DEFAULT_SERVER_LIMITS,
  type MqttConnectionOptions,
  type MqttSocket,
} from './connection-options.ts'

export type { MqttConnectionOptions, MqttSocket } from './connection-options.ts'

/** Packets that carry a packet identifier, 1 to 65535: never 0 nor missing (PUBLISH too when its QoS is above 0). */
const PACKET_ID_REQUIRED: ReadonlySet<string> = new Set([
  'subscribe',
  'unsubscribe',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
])

const log = logger('mqtt')

type Phase = 'awaiting-connect' | 'connecting' | 'connected' | 'closed'

let nextId = 1

export class MqttConnection {
  readonly id = nextId++
  readonly remoteAddress: string
  private readonly socket: MqttSocket
  private readonly core: MqttCore
  readonly clock: Clock
  private readonly limits: ServerLimits
  private readonly decoder: PacketDecoder
  private readonly flow: InboundFlow
  private phase: Phase = 'awaiting-connect'
  version: 3 | 4 | 5 = 4
  private plan: ConnectPlan | null = null
  private sessionRef: MqttSession | null = null
  private outbound: OutboundPublisher | null = null
  private inbound: InboundPublisher | null = null
  problemInfo = true
  /** Packets framed but not yet started (a CONNECT, SUBSCRIBE, UNSUBSCRIBE or DISCONNECT is being worked on). */
  private readonly queue: { packet: Packet; bytes: number }[] = []
  private barrier = false
  /** Answers in arrival order: each waits for the one before. */
  private answers: Promise<void> = Promise.resolve()
  /** Received packets whose answers are not all written yet (pendingPacketsMax). */
  private answersPending = 0
  private readonly connectTimer: unknown
  private keepAliveTimer: unknown = undefined
  private keepAliveMs = 0
  /** Outbound writes waiting for a SUBACK (see subscribe()). */
  private held: (() => void)[] | null = null
  private closeReason = ''

  constructor(private readonly opts: MqttConnectionOptions) {
    this.socket = opts.socket
    this.core = opts.core
    this.clock = opts.clock ?? systemClock
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...opts.limits }
    this.decoder = new PacketDecoder(this.limits.packetBytesMax)
    this.flow = new InboundFlow(opts.socket, opts.receiveBudget, opts.pendingPacketsMax ?? DEFAULT_PENDING_PACKETS_MAX)
    this.remoteAddress = `${opts.socket.remoteAddress ?? '?'}:${opts.socket.remotePort ?? '?'}`
    this.connectTimer = this.clock.setTimeout(
      () => this.fail(new MqttProtocolError(RC.protocolError, 'no CONNECT within the connect timeout')),
      opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    )
    this.socket.on('data', (chunk) => this.onData(chunk))
    this.socket.on('error', (err) => log.debug(`mqtt ${this.id} ${this.remoteAddress}: socket error: ${err.message}`))
    this.socket.on('close', () => this.onSocketClosed())
  }

  get clientId(): string | undefined {
    return this.plan?.request.clientId
  }

  get session(): MqttSession {
    if (!this.sessionRef) throw new Error('assertion failed: session used before CONNECT completed')
    return this.sessionRef
  }

  /** Why the connection closed (empty while open); for logs and tests. */
  get closedBecause(): string {
    return this.closeReason
  }

  /** Server shutdown: MQTT 5 clients get DISCONNECT 0x8B; the session closes as on a lost connection. */
  shutdown(): void {
    this.fail(new MqttProtocolError(RC.serverShuttingDown, 'the server is shutting down'))
  }

  /** Read through a method: the phase changes under callbacks, which flow analysis cannot see. */
  private isClosed(): boolean {
    return this.phase === 'closed'
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return
    try {
      // A bad packet fails the connection; the good ones before it are dropped with the rest of the queue.
      for (const d of this.decoder.push(chunk)) this.queue.push(d)
    } catch (e) {
      this.fail(e)
      return
    }
    this.pump()
  }

  /** Starts queued packets in order; a barrier packet holds the rest until its work is done. */
  private pump(): void {
    while (!this.barrier && this.queue.length > 0 && this.phase !== 'closed') {
      const head = this.queue[0]!
      if (!this.flow.charge(head.bytes, () => this.pump())) break
      this.queue.shift()
      this.touchKeepAlive()
      try {
        const barrier = this.handle(head.packet)
        if (barrier) {
          this.barrier = true
          barrier.then(
            () => {
              this.barrier = false
              this.pump()
            },
            (e) => this.fail(e),
          )
        }
      } catch (e) {
        this.fail(e)
      } finally {
        this.answer(Promise.resolve(null), head.bytes)
      }
    }
    this.flowControl()
  }

  private flowControl(): void {
    this.flow.update(this.queue.length, this.answersPending)
  }

  /** Dispatch; returns a promise when later packets must wait for this one. */
  private handle(p: Packet): Promise<unknown> | void {
    if (this.phase === 'awaiting-connect') {
      if (p.cmd !== 'connect') throw new MqttProtocolError(RC.protocolError, `${p.cmd.toUpperCase()} before CONNECT`)
      if (this.opts.refuse) {
        // A socket over a connection limit: its CONNACK says why, in the version the client speaks.
        this.version = (p.protocolVersion ?? 4) as 3 | 4 | 5
        throw this.opts.refuse
      }
      return this.connect(p)
    }
    if (PACKET_ID_REQUIRED.has(p.cmd) || (p.cmd === 'publish' && p.qos > 0)) {
      // mqtt-packet reads 16 bits, or gives -1 when the packet is too short to hold them (an answer to it would be
      // encoded malformed): below 1 is the only way out of range.
      const id = (p as { messageId?: number }).messageId ?? -1
      if (id < 1)
        throw new MqttProtocolError(
          RC.protocolError,
          `${p.cmd.toUpperCase()}: ${id === 0 ? 'packet identifier 0' : 'no packet identifier'}, expected 1 to 65535 (MQTT 5 §2.2.1, 3.1.1 §2.3.1)`,
        )
    }
    switch (p.cmd) {
      case 'connect':
        throw new MqttProtocolError(RC.protocolError, 'a second CONNECT')
      case 'publish':
        return this.inbound!.publish(p)
      case 'pubrel':
        return this.inbound!.pubrel(p)
      case 'puback':
        return this.outbound!.puback(p.messageId ?? 0)
      case 'pubrec':
        return this.outbound!.pubrec(p.messageId ?? 0, p.reasonCode)
      case 'pubcomp':
        return this.outbound!.pubcomp(p.messageId ?? 0)
      case 'subscribe':
        return this.subscribe(p)
      case 'unsubscribe':
        return this.answerAndWait(handleUnsubscribe(this, p))
      case 'pingreq':
        return this.answer(Promise.resolve({ cmd: 'pingresp' }))
      case 'disconnect':
        return this.disconnect(p.reasonCode ?? 0, p.properties?.sessionExpiryInterval)
      case 'auth':
        // §4.12: AUTH without an authentication method in CONNECT (which this server refuses) is a protocol error.
        throw new MqttProtocolError(RC.protocolError, 'AUTH: enhanced authentication is not supported')
      default:
        throw new MqttProtocolError(RC.protocolError, `${String(p.cmd).toUpperCase()} is sent by servers, not clients`)
    }
  }

  private async connect(p: Packet & { cmd: 'connect' }): Promise<void> {
    this.version = (p.protocolVersion ?? 4) as 3 | 4 | 5
    this.phase = 'connecting'
    const plan = planConnect(p, this.limits, this.remoteAddress, this.clock)
    this.plan = plan
    this.problemInfo = plan.problemInfo
    const outbound = new OutboundPublisher(this.outboundPort(), {
      clientPacketBytesMax: plan.clientPacketBytesMax,
      clientTopicAliasMaximum: plan.clientTopicAliasMaximum,
      outBytesMax: this.opts.outBytesMax ?? DEFAULT_OUT_BYTES_MAX,
    })
    const { sessionPresent, session } = await this.core.open({
      ...plan.request,
      sink: {
        deliver: (d) => this.phase === 'connected' && this.run(() => outbound.deliver(d)),
        release: (id) => this.phase === 'connected' && this.run(() => outbound.release(id)),
        takenOver: () =>
          this.fail(new MqttProtocolError(RC.sessionTakenOver, 'another connection took this client id')),
      },
    })
    if (this.isClosed()) {
      await session.close({ publishWill: true })
      return
    }
    this.sessionRef = session
    outbound.session = session
    this.outbound = outbound
    this.inbound = new InboundPublisher(this, this.limits.receiveMaximum, this.limits.topicAliasMaximum)
    this.clock.clearTimeout(this.connectTimer)
    this.phase = 'connected'
    this.keepAliveMs = plan.keepAliveSec * 1500
    this.write(acceptConnack(plan, sessionPresent, this.limits))
    this.touchKeepAlive()
    this.opts.onConnected?.(this)
    session.start()
  }

  /** DISCONNECT from the client: 0x04 asks for the will, anything else discards it (§3.14.2.1). */
  private async disconnect(reason: number, sessionExpirySec: number | undefined): Promise<void> {
    if (sessionExpirySec !== undefined && this.plan?.request.sessionExpirySec === 0 && sessionExpirySec !== 0)
      throw new MqttProtocolError(RC.protocolError, 'DISCONNECT: session expiry set after CONNECT had 0 (§3.14.2.2.2)')
    await this.answers
    const session = this.sessionRef
    this.closeSocket(`client DISCONNECT (reason 0x${reason.toString(16)})`)
    await session?.close({ publishWill: reason === RC.disconnectWithWill, sessionExpirySec })
  }

  /**
   * SUBSCRIBE: deliveries the core makes meanwhile (retained messages among them) are held until the SUBACK is
   * written, so a client sees SUBACK first. The hold is bounded by the core's in-flight window for QoS 1/2 and by
   * the retained messages matching one SUBSCRIBE for QoS 0.
   */
  private subscribe(p: Packet & { cmd: 'subscribe' }): Promise<void> {
    const held: (() => void)[] = []
    this.held = held
    return new Promise<void>((resolve) =>
      this.answer(handleSubscribe(this, p), 0, () => {
        this.held = null
        for (const f of held) f()
        resolve()
      }),
    )
  }

  /** Runs an outbound write now, or after the SUBACK being prepared. */
  private run(f: () => void): void {
    if (this.held) this.held.push(f)
    else f()
  }

  private answerAndWait(p: Promise<Packet | null>): Promise<void> {
    this.answer(p)
    return p.then(() => undefined)
  }

  /**
   * Queues an answer behind earlier ones; `bytes` are released from the receive budget once it is written. Each
   * received packet queues one entry with its bytes after its handler's answers: those entries are what
   * pendingPacketsMax counts (one per packet, however many answers it has).
   */
  answer(p: Promise<Packet | null>, bytes = 0, after?: () => void): void {
    const counted = bytes > 0
    if (counted) this.answersPending++
    const settled = p.then(
      (v) => ({ ok: true as const, v }),
      (e) => ({ ok: false as const, e }),
    )
    this.answers = this.answers.then(async () => {
      const r = await settled
      if (counted) this.answersPending--
      if (bytes > 0) this.flow.release(bytes)
      try {
        if (this.phase === 'closed') return after?.()
        if (!r.ok) this.fail(r.e)
        else if (r.v) this.write(r.v)
        after?.()
        this.flowControl()
      } catch (e) {
        // A throw here would reject the chain and silently drop every later answer: end this connection instead.
        this.fail(e)
      }
    })
  }

  /** Writes one answer; one mqtt-packet cannot encode ends this connection (never the answer chain). */
  write(p: Packet): void {
    if (this.phase === 'closed') return
    let bytes: Buffer
    try {
      bytes = this.encode(p)
    } catch (e) {
      this.fail(new Error(`cannot encode ${p.cmd.toUpperCase()}: ${(e as Error).message}`))
      return
    }
    this.socket.write(bytes)
  }

  private encode(p: Packet): Buffer {
    return generate(p, { protocolVersion: this.version })
  }

  private outboundPort() {
    return {
      version: this.version,
      clock: this.clock,
      encode: (p: Packet) => this.encode(p),
      writeBytes: (b: Buffer) => {
        if (this.phase !== 'closed') this.socket.write(b)
      },
      backlogBytes: () => this.socket.writableLength ?? 0,
    }
  }

  private touchKeepAlive(): void {
    if (this.keepAliveMs === 0 || this.phase !== 'connected') return
    if (this.keepAliveTimer !== undefined) this.clock.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = this.clock.setTimeout(
      () =>
        this.fail(
          new MqttProtocolError(RC.keepAliveTimeout, `no packet within 1.5 × keep-alive (${this.keepAliveMs} ms)`),
        ),
      this.keepAliveMs,
    )
  }

  /**
   * Ends the connection for `e`: MQTT 5 gets CONNACK (before CONNECT completed) or DISCONNECT with the reason code;
   * 3.1.1 gets a CONNACK return code where one exists, else just the close. The session closes as on a lost
   * connection (the will is published), except after a takeover, where the core already moved it.
   */
  private fail(e: unknown): void {
    if (this.phase === 'closed') return
    const reason = reasonOfCoreError(e)
    const message = e instanceof Error ? e.message : String(e)
    if (!(e instanceof MqttProtocolError) && reason === RC.unspecified)
      log.warn(`mqtt ${this.id} ${this.remoteAddress}: unexpected failure: ${message}`)
    if (this.phase !== 'connected') {
      const connack = refuseConnack(this.version, reason, message)
      if (connack) this.socket.write(this.encode(connack))
    } else if (this.version === 5) {
      // DISCONNECT may carry its reason string whatever request problem information said (§3.1.2.11.7).
      this.socket.write(
        this.encode({ cmd: 'disconnect', reasonCode: disconnectCode(reason), properties: { reasonString: message } }),
      )
    }
    const session = this.sessionRef
    this.closeSocket(`0x${reason.toString(16)} ${message}`)
    if (session && reason !== RC.sessionTakenOver)
      session.close({ publishWill: true }).catch((err) => log.warn(`mqtt ${this.id}: session close: ${err}`))
  }

  private closeSocket(why: string): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.closeReason = why
    log.debug(`mqtt ${this.id} ${this.remoteAddress} ${this.clientId ?? ''}: closing: ${why}`)
    this.clock.clearTimeout(this.connectTimer)
    if (this.keepAliveTimer !== undefined) this.clock.clearTimeout(this.keepAliveTimer)
    this.flow.cancelWait()
    this.queue.length = 0
    this.socket.end()
    const t = this.clock.setTimeout(() => this.socket.destroy(), this.opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS)
    ;(t as { unref?: () => void })?.unref?.()
  }

  private onSocketClosed(): void {
    const wasOpen = this.phase !== 'closed'
    const session = this.sessionRef
    if (wasOpen) this.closeSocket('socket closed without DISCONNECT')
    this.flow.close()
    if (wasOpen && session)
      session.close({ publishWill: true }).catch((err) => log.warn(`mqtt ${this.id}: session close: ${err}`))
    this.opts.onClose?.(this)
  }
}
