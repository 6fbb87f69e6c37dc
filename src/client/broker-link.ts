/**
 * BrokerLink: the client's side of one STOMP connection to one broker over node:net (distinct from the broker's
 * server-side StompConnection in protocol/stomp): CONNECT/CONNECTED negotiation (accept-version 1.0,1.1,1.2),
 * heart-beats both ways (STOMP 1.2 "Heart-beating"), frame writes, and a single close notification.
 * Owns: the socket, the parser, the heart-beat timers (through the injected Clock). It knows nothing about
 * receipts, subscriptions or failover (client.ts owns those); it reports every frame after CONNECTED and, exactly
 * once, why it closed.
 */
import * as net from 'node:net'
import * as tls from 'node:tls'
import * as fs from 'node:fs'
import type { Clock } from '../lib/clock.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import {
  DEFAULT_FRAME_LIMITS,
  FrameParser,
  REASON_HEADER,
  encodeFrame,
  type FrameLimits,
  type StompFrame,
  type StompVersion,
} from '../protocol/stomp/index.ts'
import type { Endpoint, EndpointTls } from './failover-uri.ts'

const log = logger('client')

/** Read heart-beats may be late by this factor before the connection is declared dead (ActiveMQ docs use 1.5). */
export const HEARTBEAT_GRACE_FACTOR = 1.5

/** A frame from the broker: the protocol's StompFrame (headers decoded per version, the first of repeated ones kept). */
export type ClientFrame = StompFrame
export type ClientStompVersion = StompVersion

/** The bare EOL a client sends as a heart-beat (STOMP 1.2 "Heart-beating"). */
export const HEARTBEAT_BYTES = new Uint8Array([0x0a])

/**
 * Most header lines accepted in one incoming frame. Higher than the broker's own input limit (1000, ActiveMQ's):
 * a MESSAGE carries the producer's headers (up to that limit) plus the ones the broker adds.
 */
export const CLIENT_HEADERS_MAX = 10 * DEFAULT_FRAME_LIMITS.headersMax

/**
 * The parser limits for frames a broker sends us. Bodies and header lines are bounded by the endpoint's
 * `wireFormat.maxFrameSize` (frameBytesMax): a client trusts a broker's header sizes more than a broker trusts its
 * clients', but never buffers without bound.
 */
export function clientFrameLimits(frameBytesMax: number): FrameLimits {
  return {
    commandBytesMax: DEFAULT_FRAME_LIMITS.commandBytesMax,
    headerLineBytesMax: frameBytesMax,
    headersMax: CLIENT_HEADERS_MAX,
    bodyBytesMax: frameBytesMax,
  }
}

export interface ConnectionParams {
  endpoint: Endpoint
  login?: string
  passcode?: string
  clientId?: string
  /** STOMP `host` header (virtual host); defaults to the endpoint's host name. */
  vhost?: string
  /** [cx, cy]: we can send a heart-beat every cx ms; we want one from the broker every cy ms. 0 = none. */
  heartbeat: [number, number]
  clock: Clock
  /** TLS defaults for `ssl://` endpoints whose URI does not set them (ConnectOptions.tls, the CLI's --ca/--cert/--key). */
  tls?: Partial<EndpointTls>
  /** Every frame after CONNECTED (MESSAGE, RECEIPT, ERROR). */
  onFrame(frame: ClientFrame, conn: BrokerLink): void
  /** Called once when the connection is gone (only if open() resolved); `err` is undefined only after our own close. */
  onClose(err: Error | undefined, conn: BrokerLink): void
}

export class BrokerLink {
  readonly endpoint: Endpoint
  version: ClientStompVersion = '1.0'
  /** CONNECTED headers (server, session, heart-beat...). */
  connected: Record<string, string> = {}
  private socket: net.Socket
  private parser: FrameParser
  private closed = false
  private closing = false
  private lastReadAt: number
  private lastWriteAt: number
  private readTimer: unknown
  private writeTimer: unknown
  private onClose: (err: Error | undefined) => void
  private onFrame: (f: ClientFrame) => void

