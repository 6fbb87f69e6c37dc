/**
 * MqttServer: one node:net listener for one `mqtt://` connector, and handleSocket() for any other duplex (a WebSocket
 * adapter, a TLS socket) that should speak MQTT through the same limits. Owns accepting, the listener-wide receive
 * budget, and closing every client on close() (MQTT 5 clients get DISCONNECT 0x8B first).
 *
 * Admission is STOMP's (protocol/stomp/admission.ts, the reasoning is there): `maximumConnections`,
 * `maximumConnectionsPerAddress`, `maximumPendingConnects` and `maximumPendingConnectsPerAddress`; when a pre-CONNECT
 * budget is full the oldest silent socket is shed. A socket refused because connected clients fill a limit gets a
 * CONNACK saying so when its CONNECT arrives within refuseConnectTimeoutMs (MQTT 5: 0x89 server busy for the
 * connector, 0x97 quota exceeded for its address; 3.1.1: 0x03 server unavailable), at most refusingMax at once;
 * beyond that, or after the bound, it is closed without an answer.
 * Does not own packet semantics (connection.ts and its handlers) or the broker (the MqttCore port).
 */
import net from 'node:net'
import { defaultFairness } from '../../config/index.ts'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
// Admission is protocol-neutral bookkeeping; it lives beside the STOMP server, its first user.
import { Admission, RefusalLog, normalizeAddress } from '../stomp/admission.ts'
import type { MqttCore } from './core-port.ts'
import type { ServerLimits } from './connect-handler.ts'
import { MqttConnection } from './connection.ts'
import type { MqttSocket } from './connection-options.ts'
import { ReceiveBudget } from './receive-budget.ts'
import { MqttProtocolError, RC } from './reason-codes.ts'
import { listenOn } from '../../net/index.ts'

const log = logger('mqtt')

/** 128 MiB: packets being handled on one listener, all connections together. */
export const DEFAULT_RECEIVE_BYTES_MAX = 128 * 1024 * 1024
export const DEFAULT_MAXIMUM_CONNECTIONS = 1000
/** How long a refused socket may take to send the CONNECT its refusal answers. */
export const DEFAULT_REFUSE_CONNECT_TIMEOUT_MS = 2_000
/** Refused sockets waiting for their CONNECT at once; beyond it a refused socket is closed at once. */
export const DEFAULT_REFUSING_MAX = 64

export interface MqttServerOptions {
  core: MqttCore
  /** Connector name for messages and logs. */
  name?: string
  host?: string
  /** 0 picks a free port (see address()). */
  port?: number
  maximumConnections?: number
  /** Sockets from one remote IP (default: maximumConnections). */
  maximumConnectionsPerAddress?: number
  /** Sockets that have not completed CONNECT (default: a fraction of maximumConnections, see defaultFairness). */
  maximumPendingConnects?: number
  /** The same per remote IP (default: a fraction of maximumPendingConnects). */
  maximumPendingConnectsPerAddress?: number
  refuseConnectTimeoutMs?: number
  refusingMax?: number
  receiveBytesMax?: number
  limits?: Partial<ServerLimits>
  connectTimeoutMs?: number
  outBytesMax?: number
  closeLingerMs?: number
  clock?: Clock
}

export class MqttServer {
  private readonly server: net.Server
  private readonly live = new Set<MqttConnection>()
  /** Refused sockets waiting for their CONNECT to be answered with the refusal. */
  private readonly refusing = new Set<MqttConnection>()
  readonly receiveBudget: ReceiveBudget
  private readonly admission: Admission<MqttSocket>
  private readonly refusals: RefusalLog
  /** Sockets refused because a connection limit was full of connected clients. */
  refused = 0
  /** Silent sockets shed to make room under a pre-CONNECT budget. */
  shed = 0
  private bound: { host: string; port: number } | null = null
  private closing: Promise<void> | null = null

  constructor(private readonly opts: MqttServerOptions) {
    this.receiveBudget = new ReceiveBudget(opts.receiveBytesMax ?? DEFAULT_RECEIVE_BYTES_MAX)
    const max = opts.maximumConnections ?? DEFAULT_MAXIMUM_CONNECTIONS
    const d = defaultFairness(max)
    this.admission = new Admission({
      maximumConnections: max,
      maximumConnectionsPerAddress: opts.maximumConnectionsPerAddress ?? d.maximumConnectionsPerAddress,
      maximumPendingConnects: opts.maximumPendingConnects ?? d.maximumPendingConnects,
      maximumPendingConnectsPerAddress: opts.maximumPendingConnectsPerAddress ?? d.maximumPendingConnectsPerAddress,
    })
    this.refusals = new RefusalLog(
      (line) => log.warn(line),
      `connector ${opts.name ?? 'mqtt'}: sockets refused or shed`,
      opts.clock ?? systemClock,
    )
    this.server = net.createServer({ noDelay: true }, (socket) => this.handleSocket(socket))
  }

