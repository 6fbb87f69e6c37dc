/**
 * MqttServer: one node:net listener for one `mqtt://` connector, and handleSocket() for any other duplex (a WebSocket
 * adapter, a TLS socket) that should speak MQTT through the same limits. Owns accepting, `maximumConnections` (an
 * extra socket is closed at once: before its CONNECT there is no version to answer in), the listener-wide receive
 * budget, and closing every client on close() (MQTT 5 clients get DISCONNECT 0x8B first).
 * Does not own packet semantics (connection.ts and its handlers) or the broker (the MqttCore port).
 */
import net from 'node:net'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { Clock } from '../../lib/clock.ts'
import type { MqttCore } from './core-port.ts'
import type { ServerLimits } from './connect-handler.ts'
import { MqttConnection } from './connection.ts'
import type { MqttSocket } from './connection-options.ts'
import { ReceiveBudget } from './receive-budget.ts'

const log = logger('mqtt')

/** 128 MiB: packets being handled on one listener, all connections together. */
export const DEFAULT_RECEIVE_BYTES_MAX = 128 * 1024 * 1024
export const DEFAULT_MAXIMUM_CONNECTIONS = 1000

export interface MqttServerOptions {
  core: MqttCore
  /** Connector name for messages and logs. */
  name?: string
  host?: string
  /** 0 picks a free port (see address()). */
  port?: number
  maximumConnections?: number
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
  readonly receiveBudget: ReceiveBudget
  /** Sockets closed at once because maximumConnections was reached. */
  refused = 0
  private bound: { host: string; port: number } | null = null
  private closing: Promise<void> | null = null

  constructor(private readonly opts: MqttServerOptions) {
    this.receiveBudget = new ReceiveBudget(opts.receiveBytesMax ?? DEFAULT_RECEIVE_BYTES_MAX)
    this.server = net.createServer({ noDelay: true }, (socket) => this.handleSocket(socket))
  }

  private get where(): string {
    const { host = '0.0.0.0', port = 1883, name = 'mqtt' } = this.opts
    return `connector ${name} (mqtt://${host}:${port})`
  }

  /** Binds host:port; EADDRINUSE and friends become CONFIG_INVALID naming the connector. */
  listen(): Promise<void> {
    if (this.closing) return Promise.reject(new BrokerError('BROKER_STOPPED', `${this.where}: listen() after close()`))
    const { host = '0.0.0.0', port = 1883 } = this.opts
    return new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        this.server.off('listening', onListening)
        reject(
          new BrokerError('CONFIG_INVALID', `${this.where}: cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
            details: { code: err.code },
          }),
        )
      }
      const onListening = () => {
        this.server.off('error', onError)
        const a = this.server.address()
        if (a && typeof a === 'object') this.bound = { host: a.address, port: a.port }
        this.server.on('error', (err) => log.error(`${this.where}: ${err.message}`))
        resolve()
      }
      this.server.once('error', onError)
      this.server.once('listening', onListening)
      this.server.listen({ host, port, exclusive: true })
    })
  }

  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number } {
    return this.bound ?? { host: this.opts.host ?? '0.0.0.0', port: this.opts.port ?? 1883 }
  }

  connections(): number {
    return this.live.size
  }

  /** Serves MQTT over `socket` (any duplex byte stream) under this listener's limits. */
  handleSocket(socket: MqttSocket): void {
    const max = this.opts.maximumConnections ?? DEFAULT_MAXIMUM_CONNECTIONS
    if (this.closing || this.live.size >= max) {
      if (!this.closing) this.refused++
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    const conn = new MqttConnection({
      socket,
      core: this.opts.core,
      clock: this.opts.clock,
      limits: this.opts.limits,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      outBytesMax: this.opts.outBytesMax,
      closeLingerMs: this.opts.closeLingerMs,
      receiveBudget: this.receiveBudget,
      onClose: (c) => this.live.delete(c),
    })
    this.live.add(conn)
  }

  /** Stops accepting and ends every connection (MQTT 5: DISCONNECT 0x8B). Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = new Promise<void>((resolve) => {
      for (const c of [...this.live]) c.shutdown()
      if (!this.server.listening) return resolve()
      this.server.close(() => resolve())
    })
    return this.closing
  }
}
