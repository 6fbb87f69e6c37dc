/**
 * WsListener: the socket side of one `ws://` or `wss://` connector. It binds like the TCP connectors (net.Server,
 * port 0 → the bound port in `address()`), optionally terminates TLS with the connectors' TlsTerminator, runs the
 * HTTP upgrade (node:http for the request, the `ws` package for the handshake and framing), negotiates the
 * subprotocol (ws-subprotocol.ts) and hands each upgraded connection to `onConnection` as a WsDuplex. It owns:
 * - `pendingUpgradesMax`: sockets accepted but not yet upgraded (TLS handshake included); one more is refused at
 *   once (HTTP 503 on ws://, a plain close on wss://, where no TLS is up yet to speak HTTP over);
 * - `upgradeTimeoutMs`: a socket that has not completed its upgrade within this is closed (HTTP 408 when it can
 *   be spoken), so a silent or slow client costs one socket for a bounded time;
 * - `messageBytesMax`: ws's maxPayload, a larger message closes that connection with 1009;
 * - HTTP header bytes (WS_UPGRADE_HEADER_BYTES_MAX); a plain HTTP request gets 426; a malformed request or
 *   handshake gets 400; a refused subprotocol gets 400 naming what is served. Each costs that socket only.
 * Why node:http + `ws` (noServer, handleUpgrade) fed with our own accepted sockets: it runs the same under Node,
 * Bun (whose built-in `ws` replacement takes node:http's upgrade sockets) and Deno (npm `ws` over its node:http),
 * inside `bun build --compile` too; and since the listener is a net.Server, admission and TLS see raw TCP sockets
 * as the STOMP connector's do. Connections after the upgrade belong to the caller (close() does not end them).
 */
import http from 'node:http'
import net from 'node:net'
import type { WebSocket, WebSocketServer } from 'ws'
import type { ConnectorTlsConfig } from '../config/types.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { TlsContextSource } from './tls-context.ts'
import { TlsTerminator, type TlsRefusal } from './tls-server.ts'
import { WsDuplex } from './ws-duplex.ts'
import { listenOn } from './listen.ts'
import { negotiateSubprotocol, type WsProtocol } from './ws-subprotocol.ts'

const log = logger('ws')

/** 16 KiB: the HTTP request line and headers of an upgrade (browsers send ~1 KiB; cookies can add some). */
export const WS_UPGRADE_HEADER_BYTES_MAX = 16 * 1024

export type WsRefusal =
  | TlsRefusal
  | 'refused by the connector'
  | 'too many pending WebSocket upgrades'
  | 'WebSocket upgrade timed out'
  | 'not a WebSocket upgrade'
  | 'bad HTTP request'
  | 'WebSocket subprotocol refused'

export interface WsConnectionInfo {
  protocol: WsProtocol
  /** The subprotocol answered; null when the client offered none (STOMP then). */
  subprotocol: string | null
  /** The accepted TCP socket (under TLS for wss://): the key a connector's admission counts by. */
  raw: net.Socket
}

export interface WsListenerOptions {
  /** `connector ws (ws://0.0.0.0:61614)`, for errors and logs. */
  where: string
  host: string
  port: number
  /** Protocols offered by subprotocol; a connector URI's `both` is ['stomp', 'mqtt']. */
  serves: readonly WsProtocol[]
  /** Largest WebSocket message (the connector's frame or packet limit plus its headers). */
  messageBytesMax: number
  pendingUpgradesMax: number
  upgradeTimeoutMs: number
  /** Per connection: bytes written and not yet handed to TCP above which write() returns false (WsDuplex). */
  sendBufferBytesMax?: number
  /** wss://: the connector's TLS options and the key material; absent for ws://. */
  tls?: { config: ConnectorTlsConfig; source: TlsContextSource }
  /** Each accepted TCP socket first: null admits it, a message refuses it (HTTP 503 with that message). */
  admit?: (raw: net.Socket) => string | null
  onConnection: (socket: WsDuplex, info: WsConnectionInfo) => void
  /** Sockets closed before their upgrade, for the connector's refusal log (never logged per socket here). */
  onRefused?: (why: WsRefusal) => void
}