  private constructor(
    socket: net.Socket,
    private readonly p: ConnectionParams,
  ) {
    this.endpoint = p.endpoint
    this.socket = socket
    this.parser = new FrameParser(clientFrameLimits(p.endpoint.frameBytesMax))
    this.lastReadAt = this.lastWriteAt = p.clock.now()
    this.onClose = (e) => p.onClose(e, this)
    this.onFrame = (f) => p.onFrame(f, this)
  }

  /**
   * Connect and wait for CONNECTED within the endpoint's connectionTimeoutMs. Rejects with CLIENT_DISCONNECTED
   * (refused, reset, timed out) or CLIENT_BROKER_ERROR (the broker answered CONNECT with ERROR; details.message).
   */
  static open(p: ConnectionParams): Promise<BrokerLink> {
    return new Promise((resolve, reject) => {
      const ep = p.endpoint
      let socket: net.Socket
      try {
        socket = ep.tls ? tlsConnect(ep, ep.tls, p.tls ?? {}) : net.connect({ host: ep.host, port: ep.port })
      } catch (e) {
        reject(e)
        return
      }
      socket.setNoDelay(true)
      const conn = new BrokerLink(socket, p)
      let settled = false
      const timer = p.clock.setTimeout(
        () =>
          fail(
            new BrokerError(
              'CLIENT_TIMEOUT',
              `${ep.uri}: no CONNECTED within connectionTimeout=${ep.connectionTimeoutMs} ms`,
            ),
          ),
        ep.connectionTimeoutMs,
      )
      const fail = (err: Error) => {
        if (settled) return
        settled = true
        p.clock.clearTimeout(timer)
        conn.closed = true
        socket.destroy()
        reject(err)
      }
      // Until CONNECTED arrives, frames and closes settle the open() promise instead of reaching the caller.
      conn.onFrame = (f) => {
        if (f.command === 'CONNECTED') {
          settled = true
          p.clock.clearTimeout(timer)
          conn.ready(f)
          resolve(conn)
        } else if (f.command === 'ERROR') {
          const message = f.headers['message'] ?? new TextDecoder().decode(f.body).slice(0, 200)
          // details.reason: sfbroker's header when the broker refuses because it stops serving (not-primary, shutdown).
          fail(
            new BrokerError('CLIENT_BROKER_ERROR', `${ep.uri}: CONNECT refused: ${message}`, {
              details: {
                message,
                endpoint: ep.uri,
                body: new TextDecoder().decode(f.body),
                reason: f.headers[REASON_HEADER],
              },
            }),
          )
        } else {
          fail(
            new BrokerError('CLIENT_BROKER_ERROR', `${ep.uri}: got ${f.command} before CONNECTED; expected CONNECTED`),
          )
        }
      }
      conn.onClose = (err) =>
        fail(
          new BrokerError('CLIENT_DISCONNECTED', `${err?.message ?? `${ep.uri}: closed`} before CONNECTED`, {
            cause: err,
          }),
        )
      socket.on('data', (chunk: Uint8Array) => conn.onData(chunk))
      socket.on('error', (err) =>
        conn.gone(new BrokerError('CLIENT_DISCONNECTED', `${ep.uri}: ${err.message}`, { cause: err })),
      )
      socket.on('close', () =>
        conn.gone(new BrokerError('CLIENT_DISCONNECTED', `${ep.uri}: connection closed by the broker`)),
      )
      socket.once(ep.tls ? 'secureConnect' : 'connect', () => {
        const [cx, cy] = p.heartbeat
        const headers: Record<string, string> = {
          'accept-version': '1.0,1.1,1.2',
          host: p.vhost ?? ep.host,
          'heart-beat': `${cx},${cy}`,
        }
        if (p.login !== undefined) headers.login = p.login
        if (p.passcode !== undefined) headers.passcode = p.passcode
        if (p.clientId !== undefined) headers['client-id'] = p.clientId
        conn.rawWrite(encodeFrame('CONNECT', headers, null, '1.2'))
      })
    })
  }

