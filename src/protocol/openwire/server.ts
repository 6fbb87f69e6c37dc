/**
 * OpenWireServer: one node:net listener for one `tcp://` / `nio://` OpenWire connector, and handleSocket() for any
 * other duplex (a TLS socket, an auto:// sniffer's hand-off) that should speak OpenWire under the same limits. Owns
 * accepting, `maximumConnections` (an extra socket is closed at once), the temp-destination advisory hub its
 * connections share, and close(): every client gets ShutdownInfo, so ActiveMQ's failover transport reconnects to
 * another broker at once. Command semantics are the connection's; the broker is reached through the core port.
 */
import net from 'node:net'
import type { Clock } from '../../lib/clock.ts'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import { listenOn } from '../../net/index.ts'
import type { Authenticator } from '../../security/index.ts'
import { AdvisoryHub } from './advisories.ts'
import { OpenWireConnection, type OpenWireLimits, type OpenWireSocket } from './connection.ts'
import type { OpenWireCore } from './core-port.ts'

const log = logger('openwire')

export const DEFAULT_OPENWIRE_PORT = 61616
export const DEFAULT_MAXIMUM_CONNECTIONS = 1000

export interface OpenWireServerOptions {
  /** The broker (BrokerCore satisfies the port). */
  core: OpenWireCore
  /** null or absent: credentials are not checked. */
  authenticator?: Authenticator | null
  /** Connector name for logs and errors. */
  name?: string
  /** BrokerInfo.brokerName. */
  brokerName?: string
  host?: string
  /** 0 picks a free port (see address()). */
  port?: number
  maximumConnections?: number
  limits?: Partial<OpenWireLimits>
  clock?: Clock
  providerVersion?: string
  /** Beyond ActiveMQ, off when absent: the shared-store group's client URLs (see OpenWireConnectionOptions). */
  clusterUrls?: (() => string[]) | null
}

export class OpenWireServer {
  private readonly server: net.Server
  private readonly live = new Set<OpenWireConnection>()
  readonly advisories = new AdvisoryHub()
  /** Sockets closed at once because maximumConnections was reached. */
  refused = 0
  private bound: { host: string; port: number } | null = null
  private closing: Promise<void> | null = null

  constructor(private readonly opts: OpenWireServerOptions) {
    this.server = net.createServer({ noDelay: true }, (socket) => this.handleSocket(socket))
  }

  private get where(): string {
    const { host = '0.0.0.0', port = DEFAULT_OPENWIRE_PORT, name = 'openwire' } = this.opts
    return `connector ${name} (tcp://${host}:${port})`
  }

  /** Binds host:port; EADDRINUSE and friends become CONFIG_INVALID naming the connector. */
  async listen(): Promise<void> {
    if (this.closing) throw new BrokerError('BROKER_STOPPED', `${this.where}: listen() after close()`)
    const { host = '0.0.0.0', port = DEFAULT_OPENWIRE_PORT } = this.opts
    this.bound = await listenOn(this.server, { host, port, where: this.where }, (err) =>
      log.error(`${this.where}: ${err.message}`),
    )
  }

  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number } {
    return this.bound ?? { host: this.opts.host ?? '0.0.0.0', port: this.opts.port ?? DEFAULT_OPENWIRE_PORT }
  }

  connections(): number {
    return this.live.size
  }

  /** Serves OpenWire over `socket` (any duplex byte stream) under this listener's limits. */
  handleSocket(socket: OpenWireSocket): void {
    const max = this.opts.maximumConnections ?? DEFAULT_MAXIMUM_CONNECTIONS
    if (this.closing || this.live.size >= max) {
      if (!this.closing) this.refused++
      socket.on('error', () => {})
      socket.destroy()
      return
    }
    const { host, port } = this.address()
    const conn = new OpenWireConnection({
      socket,
      core: this.opts.core,
      authenticator: this.opts.authenticator ?? null,
      advisories: this.advisories,
      brokerName: this.opts.brokerName ?? 'sfbroker',
      brokerUrl: `tcp://${host}:${port}`,
      clock: this.opts.clock,
      limits: this.opts.limits,
      providerVersion: this.opts.providerVersion,
      clusterUrls: this.opts.clusterUrls,
      onClose: (c) => this.live.delete(c),
    })
    this.live.add(conn)
  }

  /** The group changed (a replica came or went): every connected client gets the new list. */
  announceCluster(): void {
    for (const c of this.live) c.announceCluster()
  }

  /** Stops accepting and ends every connection with ShutdownInfo. Idempotent. */
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
