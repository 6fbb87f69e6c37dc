/**
 * ConnectionGate: the socket count of one MQTT or WebSocket connector, by remote address, so that one host cannot
 * take every slot (`maximumConnections`, `transport.maximumConnectionsPerAddress`). Pure bookkeeping keyed by the
 * accepted TCP socket; the connector closes what is refused. Refusals are logged at most once per interval, with
 * counts (a flood must not become a flood of log lines).
 * STOMP connectors keep their own admission (protocol/stomp/admission.ts), which also sheds silent sockets; MQTT
 * bounds silent sockets by its CONNECT timeout, a WebSocket connector by its pending-upgrade limit and timeout.
 */
import type net from 'node:net'
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'

const log = logger('node')

/** At most one refusal line per connector per this interval. */
export const GATE_REFUSAL_LOG_INTERVAL_MS = 10_000

export interface GateLimits {
  maximumConnections: number
  maximumConnectionsPerAddress: number
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack listener) is the address 1.2.3.4. */
export function clientAddress(a: string | undefined): string {
  if (!a) return '?'
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

export class ConnectionGate {
  private readonly byAddress = new Map<string, number>()
  private readonly held = new Map<net.Socket, string>()
  private refusedSinceLog = 0
  private lastReason = ''
  private logTimer: unknown = null
  /** Sockets refused since the connector opened. */
  refused = 0

  constructor(
    private readonly where: string,
    readonly limits: GateLimits,
    private readonly clock: Clock,
  ) {}

  get total(): number {
    return this.held.size
  }

  /**
   * Take a slot for `raw` until it closes; null when admitted, else the refusal message (naming the limit). The
   * slot is given back on the socket's 'close', whoever closes it.
   */
  admit(raw: net.Socket): string | null {
    const address = clientAddress(raw.remoteAddress)
    const perAddress = this.byAddress.get(address) ?? 0
    let why: string | null = null
    if (this.held.size >= this.limits.maximumConnections)
      why = `maximumConnections ${this.limits.maximumConnections} reached, try again later`
    else if (perAddress >= this.limits.maximumConnectionsPerAddress)
      why = `transport.maximumConnectionsPerAddress ${this.limits.maximumConnectionsPerAddress} reached for ${address}, try again later`
    if (why !== null) {
      this.noteRefused(why)
      return `${this.where}: ${why}`
    }
    this.held.set(raw, address)
    this.byAddress.set(address, perAddress + 1)
    raw.once('close', () => this.release(raw))
    return null
  }

  /** Stop the log timer; refusals counted since the last line are logged now. */
  close(): void {
    if (this.logTimer !== null) this.clock.clearTimeout(this.logTimer)
    this.logTimer = null
    this.flush(' before close')
  }

  private release(raw: net.Socket): void {
    const address = this.held.get(raw)
    if (address === undefined) return
    this.held.delete(raw)
    const n = (this.byAddress.get(address) ?? 1) - 1
    if (n <= 0) this.byAddress.delete(address)
    else this.byAddress.set(address, n)
  }

  /** Count (and log, rate-limited) a socket the connector refused after admission, e.g. one speaking no protocol. */
  noteRefused(why: string): void {
    this.refused++
    this.refusedSinceLog++
    this.lastReason = why
    if (this.logTimer !== null) return
    this.flush('')
    this.logTimer = this.clock.setTimeout(() => {
      this.logTimer = null
      this.flush(` in the last ${GATE_REFUSAL_LOG_INTERVAL_MS / 1000} s`)
    }, GATE_REFUSAL_LOG_INTERVAL_MS)
    ;(this.logTimer as { unref?: () => void } | null)?.unref?.()
  }

  private flush(when: string): void {
    if (this.refusedSinceLog === 0) return
    log.warn(
      `${this.where}: ${this.refusedSinceLog} socket(s) refused${when}, last: ${this.lastReason} (at most one such line per ${GATE_REFUSAL_LOG_INTERVAL_MS / 1000} s)`,
    )
    this.refusedSinceLog = 0
  }
}