interface Pending {
  raw: net.Socket
  /** What HTTP is spoken over: raw, or its TLS socket. */
  socket: net.Socket
  timer: ReturnType<typeof setTimeout>
}

export class WsListener {
  private readonly server: net.Server
  private readonly http: http.Server
  /** Made by listen(): `ws` is imported then, so a broker without ws:// connectors never loads it. */
  private wss: WebSocketServer | null = null
  private readonly tls: TlsTerminator | null
  /** By the socket HTTP is spoken over. */
  private readonly pending = new Map<net.Socket, Pending>()
  private bound: { host: string; port: number } | null = null
  private closed = false

  constructor(private readonly opts: WsListenerOptions) {
    if (opts.serves.length === 0) throw new BrokerError('CONFIG_INVALID', `${opts.where}: serves no protocol`)
    this.tls = opts.tls
      ? new TlsTerminator({
          where: opts.where,
          tls: opts.tls.config,
          source: opts.tls.source,
          handshakeTimeoutMs: opts.upgradeTimeoutMs,
          onRefused: (why) => opts.onRefused?.(why),
        })
      : null
    this.http = http.createServer({ maxHeaderSize: WS_UPGRADE_HEADER_BYTES_MAX })
    this.http.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onPlainRequest(req, res))
    this.http.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    )
    this.http.on('clientError', (_err: Error, socket: net.Socket) => this.reject(socket, 400, 'bad HTTP request'))
    this.server = net.createServer({ noDelay: true }, (raw) => this.onSocket(raw))
  }

  /** Bind host:port. EADDRINUSE and friends become a BrokerError naming the connector. */
  async listen(): Promise<void> {
    const { host, port, where } = this.opts
    if (this.closed) throw new BrokerError('BROKER_STOPPED', `${where}: listen() after close()`)
    const { WebSocketServer } = await import('ws')
    if (this.closed) throw new BrokerError('BROKER_STOPPED', `${where}: closed while listen() was loading ws`)
    this.wss ??= new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false, // no inflate bombs, no CPU per message
      maxPayload: this.opts.messageBytesMax,
      // Called only when the client offered some: onUpgrade has chosen one of them by then.
      handleProtocols: (_offered: Set<string>, req: http.IncomingMessage) =>
        (req as UpgradeRequest).sfbSubprotocol || false,
    })
    this.bound = await listenOn(this.server, { host, port, where }, (err) => log.error(`${where}: ${err.message}`))
  }

  /** The bound address after listen(); the configured one before. */
  address(): { host: string; port: number } {
    return this.bound ?? { host: this.opts.host, port: this.opts.port }
  }

  /** Sockets accepted and not yet upgraded. */
  pendingUpgrades(): number {
    return this.pending.size
  }

  /**
   * Stop accepting (the port is free when this resolves) and drop the sockets not yet upgraded. Upgraded
   * connections are the caller's to end; this does not wait for them (net.Server's close callback would).
   */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.tls?.close()
      for (const p of [...this.pending.values()]) this.drop(p)
      this.wss?.close()
      if (this.server.listening) this.server.close()
    }
    return new Promise<void>((resolve) => setImmediate(resolve))
  }

  private onSocket(raw: net.Socket): void {
    raw.on('error', () => {}) // a reset before or during the upgrade costs this socket only
    if (this.closed) return void raw.destroy()
    if (this.pending.size >= this.opts.pendingUpgradesMax) {
      this.opts.onRefused?.('too many pending WebSocket upgrades')
      if (this.tls) return void raw.destroy()
      return this.respond(
        raw,
        503,
        `${this.opts.where}: ${this.pending.size} WebSocket upgrades pending (pendingUpgradesMax), try again later`,
      )
    }
    const refusal = this.opts.admit?.(raw) ?? null
    if (refusal !== null) {
      this.opts.onRefused?.('refused by the connector')
      if (this.tls) return void raw.destroy()
      return this.respond(raw, 503, refusal)
    }
    const socket = this.tls ? this.tls.wrap(raw) : raw
    const p: Pending = {
      raw,
      socket,
      timer: setTimeout(() => {
        this.opts.onRefused?.('WebSocket upgrade timed out')
        this.reject(socket, 408, `no WebSocket upgrade within ${this.opts.upgradeTimeoutMs} ms`)
      }, this.opts.upgradeTimeoutMs),
    }
    p.timer.unref?.()
    this.pending.set(socket, p)
    socket.once('close', () => this.forget(socket))
    raw.once('close', () => this.forget(socket))
    // node:http parses the request on this socket; its 'upgrade' hands the socket back to us.
    this.http.emit('connection', socket)
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.opts.onRefused?.('not a WebSocket upgrade')
    const served = this.opts.serves.join(' or ')
    const body = `${this.opts.where}: ${req.method ?? '?'} ${req.url ?? '?'} is not a WebSocket upgrade; expected a WebSocket handshake speaking ${served}\n`
    res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', Upgrade: 'websocket' })
    // One answer per socket: a keep-alive client must not hold a pending slot with further requests.
    res.end(body, () => {
      const socket = req.socket as net.Socket
      this.forget(socket)
      socket.end()
      lingerThenDestroy(socket)
    })
  }

  private onUpgrade(req: UpgradeRequest, socket: net.Socket, head: Buffer): void {
    const p = this.pending.get(socket)
    if (!p || this.closed) return void socket.destroy()
    if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      this.opts.onRefused?.('not a WebSocket upgrade')
      return this.reject(socket, 400, `Upgrade: ${String(req.headers.upgrade)}; expected Upgrade: websocket`)
    }
    const n = negotiateSubprotocol(req.headers['sec-websocket-protocol'], this.opts.serves)
    if (!n.ok) {
      this.opts.onRefused?.('WebSocket subprotocol refused')
      return this.reject(socket, 400, n.reason)
    }
    if (n.subprotocol !== null) req.sfbSubprotocol = n.subprotocol
    // Answered by ws itself when the handshake is bad (400); the socket is then destroyed and forgotten.
    // Upgrades come only from the bound server, so listen() has made wss.
    this.wss!.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      if (!this.forget(socket) || this.closed) return void ws.terminate()
      const duplex = new WsDuplex(ws, {
        socket,
        text: n.protocol === 'stomp' ? 'when-utf8' : 'never',
        sendBufferBytesMax: this.opts.sendBufferBytesMax,
      })
      this.opts.onConnection(duplex, { protocol: n.protocol, subprotocol: n.subprotocol, raw: p.raw })
    })
  }

  /** Out of the pending set (upgraded or gone); true if it was there. */
  private forget(socket: net.Socket): boolean {
    const p = this.pending.get(socket)
    if (!p) return false
    clearTimeout(p.timer)
    this.pending.delete(socket)
    return true
  }

  private drop(p: Pending): void {
    this.forget(p.socket)
    p.socket.destroy()
    p.raw.destroy()
  }

  /** An HTTP error answer on a socket still in the handshake (`where: message`), then close it. */
  private reject(socket: net.Socket, status: number, message: string): void {
    this.respond(socket, status, `${this.opts.where}: ${message}`)
  }

  /**
   * Write a minimal HTTP/1.1 answer with a text body and close; destroyed after RESPOND_LINGER_MS whatever the
   * peer does. On a TLS socket whose handshake is not done the answer waits for it (or the TLS deadline drops it).
   */
  private respond(socket: net.Socket, status: number, message: string): void {
    this.forget(socket)
    if (socket.destroyed) return
    const body = Buffer.from(message.replace(/[\r\n]+/g, ' ') + '\n', 'utf8')
    const head =
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`
    socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]))
    lingerThenDestroy(socket)
  }
}

function lingerThenDestroy(socket: net.Socket): void {
  const t = setTimeout(() => socket.destroy(), RESPOND_LINGER_MS)
  t.unref?.()
  socket.once('close', () => clearTimeout(t))
}

/** After an HTTP error answer, the socket is destroyed within this even if the peer never closes. */
export const RESPOND_LINGER_MS = 1000

/** The upgrade request with the subprotocol chosen before handleUpgrade (ws asks handleProtocols for it). */
type UpgradeRequest = http.IncomingMessage & { sfbSubprotocol?: string }