  private ready(f: ClientFrame): void {
    this.version = negotiatedVersion(f)
    this.parser.setVersion(this.version)
    this.connected = { ...f.headers }
    this.onFrame = (fr) => this.p.onFrame(fr, this)
    this.onClose = (e) => this.p.onClose(e, this)
    // Heart-beat negotiation (STOMP 1.2): we send every max(cx, sy), expect every max(cy, sx); 0 on either side = off.
    const [cx, cy] = this.p.heartbeat
    const [sx, sy] = (f.headers['heart-beat'] ?? '0,0').split(',').map((x) => Number(x) || 0)
    const sendMs = this.version !== '1.0' && cx > 0 && sy > 0 ? Math.max(cx, sy) : 0
    const recvMs = this.version !== '1.0' && cy > 0 && sx > 0 ? Math.max(cy, sx) : 0
    if (sendMs > 0) this.scheduleWrite(sendMs)
    if (recvMs > 0) this.scheduleRead(recvMs)
  }

  private scheduleWrite(ms: number): void {
    const half = Math.max(1, Math.floor(ms / 2))
    this.writeTimer = this.p.clock.setTimeout(() => {
      if (this.closed) return
      if (this.p.clock.now() - this.lastWriteAt >= half) this.rawWrite(HEARTBEAT_BYTES)
      this.scheduleWrite(ms)
    }, half)
  }

  private scheduleRead(ms: number, delayMs?: number): void {
    const limit = Math.ceil(ms * HEARTBEAT_GRACE_FACTOR)
    // Fire just after the moment the connection would have been silent for longer than `limit`.
    this.readTimer = this.p.clock.setTimeout(
      () => {
        if (this.closed) return
        const silent = this.p.clock.now() - this.lastReadAt
        if (silent > limit) {
          this.destroy(
            new BrokerError(
              'CLIENT_DISCONNECTED',
              `${this.endpoint.uri}: no data or heart-beat for ${silent} ms; expected one every ${ms} ms (grace x${HEARTBEAT_GRACE_FACTOR})`,
            ),
          )
          return
        }
        this.scheduleRead(ms, limit - silent + 1)
      },
      delayMs ?? limit + 1,
    )
  }

  private onData(chunk: Uint8Array): void {
    if (this.closed) return
    this.lastReadAt = this.p.clock.now()
    // Frames are collected, then handed on: a throwing handler must not be taken for a parse error.
    const frames: ClientFrame[] = []
    let parseError: Error | undefined
    try {
      this.parser.push(chunk, (f) => {
        // Frames after CONNECTED in the same read are unescaped per the negotiated version.
        if (f.command === 'CONNECTED') this.parser.setVersion(negotiatedVersion(f))
        frames.push(f)
      })
    } catch (e) {
      parseError = e as Error
    }
    // The frames complete before a malformed one still count (e.g. an ERROR followed by garbage).
    for (const f of frames) {
      if (this.closed) return
      if (this.endpoint.trace) log.debug(`<<< ${this.endpoint.uri} ${f.command}`, { headers: f.headers })
      this.onFrame(f)
    }
    if (parseError) this.destroy(parseError)
  }

  private gone(err: Error): void {
    if (this.closed) return
    this.closed = true
    this.stopTimers()
    this.socket.destroy()
    this.onClose(this.closing ? undefined : err)
  }

  private stopTimers(): void {
    if (this.readTimer !== undefined) this.p.clock.clearTimeout(this.readTimer)
    if (this.writeTimer !== undefined) this.p.clock.clearTimeout(this.writeTimer)
    this.readTimer = this.writeTimer = undefined
  }

  private rawWrite(bytes: Uint8Array): boolean {
    if (this.closed) return false
    this.lastWriteAt = this.p.clock.now()
    this.socket.write(bytes)
    return true
  }

  get isOpen(): boolean {
    return !this.closed
  }

  /** Bytes queued in the socket and not yet handed to the kernel (for producer flow control). */
  get bufferedBytes(): number {
    return this.socket.writableLength
  }

  /** Write one frame; false if the connection is already closed (the caller keeps it for a resend). */
  write(command: string, headers: Record<string, string>, body?: Uint8Array): boolean {
    if (this.closed) return false
    if (this.endpoint.trace) log.debug(`>>> ${this.endpoint.uri} ${command}`, { headers })
    return this.rawWrite(encodeFrame(command, definedHeaders(headers), body ?? null, this.version))
  }