  private get where(): string {
    const { host = '0.0.0.0', port = 1883, name = 'mqtt' } = this.opts
    return `connector ${name} (mqtt://${host}:${port})`
  }

  /** Binds host:port; EADDRINUSE and friends become CONFIG_INVALID naming the connector. */
  async listen(): Promise<void> {
    if (this.closing) throw new BrokerError('BROKER_STOPPED', `${this.where}: listen() after close()`)
    const { host = '0.0.0.0', port = 1883 } = this.opts
    this.bound = await listenOn(this.server, { host, port, where: this.where }, (err) =>
      log.error(`${this.where}: ${err.message}`),
    )
  }

  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number } {
    return this.bound ?? { host: this.opts.host ?? '0.0.0.0', port: this.opts.port ?? 1883 }
  }

  connections(): number {
    return this.live.size
  }

  /** Sockets that have not completed CONNECT. */
  pendingConnections(): number {
    return this.admission.pendingTotal
  }

  /** Serves MQTT over `socket` (any duplex byte stream) under this listener's limits. */
  handleSocket(socket: MqttSocket): void {
    if (this.closing) {
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    const address = normalizeAddress(socket.remoteAddress)
    const verdict = this.admission.admit(address, socket)
    for (const old of verdict.shed) {
      this.shed++
      this.refusals.note('silent sockets shed (pre-CONNECT budget full, oldest first)')
      old.destroy()
    }
    if (!verdict.ok) {
      this.refused++
      const L = this.admission.limits
      // A per-address limit equal to the connector's (its default) is no quota of its own: the server is busy.
      const perAddress =
        verdict.reason === 'maximumConnectionsPerAddress' && L.maximumConnectionsPerAddress < L.maximumConnections
      const limit = perAddress
        ? this.admission.limits.maximumConnectionsPerAddress
        : this.admission.limits.maximumConnections
      this.refusals.note(`refused by ${verdict.reason} ${limit}`)
      this.refuse(
        socket,
        perAddress
          ? new MqttProtocolError(
              RC.quotaExceeded,
              `maximumConnectionsPerAddress ${limit} reached for ${address}, try again later`,
            )
          : new MqttProtocolError(RC.serverBusy, `maximumConnections ${limit} reached, try again later`),
      )
      return
    }
    const conn = new MqttConnection({
      ...this.connectionOptions(socket),
      onConnected: () => this.admission.connected(socket),
      onClose: (c) => {
        this.live.delete(c)
        this.admission.release(socket)
      },
    })
    this.live.add(conn)
  }

  /** A refused socket: its CONNECT, if it comes soon, gets the refusal's CONNACK; else it is closed. */
  private refuse(socket: MqttSocket, why: MqttProtocolError): void {
    if (this.refusing.size >= (this.opts.refusingMax ?? DEFAULT_REFUSING_MAX)) {
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    const conn = new MqttConnection({
      ...this.connectionOptions(socket),
      connectTimeoutMs: this.opts.refuseConnectTimeoutMs ?? DEFAULT_REFUSE_CONNECT_TIMEOUT_MS,
      refuse: why,
      onClose: (c) => this.refusing.delete(c),
    })
    this.refusing.add(conn)
  }

  private connectionOptions(socket: MqttSocket) {
    return {
      socket,
      core: this.opts.core,
      clock: this.opts.clock,
      limits: this.opts.limits,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      outBytesMax: this.opts.outBytesMax,
      closeLingerMs: this.opts.closeLingerMs,
      receiveBudget: this.receiveBudget,
    }
  }

  /** Stops accepting and ends every connection (MQTT 5: DISCONNECT 0x8B). Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = new Promise<void>((resolve) => {
      for (const c of [...this.live, ...this.refusing]) c.shutdown()
      this.refusals.close()
      if (!this.server.listening) return resolve()
      this.server.close(() => resolve())
    })
    return this.closing
  }
}
