/**
 * A scripted STOMP 1.2 server for client tests: just enough broker (queues, dedupe by message-id, client acks,
 * redelivery marking, transactions) over a real net.Server on 127.0.0.1, with knobs to misbehave: `mute` stops
 * receipting SENDs (stored but unacknowledged, as a primary that dies between fsync and RECEIPT), and `kill()`
 * drops every socket and the listener at once (kill -9). Several servers can share one `FakeStore`, standing in for
 * the shared directory of a primary/replica pair. Test-only; not a broker.
 */
import * as net from 'node:net'
import { FrameParser, encodeFrame } from '../../protocol/stomp/index.ts'
import type { ClientFrame } from '../broker-link.ts'

export interface StoredMessage {
  messageId: string
  destination: string
  body: Uint8Array
  headers: Record<string, string>
  /** Delivered at least once (a later delivery is marked redelivered). */
  delivered: boolean
  acked: boolean
  /** Connection currently holding it unacked. */
  holder: number | null
}

export class FakeStore {
  readonly messages = new Map<string, StoredMessage>()
  /** SENDs dropped because their message-id was already stored. */
  duplicatesDropped = 0
}

interface Sub {
  id: string
  destination: string
  ack: string
}

interface Conn {
  id: number
  socket: net.Socket
  subs: Map<string, Sub>
  tx: Map<string, ClientFrame[]>
}

export class FakeStompServer {
  /** Every frame received, tagged with the connection number. */
  readonly frames: { conn: number; frame: ClientFrame }[] = []
  mute = false
  /** heart-beat header of CONNECTED: "sx,sy" (this server sends every sx ms, wants one every sy ms). It sends none itself. */
  heartBeat = '0,0'
  private server: net.Server
  private conns = new Map<number, Conn>()
  private connSeq = 0
  port = 0

  private constructor(
    readonly store: FakeStore,
    readonly name: string,
  ) {
    this.server = net.createServer((s) => this.accept(s))
  }

  /** Listen on `port` (0 = ephemeral) on 127.0.0.1. */
  static async start(store: FakeStore, name: string, port = 0): Promise<FakeStompServer> {
    const srv = new FakeStompServer(store, name)
    await new Promise<void>((resolve, reject) => {
      srv.server.once('error', reject)
      srv.server.listen(port, '127.0.0.1', () => resolve())
    })
    srv.port = (srv.server.address() as net.AddressInfo).port
    return srv
  }

  framesOf(command: string): ClientFrame[] {
    return this.frames.filter((f) => f.frame.command === command).map((f) => f.frame)
  }

  /** Drop every connection and stop listening, with no goodbye (like kill -9). Unacked messages become redeliverable. */
  async kill(): Promise<void> {
    for (const c of this.conns.values()) {
      c.socket.destroy()
      this.release(c)
    }
    this.conns.clear()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private accept(socket: net.Socket): void {
    const c: Conn = { id: ++this.connSeq, socket, subs: new Map(), tx: new Map() }
    this.conns.set(c.id, c)
    const parser = new FrameParser()
    parser.setVersion('1.2')
    socket.on('data', (chunk: Uint8Array) => {
      const frames: ClientFrame[] = []
      try {
        parser.push(chunk, (f) => void frames.push(f))
      } catch {
        socket.destroy()
        return
      }
      for (const f of frames) this.handle(c, f)
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      if (this.conns.delete(c.id)) this.release(c)
    })
  }

  private release(c: Conn): void {
    for (const m of this.store.messages.values()) if (m.holder === c.id) m.holder = null
  }

  private write(c: Conn, command: string, headers: Record<string, string>, body?: Uint8Array): void {
    if (!c.socket.destroyed)
      c.socket.write(encodeFrame(command, headers, body ?? null, command === 'CONNECTED' ? '1.0' : '1.2'))
  }

  private receipt(c: Conn, f: ClientFrame): void {
    const r = f.headers['receipt']
    if (r !== undefined) this.write(c, 'RECEIPT', { 'receipt-id': r })
  }

  private store_(f: ClientFrame): void {
    const id = f.headers['message-id'] ?? `gen-${Math.random()}`
    if (this.store.messages.has(id)) {
      this.store.duplicatesDropped++
      return
    }
    this.store.messages.set(id, {
      messageId: id,
      destination: f.headers['destination'],
      body: f.body,
      headers: { ...f.headers },
      delivered: false,
      acked: false,
      holder: null,
    })
  }

  private handle(c: Conn, f: ClientFrame): void {
    this.frames.push({ conn: c.id, frame: f })
    switch (f.command) {
      case 'CONNECT':
      case 'STOMP':
        this.write(c, 'CONNECTED', {
          version: '1.2',
          'heart-beat': this.heartBeat,
          server: `fake/${this.name}`,
          session: `${this.name}-${c.id}`,
        })
        return
      case 'SEND': {
        const tx = f.headers['transaction']
        if (tx !== undefined) {
          c.tx.get(tx)?.push(f)
          this.receipt(c, f)
          return
        }
        this.store_(f)
        if (!this.mute) this.receipt(c, f)
        this.dispatchAll()
        return
      }
      case 'SUBSCRIBE':
        c.subs.set(f.headers['id'], {
          id: f.headers['id'],
          destination: f.headers['destination'],
          ack: f.headers['ack'] ?? 'auto',
        })
        this.receipt(c, f)
        this.dispatchAll()
        return
      case 'UNSUBSCRIBE':
        c.subs.delete(f.headers['id'])
        this.receipt(c, f)
        return
      case 'ACK': {
        const m = this.store.messages.get(f.headers['id'])
        if (m && m.holder === c.id) m.acked = true
        this.receipt(c, f)
        return
      }
      case 'NACK': {
        const m = this.store.messages.get(f.headers['id'])
        if (m && m.holder === c.id) m.holder = null
        this.receipt(c, f)
        this.dispatchAll()
        return
      }
      case 'BEGIN':
        c.tx.set(f.headers['transaction'], [])
        this.receipt(c, f)
        return
      case 'COMMIT': {
        const frames = c.tx.get(f.headers['transaction']) ?? []
        c.tx.delete(f.headers['transaction'])
        if (this.mute) return
        for (const s of frames) this.store_(s)
        this.receipt(c, f)
        this.dispatchAll()
        return
      }
      case 'ABORT':
        c.tx.delete(f.headers['transaction'])
        this.receipt(c, f)
        return
      case 'DISCONNECT':
        this.receipt(c, f)
        c.socket.end()
        return
    }
  }

  /** Hand every free, unacked message to the first subscription on its destination. */
  private dispatchAll(): void {
    for (const m of this.store.messages.values()) {
      if (m.acked || m.holder !== null) continue
      for (const c of this.conns.values()) {
        const sub = [...c.subs.values()].find((s) => s.destination === m.destination)
        if (!sub) continue
        const headers: Record<string, string> = {
          subscription: sub.id,
          'message-id': m.messageId,
          destination: m.destination,
          ack: m.messageId,
        }
        if (m.delivered) headers.redelivered = 'true'
        m.delivered = true
        if (sub.ack === 'auto') m.acked = true
        else m.holder = c.id
        this.write(c, 'MESSAGE', headers, m.body)
        break
      }
    }
  }
}
