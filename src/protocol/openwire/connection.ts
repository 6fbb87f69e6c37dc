/**
 * OpenWireConnection: one ActiveMQ client over any duplex byte stream, from the WireFormatInfo handshake to close.
 * Owns framing (FrameDecoder), negotiation (loose, uncached, stack traces off unless asked and offered), the
 * inactivity monitor (nothing read for the negotiated MaxInactivityDuration closes the connection; a KeepAliveInfo
 * is written when nothing was written for a third of it), answers (Response / ExceptionResponse with the Java
 * exception class), and every way a connection ends: ShutdownInfo or RemoveInfo of the connection from the client,
 * bad input (ConnectionError first, then close), inactivity, server shutdown (ShutdownInfo, so a failover client
 * reconnects elsewhere at once). Commands are started in arrival order; their answers go out when each is done.
 * Command semantics live in command-handler.ts and consumers.ts; the broker is reached through the core port.
 */
import { systemClock, type Clock } from '../../lib/clock.ts'
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import { runtimeDescription } from '../../lib/runtime.ts'
import type { Authenticator } from '../../security/index.ts'
import type { AdvisoryHub } from './advisories.ts'
import type * as W from './commands.ts'
import { CommandHandler } from './command-handler.ts'
import type { OpenWireCore } from './core-port.ts'
import { javaException } from './exceptions.ts'
import { FrameDecoder, type FrameOptions, initialFrameOptions } from './frame-codec.ts'
import { FrameWriter } from './frame-writer.ts'
import {
  brokerWireFormatInfo,
  type BrokerOffer,
  type NegotiatedFormat,
  negotiate,
  readWireFormatSettings,
} from './wire-format.ts'

import type { ByteSocket } from '../../net/index.ts'
const log = logger('openwire')

/** What a connection needs of its byte stream (net/byte-socket.ts). */
export type OpenWireSocket = ByteSocket

export interface OpenWireLimits {
  /** Largest frame accepted or written (bytes after the size prefix); offered as MaxFrameSize. */
  maxFrameSize: number
  /** Offered MaxInactivityDuration; the smaller of both sides is used, 0 turns the monitor off. */
  maxInactivityDurationMs: number
  maxInactivityDurationInitialDelayMs: number
  /** Largest inflated (compressed) message body accepted. */
  bodyBytesMax: number
  /** Commands started whose answer is not yet written: above it the socket stops reading. */
  pendingCommandsMax: number
  /** Socket backlog above which the broker stops dispatching to this connection. */
  outBytesMax: number
  /** Time allowed for the client's WireFormatInfo. */
  handshakeTimeoutMs: number
}

export const DEFAULT_OPENWIRE_LIMITS: OpenWireLimits = {
  maxFrameSize: 100 * 1024 * 1024,
  maxInactivityDurationMs: 30_000,
  maxInactivityDurationInitialDelayMs: 10_000,
  bodyBytesMax: 100 * 1024 * 1024,
  pendingCommandsMax: 1024,
  outBytesMax: 8 * 1024 * 1024,
  handshakeTimeoutMs: 30_000,
}

export interface OpenWireConnectionOptions {
  socket: OpenWireSocket
  core: OpenWireCore
  /** null: no authentication plugin (credentials are not checked). */
  authenticator: Authenticator | null
  advisories: AdvisoryHub
  brokerName: string
  /** BrokerInfo.brokerUrl: the connector URL clients see. */
  brokerUrl: string
  clock?: Clock
  limits?: Partial<OpenWireLimits>
  providerVersion?: string
  /**
   * Beyond ActiveMQ (off when absent): the client URLs of every broker of the shared-store group. They go into
   * BrokerInfo.peerBrokerInfos and, after ConnectionInfo, into a ConnectionControl's connectedBrokers, which
   * ActiveMQ's failover transport adds to its list when the client sets updateURIsSupported=true.
   */
  clusterUrls?: (() => string[]) | null
  onClose?: (c: OpenWireConnection) => void
}

/** How long a closing connection's socket may take to flush its last frames before it is destroyed. */
export const CLOSE_LINGER_MS = 2_000

type Phase = 'handshake' | 'open' | 'closed'
let nextId = 1

export class OpenWireConnection {
  readonly id = nextId++
  readonly remoteAddress: string
  readonly clock: Clock
  readonly limits: OpenWireLimits
  private readonly socket: OpenWireSocket
  private readonly decoder: FrameDecoder
  private readonly out: FrameWriter
  private format: FrameOptions
  private phase: Phase = 'handshake'
  private readonly handler: CommandHandler
  private pending = 0
  private paused = false
  private lastRead: number
  private lastWrite: number
  private timer: unknown
  private negotiated: NegotiatedFormat | null = null

