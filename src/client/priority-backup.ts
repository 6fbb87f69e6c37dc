/**
 * PriorityBackup (ActiveMQ's priorityBackup): while connected to a broker that is not in priorityURIs, keep trying
 * the priority brokers in the background (delays from initialReconnectDelay, growing like reconnects up to
 * maxReconnectDelay); when one accepts, hand the new link to the host, which moves there.
 * Owns: the background timer (through the injected Clock). It does not restore anything on the new link nor close
 * the old one: the host (client.ts) does.
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { ClientTransport } from './client-transport.ts'
import type { BrokerUri, Endpoint } from './failover-uri.ts'

const log = logger('client')

/** What priorityBackup needs from the client. */
export interface PriorityHost {
  /** The current link, if any. */
  current(): ClientTransport | null
  /** The client is connected (not reconnecting, closed or failed). */
  isConnected(): boolean
  open(ep: Endpoint): Promise<ClientTransport>
  /** A priority broker at `uri` accepted `link`: leave `old` for it. */
  moveTo(old: ClientTransport, link: ClientTransport, uri: string): void
}

export class PriorityBackup {
  private timer: unknown

  constructor(
    private readonly uri: BrokerUri,
    private readonly clock: Clock,
    private readonly host: PriorityHost,
  ) {}

  /** Try the priority brokers after `delayMs`, if enabled, connected elsewhere and not already scheduled. */
  schedule(delayMs: number): void {
    const o = this.uri.options
    const conn = this.host.current()
    if (!o.priorityBackup || !conn || o.priorityURIs.includes(conn.endpoint.uri) || this.timer !== undefined) return
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined
      void this.tryPriority(delayMs)
    }, delayMs)
  }

  clear(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
  }

  private async tryPriority(delayMs: number): Promise<void> {
    const o = this.uri.options
    for (const uri of o.priorityURIs) {
      const ep = this.uri.endpoints.find((e) => e.uri === uri)
      if (!ep) continue
      let conn: ClientTransport
      try {
        conn = await this.host.open(ep)
      } catch (e) {
        log.debug(`priority broker ${uri} not reachable: ${(e as Error).message}`)
        continue
      }
      const old = this.host.current()
      if (!this.host.isConnected() || !old) {
        conn.destroy()
        return
      }
      this.host.moveTo(old, conn, uri)
      return
    }
    const next = o.useExponentialBackOff ? Math.min(o.maxReconnectDelay, delayMs * o.reconnectDelayExponent) : delayMs
    this.schedule(Math.max(1, next))
  }
}