  /** Stop reading from the socket (TCP backpressure to the broker) or start again. */
  setPaused(paused: boolean): void {
    if (this.closed) return
    if (paused) this.socket.pause()
    else this.socket.resume()
  }

  /** Close without DISCONNECT (e.g. giving up, or a protocol error). onClose gets `err`. */
  destroy(err?: Error): void {
    if (this.closed) return
    if (err === undefined) this.closing = true
    this.gone(err ?? new BrokerError('CLIENT_DISCONNECTED', `${this.endpoint.uri}: closed`))
  }

  /**
   * Graceful close: DISCONNECT with a receipt, wait for the RECEIPT (so every frame we wrote before it was processed)
   * or `waitMs`, then close the socket. onClose gets undefined.
   */
  async disconnect(waitMs: number): Promise<void> {
    if (this.closed) return
    this.closing = true
    const receipt = `disconnect-${Math.random().toString(36).slice(2)}`
    await new Promise<void>((resolve) => {
      const timer = this.p.clock.setTimeout(resolve, waitMs)
      const prevFrame = this.onFrame
      const prevClose = this.onClose
      this.onFrame = (f) => {
        if (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt) {
          this.p.clock.clearTimeout(timer)
          resolve()
        } else prevFrame(f)
      }
      this.onClose = (e) => {
        this.p.clock.clearTimeout(timer)
        resolve()
        prevClose(e)
      }
      if (!this.write('DISCONNECT', { receipt })) resolve()
    })
    if (!this.closed) {
      this.socket.end()
      this.gone(new BrokerError('CLIENT_DISCONNECTED', `${this.endpoint.uri}: closed`))
    }
  }
}

/** The version a CONNECTED frame names; no `version` header means a STOMP 1.0 broker. */
function negotiatedVersion(f: ClientFrame): ClientStompVersion {
  const v = f.headers['version']
  return v === '1.1' || v === '1.2' ? v : '1.0'
}

/** Header entries with a value: an optional header left undefined by a caller is omitted, never sent as "undefined". */
function definedHeaders(headers: Record<string, string>): Array<[string, string]> {
  const out: Array<[string, string]> = []
  for (const k in headers) {
    const v = headers[k] as string | undefined
    if (v !== undefined) out.push([k, String(v)])
  }
  return out
}

/** Read a client TLS file now (each connect, so a rotated client certificate is picked up); errors name the option. */
function readTlsFile(ep: Endpoint, option: string, file: string): Buffer {
  try {
    return fs.readFileSync(file)
  } catch (e) {
    throw new BrokerError(
      'CLIENT_URI_INVALID',
      `${ep.uri}: ${option} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `cannot be read (${(e as Error).message})`}; expected a PEM file`,
      { cause: e },
    )
  }
}

/**
 * A TLS socket to `ep`: the chain is verified against caFile (else the system CAs); the name is checked unless
 * verifyHostName=false. An IP address host is checked against the certificate's IP SANs (no SNI is sent for it).
 */
function tlsConnect(ep: Endpoint, own: EndpointTls, defaults: Partial<EndpointTls>): tls.TLSSocket {
  const caFile = own.caFile ?? defaults.caFile
  const certFile = own.certFile ?? defaults.certFile
  const keyFile = own.keyFile ?? defaults.keyFile
  const verifyHostName = own.verifyHostName && defaults.verifyHostName !== false
  const isIp = net.isIP(ep.host) !== 0
  return tls.connect({
    host: ep.host,
    port: ep.port,
    servername: isIp ? undefined : ep.host,
    ca: caFile !== undefined ? readTlsFile(ep, 'caFile', caFile) : undefined,
    cert: certFile !== undefined ? readTlsFile(ep, 'certFile', certFile) : undefined,
    key: keyFile !== undefined ? readTlsFile(ep, 'keyFile', keyFile) : undefined,
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    checkServerIdentity: verifyHostName ? tls.checkServerIdentity : () => undefined,
  })
}