  constructor(private readonly opts: OpenWireConnectionOptions) {
    this.socket = opts.socket
    this.clock = opts.clock ?? systemClock
    this.limits = { ...DEFAULT_OPENWIRE_LIMITS, ...opts.limits }
    this.remoteAddress = `${opts.socket.remoteAddress ?? '?'}:${opts.socket.remotePort ?? '?'}`
    this.format = initialFrameOptions(this.limits.maxFrameSize)
    this.decoder = new FrameDecoder(this.format)
    this.lastRead = this.lastWrite = this.clock.now()
    this.handler = new CommandHandler(this, {
      core: opts.core,
      authenticator: opts.authenticator,
      advisories: opts.advisories,
      bodyBytesMax: this.limits.bodyBytesMax,
    })
    this.out = new FrameWriter(this.socket, this.limits.outBytesMax, this.handler)
    this.socket.on('data', (chunk) => this.onData(chunk))
    this.socket.on('error', (err) =>
      log.debug(`openwire ${this.id} ${this.remoteAddress}: socket error: ${err.message}`),
    )
    this.socket.on('close', () => this.closed('socket closed'))
    this.socket.on('drain', () => this.out.onDrain())
    this.writeRaw(brokerWireFormatInfo(this.offer()))
    this.timer = this.clock.setTimeout(
      () =>
        this.fail(
          new BrokerError('OPENWIRE_FRAME_INVALID', 'openwire: no WireFormatInfo within the handshake timeout'),
        ),
      this.limits.handshakeTimeoutMs,
    )
  }

  get isOpen(): boolean {
    return this.phase !== 'closed'
  }

  get clientId(): string | null {
    return this.handler.clientId
  }

  private offer(): BrokerOffer {
    return {
      maxFrameSize: this.limits.maxFrameSize,
      maxInactivityDurationMs: this.limits.maxInactivityDurationMs,
      maxInactivityDurationInitialDelayMs: this.limits.maxInactivityDurationInitialDelayMs,
      stackTraceEnabled: false,
      tcpNoDelayEnabled: true,
      providerName: 'sfbroker',
      providerVersion: this.opts.providerVersion ?? '0',
      platformDetails: runtimeDescription(),
    }
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return
    this.lastRead = this.clock.now()
    try {
      this.decoder.push(chunk, (c) => this.onCommand(c))
    } catch (e) {
      this.fail(e)
    }
  }

  private onCommand(c: W.Command): void {
    if (this.phase === 'closed') return
    if (this.phase === 'handshake') {
      if (c.type !== 'WireFormatInfo')
        throw new BrokerError('OPENWIRE_FRAME_INVALID', `openwire: found ${c.type} first, expected WireFormatInfo`)
      return this.handshake(c)
    }
    if (c.type === 'WireFormatInfo')
      throw new BrokerError('OPENWIRE_FRAME_INVALID', 'openwire: a second WireFormatInfo after the handshake')
    this.track(this.handler.handle(c), c)
  }

  private handshake(info: W.WireFormatInfo): void {
    const mine = readWireFormatSettings(brokerWireFormatInfo(this.offer()))
    const n = negotiate(mine, readWireFormatSettings(info))
    this.negotiated = n
    this.format = n
    this.decoder.setOptions(n)
    this.phase = 'open'
    this.clock.clearTimeout(this.timer)
    this.timer = undefined
    if (n.maxInactivityDurationMs > 0) this.scheduleMonitor(Math.max(n.maxInactivityDurationInitialDelayMs, 0))
    this.write({
      type: 'BrokerInfo',
      commandId: 0,
      responseRequired: false,
      brokerId: { type: 'BrokerId', value: `ID:${this.opts.brokerName}` },
      brokerUrl: this.opts.brokerUrl,
      peerBrokerInfos: this.peerInfos(),
      brokerName: this.opts.brokerName,
      slaveBroker: false,
      masterBroker: false,
      faultTolerantConfiguration: false,
      duplexConnection: false,
      networkConnection: false,
      connectionId: BigInt(this.id),
      brokerUploadUrl: null,
      networkProperties: null,
    })
  }

  private clusterList(): string[] {
    return this.opts.clusterUrls?.() ?? []
  }

  private peerInfos(): W.BrokerInfo[] | null {
    const urls = this.clusterList()
    if (urls.length === 0) return null
    return urls.map((url) => ({
      type: 'BrokerInfo',
      commandId: 0,
      responseRequired: false,
      brokerId: null,
      brokerUrl: url,
      peerBrokerInfos: null,
      brokerName: null,
      slaveBroker: false,
      masterBroker: false,
      faultTolerantConfiguration: false,
      duplexConnection: false,
      networkConnection: false,
      connectionId: 0n,
      brokerUploadUrl: null,
      networkProperties: null,
    }))
  }

  /** The group's client URLs as a ConnectionControl (nothing when the option is off or the list is empty). */
  announceCluster(): void {
    const urls = this.clusterList()
    if (urls.length === 0) return
    this.write({
      type: 'ConnectionControl',
      commandId: 0,
      responseRequired: false,
      close: false,
      exit: false,
      faultTolerant: false,
      resume: false,
      suspend: false,
      connectedBrokers: urls.join(','),
      reconnectTo: null,
      rebalanceConnection: false,
      token: null,
    })
  }

