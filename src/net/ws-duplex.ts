/**
 * WsDuplex: one accepted WebSocket as a node:stream Duplex with the parts of net.Socket a connection uses
 * (`remoteAddress`/`remotePort`/`remoteFamily`, `setNoDelay`, `setTimeout`, `write` with backpressure,
 * `writableLength`, `pause`/`resume`, `end`/`destroy`, 'data'/'drain'/'error'/'close'/'timeout'), so the STOMP and
 * MQTT connection code runs over it unchanged. It owns the mapping only, no protocol:
 * - in: each binary or text message is one 'data' chunk (a Buffer); message boundaries are not kept, as TCP keeps
 *   none (STOMP and MQTT parsers are streaming). `pause()` stops reading the TCP socket itself, not just 'data'
 *   events, so a paused connection holds at most one message beyond what was read (ws's maxPayload);
 * - out: each write is one WebSocket message, binary, or text when `text: 'when-utf8'` and the bytes are UTF-8
 *   (STOMP in browsers and @stomp/stompjs read text frames; bytes that are not UTF-8, e.g. a binary body or a write
 *   sliced inside a character, go binary, which stompjs parses too). A write's callback, and so 'drain', waits
 *   until the WebSocket has handed the message to the TCP socket, so `writableLength` counts every byte not yet in
 *   the kernel and `write()` returns false past `sendBufferBytesMax`: a client that stops reading costs bounded
 *   memory, as a TCP socket's buffer does;
 * - end: `end()` sends a normal close (1000) after the queued messages; `destroy()` drops the TCP connection. The
 *   peer's close, a protocol violation or an over-size message (ws closes with 1009) end it with 'close'.
 */
import { Duplex } from 'node:stream'
import { isUtf8 } from 'node:buffer'
import type net from 'node:net'
import type { WebSocket } from 'ws'

/** 1 MiB: bytes written but not yet in the kernel above which write() returns false (the Duplex's highWaterMark). */
export const WS_SEND_BUFFER_BYTES_DEFAULT = 1024 * 1024
/** RFC 6455 §7.4.1: close codes sent here. */
export const WS_CLOSE_NORMAL = 1000
export const WS_CLOSE_INTERNAL = 1011

export interface WsDuplexOptions {
  /** The TCP (or TLS) socket under the WebSocket: peer address, Nagle, idle timeout. */
  socket: net.Socket
  /** 'when-utf8': text messages for UTF-8 bytes (STOMP); 'never': always binary (MQTT). */
  text: 'when-utf8' | 'never'
  /** Bytes written but not yet handed to the TCP socket above which write() returns false. */
  sendBufferBytesMax?: number
}

export class WsDuplex extends Duplex {
  /** The subprotocol answered at the upgrade ('' when none). */
  readonly protocol: string
  private readonly ws: WebSocket
  private readonly tcp: net.Socket
  private readonly text: boolean
  /** Set by pause(): the TCP socket stays paused until resume(), whatever the stream's buffer wants. */
  private userPaused = false
  /** The stream's buffer is full: the TCP socket stays paused until _read(). */
  private bufferFull = false

  constructor(ws: WebSocket, opts: WsDuplexOptions) {
    const hwm = opts.sendBufferBytesMax ?? WS_SEND_BUFFER_BYTES_DEFAULT
    // allowHalfOpen: end() sends our close frame and still reads until the peer's close, as TCP's FIN does.
    super({ allowHalfOpen: true, writableHighWaterMark: hwm, decodeStrings: true })
    this.ws = ws
    this.tcp = opts.socket
    this.text = opts.text === 'when-utf8'
    this.protocol = ws.protocol
    ws.binaryType = 'nodebuffer'
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Buffer.isBuffer(data)
        ? data
        : Array.isArray(data)
          ? Buffer.concat(data)
          : Buffer.from(data as ArrayBuffer)
      if (!this.push(chunk)) {
        this.bufferFull = true
        this.ws.pause()
      }
    })
    ws.on('error', (err: Error) => this.destroy(err))
    ws.on('close', () => {
      this.push(null)
      this.destroy()
    })
    this.tcp.on('timeout', () => this.emit('timeout'))
  }

  get remoteAddress(): string | undefined {
    return this.tcp.remoteAddress
  }
  get remotePort(): number | undefined {
    return this.tcp.remotePort
  }
  get remoteFamily(): string | undefined {
    return this.tcp.remoteFamily
  }

  /** The underlying socket (TCP, or TLS for wss://), e.g. for a peer certificate. */
  get socket(): net.Socket {
    return this.tcp
  }

  setNoDelay(noDelay = true): this {
    this.tcp.setNoDelay?.(noDelay)
    return this
  }

  /** As net.Socket's: 'timeout' after `ms` without traffic on the TCP socket (0 turns it off). */
  setTimeout(ms: number, callback?: () => void): this {
    this.tcp.setTimeout(ms)
    if (callback) this.once('timeout', callback)
    return this
  }

  override pause(): this {
    this.userPaused = true
    this.ws.pause()
    return super.pause()
  }

  override resume(): this {
    this.userPaused = false
    if (!this.bufferFull) this.ws.resume()
    return super.resume()
  }

  override _read(): void {
    this.bufferFull = false
    if (!this.userPaused) this.ws.resume()
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.sendAll([chunk], cb)
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.sendAll(
      chunks.map((c) => c.chunk),
      cb,
    )
  }

  /** One message per chunk; `cb` once the last has reached the TCP socket (ws sends in order). */
  private sendAll(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.OPEN) {
      cb(new Error(`WebSocket is ${this.ws.readyState === this.ws.CLOSING ? 'closing' : 'closed'}; write refused`))
      return
    }
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!
      const last = i === chunks.length - 1
      this.ws.send(c, { binary: !(this.text && isUtf8(c)) }, last ? (err) => cb(err ?? null) : undefined)
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(WS_CLOSE_NORMAL)
    cb()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.ws.readyState !== this.ws.CLOSED) this.ws.terminate()
    cb(err)
  }
}
