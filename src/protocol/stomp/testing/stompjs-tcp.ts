/**
 * Test-only: plain TCP for @stomp/stompjs. stompjs talks to an `IStompSocket` (the WebSocket shape) and accepts
 * any object of that shape from `webSocketFactory`; this wraps a net.Socket as one, so the npm client can speak
 * STOMP over raw TCP to our connector. Incoming bytes are handed over as ArrayBuffers (stompjs' parser is
 * incremental, so TCP chunk boundaries anywhere are fine).
 */
import net from 'node:net'
import { Client, type IStompSocket, type StompConfig } from '@stomp/stompjs'

export function tcpStompSocket(host: string, port: number): IStompSocket {
  return tcpStompTransport(host, port).ws
}

/** The same, with the net.Socket beneath (a load generator waits for its 'drain'). */
export function tcpStompTransport(host: string, port: number): { ws: IStompSocket; socket: net.Socket } {
  const socket = net.connect({ host, port })
  const ws = {
    url: `tcp://${host}:${port}`,
    binaryType: 'arraybuffer',
    readyState: 0,
    onopen: null as ((ev?: unknown) => unknown) | null,
    onmessage: null as ((ev: unknown) => unknown) | null,
    onclose: null as ((ev?: unknown) => unknown) | null,
    onerror: null as ((ev: unknown) => unknown) | null,
    send(data: string | ArrayBufferLike | ArrayBufferView) {
      if (typeof data === 'string') socket.write(data)
      else if (ArrayBuffer.isView(data)) socket.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
      else socket.write(Buffer.from(data as ArrayBuffer))
    },
    close() {
      if (ws.readyState >= 2) return
      ws.readyState = 2
      socket.end()
    },
    terminate() {
      socket.destroy()
    },
  }
  socket.setNoDelay(true)
  socket.on('connect', () => {
    ws.readyState = 1
    ws.onopen?.({})
  })
  socket.on('data', (b: Buffer) => ws.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) }))
  socket.on('error', (err) => ws.onerror?.(err))
  socket.on('close', () => {
    ws.readyState = 3
    ws.onclose?.({ code: 1000, reason: '', wasClean: true })
  })
  return { ws: ws as unknown as IStompSocket, socket }
}

/** A stompjs Client over TCP, no reconnect, connected (resolves on CONNECTED, rejects on ERROR/close/timeout). */
export async function connectStompJs(port: number, conf: StompConfig = {}, timeoutMs = 5000): Promise<Client> {
  const client = new Client({ reconnectDelay: 0, webSocketFactory: () => tcpStompSocket('127.0.0.1', port), ...conf })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`stompjs: no CONNECTED within ${timeoutMs} ms`)), timeoutMs)
    client.onConnect = () => {
      clearTimeout(t)
      resolve()
    }
    client.onStompError = (f) => {
      clearTimeout(t)
      reject(new Error(`stompjs ERROR: ${f.headers.message}`))
    }
    client.onWebSocketClose = () => {
      clearTimeout(t)
      reject(new Error('stompjs: socket closed before CONNECTED'))
    }
    client.activate()
  })
  return client
}