  /** Read check every MaxInactivityDuration, write check every third of it (ActiveMQ's InactivityMonitor). */
  private scheduleMonitor(delayMs: number): void {
    const n = this.negotiated!
    const period = Math.max(1, Math.floor(n.maxInactivityDurationMs / 3))
    this.timer = this.clock.setTimeout(() => {
      if (this.phase === 'closed') return
      const now = this.clock.now()
      if (now - this.lastRead > n.maxInactivityDurationMs + delayMs) {
        const idle = now - this.lastRead
        return this.fail(
          new BrokerError(
            'OPENWIRE_FRAME_INVALID',
            `openwire: nothing read for ${idle} ms, MaxInactivityDuration is ${n.maxInactivityDurationMs} ms`,
          ),
        )
      }
      if (now - this.lastWrite >= period) this.write({ type: 'KeepAliveInfo', commandId: 0, responseRequired: false })
      this.scheduleMonitor(0)
    }, delayMs + period)
  }

  /** Counts a command's work; past pendingCommandsMax the socket stops reading until answers are out. */
  private track(work: Promise<void> | void, c: W.Command): void {
    if (work === undefined) return
    this.pending++
    if (this.pending >= this.limits.pendingCommandsMax && !this.paused) {
      this.paused = true
      this.socket.pause()
    }
    work
      .catch((e) => {
        if (e instanceof BrokerError) this.respondError(c, e)
        else this.fail(e)
      })
      .finally(() => {
        this.pending--
        if (this.paused && this.pending < this.limits.pendingCommandsMax / 2 && this.phase !== 'closed') {
          this.paused = false
          this.socket.resume()
        }
      })
  }

  /** Response for a command that asked for one. */
  respond(c: W.Command): void {
    if ('responseRequired' in c && c.responseRequired)
      this.write({ type: 'Response', commandId: 0, responseRequired: false, correlationId: c.commandId })
  }

  /** ExceptionResponse when the command asked for an answer, else ConnectionError (the client's async exception). */
  respondError(c: W.Command, e: unknown): void {
    log.debug(`openwire ${this.id}: ${c.type} failed: ${e instanceof Error ? e.message : String(e)}`)
    const exception = javaException(e)
    if ('responseRequired' in c && c.responseRequired)
      this.write({
        type: 'ExceptionResponse',
        commandId: 0,
        responseRequired: false,
        correlationId: c.commandId,
        exception,
      })
    else this.write({ type: 'ConnectionError', commandId: 0, responseRequired: false, exception, connectionId: null })
  }

  write(c: W.Command): void {
    if (this.phase !== 'open') return
    this.writeRaw(c)
  }

  private writeRaw(c: W.Command): void {
    try {
      this.out.write(c, this.format)
    } catch (e) {
      log.warn(`openwire ${this.id}: cannot encode ${c.type}: ${e instanceof Error ? e.message : String(e)}`)
      return
    }
    this.lastWrite = this.clock.now()
  }

  /** Bad input or a broken peer: ConnectionError (when the handshake is done), then close. */
  fail(e: unknown): void {
    if (this.phase === 'closed') return
    const msg = e instanceof Error ? e.message : String(e)
    log.info(`openwire ${this.id} ${this.remoteAddress}: closing: ${msg}`)
    if (!(e instanceof BrokerError)) log.error(e instanceof Error ? (e.stack ?? msg) : msg)
    if (this.phase === 'open')
      this.write({
        type: 'ConnectionError',
        commandId: 0,
        responseRequired: false,
        exception: javaException(e),
        connectionId: null,
      })
    this.end()
  }

  /** Server shutdown: ShutdownInfo tells a failover client to reconnect elsewhere at once. */
  shutdown(): void {
    if (this.phase === 'closed') return
    this.write({ type: 'ShutdownInfo', commandId: 0, responseRequired: false })
    this.end()
  }

  /** Ends the socket after what was written; the broker session closes at once. */
  end(): void {
    if (this.phase === 'closed') return
    this.out.end()
    this.socket.end()
    this.closed('ended by the broker')
  }

  private closed(why: string): void {
    if (this.phase === 'closed') return
    this.phase = 'closed'
    this.out.discard()
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    log.debug(`openwire ${this.id} ${this.remoteAddress}: closed (${why})`)
    this.handler
      .close()
      .catch((e) => log.warn(`openwire ${this.id}: close: ${e instanceof Error ? e.message : String(e)}`))
    // A peer that never closes its side would hold the socket: destroy it after a linger for the last writes.
    const linger = this.clock.setTimeout(() => this.socket.destroy(), CLOSE_LINGER_MS)
    this.socket.on('close', () => this.clock.clearTimeout(linger))
    this.opts.onClose?.(this)
  }
}
