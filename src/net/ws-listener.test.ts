/**
 * Goal: a ws:// listener refuses what it must before the upgrade (wrong subprotocol, plain HTTP, too many
 * pending handshakes, a silent socket), closes an over-size message's connection only, serves wss:// with the
 * connectors' TLS, and a WsDuplex gives a writer backpressure when its client stops reading.
 * Method: a real WsListener on 127.0.0.1 port 0; raw TCP sockets speaking HTTP by hand for the refusals (the
 * answer is read to EOF), the `ws` client for the rest. Everything waits on events or a polled condition (the
 * kit's `until`), never on fixed sleeps.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import { WebSocket } from 'ws'
import { tempDir } from '../testing/temp-dir.ts'
import { makeTestPki } from '../testing/tls-certs.ts'
import { until } from '../testing/until.ts'
import { TlsContextSource } from './tls-context.ts'
import type { WsDuplex } from './ws-duplex.ts'
import { WsListener, type WsConnectionInfo, type WsListenerOptions, type WsRefusal } from './ws-listener.ts'

const listeners: WsListener[] = []
afterAll(async () => {
  for (const l of listeners) await l.close()
})

interface Served {
  listener: WsListener
  port: number
  conns: Array<{ socket: WsDuplex; info: WsConnectionInfo }>
  refused: WsRefusal[]
  /** Resolves with the next upgraded connection. */
  next(): Promise<{ socket: WsDuplex; info: WsConnectionInfo }>
}

async function serve(opts: Partial<WsListenerOptions> = {}): Promise<Served> {
  const conns: Served['conns'] = []
  const refused: WsRefusal[] = []
  const waiters: Array<(c: Served['conns'][number]) => void> = []
  const listener = new WsListener({
    where: 'connector ws (ws://127.0.0.1:0)',
    host: '127.0.0.1',
    port: 0,
    serves: ['stomp', 'mqtt'],
    messageBytesMax: 64 * 1024,
    pendingUpgradesMax: 8,
    upgradeTimeoutMs: 10_000,
    onConnection: (socket, info) => {
      socket.on('error', () => {})
      const c = { socket, info }
      conns.push(c)
      waiters.shift()?.(c)
    },
    onRefused: (why) => refused.push(why),
    ...opts,
  })
  listeners.push(listener)
  await listener.listen()
  return {
    listener,
    port: listener.address().port,
    conns,
    refused,
    next: () => new Promise((resolve) => waiters.push(resolve)),
  }
}

/** Send `request` on a raw socket and read the answer until the server closes. */
function rawHttp(port: number, request: string | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const chunks: Buffer[] = []
    s.on('data', (b: Buffer) => chunks.push(b))
    s.on('error', reject)
    s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
    if (request !== null) s.write(request)
  })
}

function upgradeRequest(protocols?: string): string {
  return (
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
    (protocols === undefined ? '' : `Sec-WebSocket-Protocol: ${protocols}\r\n`) +
    '\r\n'
  )
}

function open(url: string, protocols: string[], opts: { ca?: Buffer } = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, opts)
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

describe('WsListener refusals before the upgrade', () => {
  test('WsListener refuses a subprotocol it does not serve with HTTP 400 naming what it serves', async () => {
    const s = await serve()
    const answer = await rawHttp(s.port, upgradeRequest('amqp, xmpp'))
    expect(answer).toStartWith('HTTP/1.1 400 ')
    expect(answer).toContain('WebSocket subprotocol amqp, xmpp not served here; expected one of v12.stomp')
    expect(answer).toContain('mqtt')
    expect(s.refused).toEqual(['WebSocket subprotocol refused'])
    expect(s.conns.length).toBe(0)
  })

  test('WsListener answers a plain HTTP request with 426 and closes', async () => {
    const s = await serve()
    const answer = await rawHttp(s.port, 'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n')
    expect(answer).toStartWith('HTTP/1.1 426 ')
    expect(answer).toContain('GET /index.html is not a WebSocket upgrade')
    expect(s.listener.pendingUpgrades()).toBe(0)
  })

  test('WsListener answers 400 to a malformed request and keeps serving', async () => {
    const s = await serve()
    expect(await rawHttp(s.port, 'NOT HTTP AT ALL\r\n\r\n')).toStartWith('HTTP/1.1 400 ')
    const ws = await open(`ws://127.0.0.1:${s.port}`, ['v12.stomp'])
    expect(ws.protocol).toBe('v12.stomp')
    ws.terminate()
  })

  test('WsListener closes a socket that sends no upgrade within upgradeTimeoutMs, with 408', async () => {
    const s = await serve({ upgradeTimeoutMs: 300 })
    const answer = await rawHttp(s.port, null)
    expect(answer).toStartWith('HTTP/1.1 408 ')
    expect(s.refused).toEqual(['WebSocket upgrade timed out'])
    expect(s.listener.pendingUpgrades()).toBe(0)
  })

  test('WsListener refuses a socket over pendingUpgradesMax with 503; upgraded ones do not count', async () => {
    const s = await serve({ pendingUpgradesMax: 2 })
    const upgraded = await open(`ws://127.0.0.1:${s.port}`, ['mqtt'])
    const silent = [net.connect({ port: s.port, host: '127.0.0.1' }), net.connect({ port: s.port, host: '127.0.0.1' })]
    for (const k of silent) k.on('error', () => {})
    await Promise.all(silent.map((k) => new Promise((r) => k.once('connect', r))))
    // The third silent socket: its accept happens after the two above (one listener, accepted in order).
    await until(() => s.listener.pendingUpgrades() >= 2, 'two pending upgrades', 10_000, 10)
    const answer = await rawHttp(s.port, null)
    expect(answer).toStartWith('HTTP/1.1 503 ')
    expect(answer).toContain('2 WebSocket upgrades pending (pendingUpgradesMax)')
    for (const k of silent) k.destroy()
    upgraded.terminate()
  })

  test('WsListener admit() refusal answers 503 with its message', async () => {
    const s = await serve({ admit: () => 'maximumConnections 0 reached, try again later' })
    const answer = await rawHttp(s.port, upgradeRequest('v12.stomp'))
    expect(answer).toStartWith('HTTP/1.1 503 ')
    expect(answer).toContain('maximumConnections 0 reached')
  })
})

describe('WsListener connections', () => {
  test('WsListener picks the protocol by subprotocol; none offered is STOMP, as in ActiveMQ', async () => {
    const s = await serve()
    const cases: Array<[string[], string, string | null]> = [
      [['v10.stomp', 'v12.stomp'], 'stomp', 'v12.stomp'],
      [['mqtt'], 'mqtt', 'mqtt'],
      [['mqttv3.1'], 'mqtt', 'mqttv3.1'],
      [[], 'stomp', null],
    ]
    for (const [offer, protocol, sub] of cases) {
      const next = s.next()
      const ws = await open(`ws://127.0.0.1:${s.port}`, offer)
      const c = await next
      expect([c.info.protocol, c.info.subprotocol, ws.protocol]).toEqual([protocol, sub, sub ?? ''] as never)
      ws.terminate()
    }
  })

  test('WsDuplex carries bytes both ways: text for UTF-8 on STOMP, binary for MQTT', async () => {
    const s = await serve()
    for (const [offer, textExpected] of [
      ['v12.stomp', true],
      ['mqtt', false],
    ] as const) {
      const next = s.next()
      const ws = await open(`ws://127.0.0.1:${s.port}`, [offer])
      const { socket } = await next
      const got = new Promise<Buffer>((r) => socket.once('data', r))
      ws.send(Buffer.from('CONNECT\n\n\0'))
      expect((await got).toString()).toBe('CONNECT\n\n\0')
      const reply = new Promise<[string, boolean]>((r) => ws.once('message', (d, bin) => r([String(d), bin])))
      socket.write('CONNECTED\nversion:1.2\n\n\0')
      const [data, isBinary] = await reply
      expect([data, isBinary]).toEqual(['CONNECTED\nversion:1.2\n\n\0', !textExpected])
      const bin = new Promise<boolean>((r) => ws.once('message', (_d, b) => r(b)))
      socket.write(Buffer.from([0xff, 0xfe, 0x00]))
      expect(await bin).toBe(true)
      expect([socket.remoteAddress, typeof socket.remotePort]).toEqual(['127.0.0.1', 'number'])
      const closed = new Promise((r) => socket.once('close', r))
      ws.close()
      await closed
    }
  })

  test('WsListener closes only the connection of an over-size message (1009) and keeps serving', async () => {
    const s = await serve({ messageBytesMax: 1024 })
    const next = s.next()
    const ws = await open(`ws://127.0.0.1:${s.port}`, ['v12.stomp'])
    const { socket } = await next
    const serverClosed = new Promise((r) => socket.once('close', r))
    const code = new Promise<number>((r) => ws.once('close', (c) => r(c)))
    ws.send(Buffer.alloc(1025, 0x41))
    expect(await code).toBe(1009)
    await serverClosed
    const again = await open(`ws://127.0.0.1:${s.port}`, ['v12.stomp'])
    again.send(Buffer.alloc(1024, 0x41))
    const ok = s.conns[1]!.socket
    await new Promise((r) => ok.once('data', r))
    again.terminate()
  })

  test('WsDuplex end() sends a normal close after the queued messages', async () => {
    const s = await serve()
    const next = s.next()
    const ws = await open(`ws://127.0.0.1:${s.port}`, ['v12.stomp'])
    const { socket } = await next
    const msgs: string[] = []
    ws.on('message', (d) => msgs.push(String(d)))
    const code = new Promise<number>((r) => ws.once('close', (c) => r(c)))
    socket.write('ERROR\nmessage:bye\n\n\0')
    socket.end()
    expect(await code).toBe(1000)
    expect(msgs).toEqual(['ERROR\nmessage:bye\n\n\0'])
  })

  test('WsDuplex: a client that stops reading makes write() return false with bounded buffering, then drains', async () => {
    const sendBufferBytesMax = 256 * 1024
    const s = await serve({ sendBufferBytesMax })
    const next = s.next()
    // A client that completes the handshake by hand, then stops reading its TCP socket.
    const client = net.connect({ host: '127.0.0.1', port: s.port })
    client.write(upgradeRequest('mqtt'))
    let head = Buffer.alloc(0)
    await new Promise<void>((resolve) => {
      const onData = (b: Buffer): void => {
        head = Buffer.concat([head, b])
        if (head.includes('\r\n\r\n')) {
          client.off('data', onData)
          client.pause()
          resolve()
        }
      }
      client.on('data', onData)
    })
    expect(head.toString('latin1')).toStartWith('HTTP/1.1 101 ')
    const { socket } = await next
    const chunk = Buffer.alloc(64 * 1024, 0x42)
    let written = 0
    // Kernel buffers on both sides take some MiB; the stream must say "full" long before this.
    const bound = 256 * 1024 * 1024
    while (written < bound) {
      written += chunk.length
      if (!socket.write(chunk)) break
      if (written % (4 * 1024 * 1024) === 0) await new Promise((r) => setImmediate(r))
    }
    expect(written).toBeLessThan(bound)
    expect(socket.writableLength).toBeLessThanOrEqual(sendBufferBytesMax + chunk.length)
    // Reading again lets every message through: 'drain', then all bytes (payload plus a 10-byte header each:
    // 64 KiB needs the 64-bit length form, RFC 6455 §5.2).
    let received = head.length - head.indexOf('\r\n\r\n') - 4
    client.on('data', (b: Buffer) => (received += b.length))
    const drained = new Promise((r) => socket.once('drain', r))
    client.resume()
    await drained
    const messages = written / chunk.length
    await new Promise<void>((resolve) => {
      const check = (): void => void (received >= written + messages * 10 && resolve())
      client.on('data', check)
      check()
    })
    expect(received).toBe(written + messages * 10)
    client.destroy()
  })

  test('WsDuplex pause() pauses the TCP socket beneath; resume() delivers what waited, in order', async () => {
    const s = await serve()
    const next = s.next()
    const ws = await open(`ws://127.0.0.1:${s.port}`, ['mqtt'])
    const { socket } = await next
    const got: string[] = []
    socket.on('data', (b: Buffer) => got.push(b.toString()))
    socket.pause()
    expect(socket.socket.isPaused()).toBe(true)
    ws.send('a')
    ws.send('b')
    const both = new Promise<void>((r) => socket.on('data', () => got.length === 2 && r()))
    socket.resume()
    expect(socket.socket.isPaused()).toBe(false)
    await both
    expect(got).toEqual(['a', 'b'])
    ws.terminate()
  })
})

describe('WsListener wss://', () => {
  const dir = tempDir('sfb-wss-')

  test('WsListener serves wss:// with the connector TLS options and refuses a plaintext client', async () => {
    const pki = makeTestPki(dir)
    const source = new TlsContextSource(
      {
        keyStore: null,
        keyStorePassword: null,
        trustStore: null,
        trustStorePassword: null,
        keyFile: pki.serverKey,
        certFile: pki.serverPem,
        caFile: null,
        keyPassword: null,
      },
      'sslContext',
    )
    const s = await serve({
      where: 'connector wss (wss://127.0.0.1:0)',
      tls: {
        config: {
          needClientAuth: false,
          wantClientAuth: false,
          enabledProtocols: ['TLSv1.2', 'TLSv1.3'],
          enabledCipherSuites: null,
        },
        source,
      },
      upgradeTimeoutMs: 2000,
    })
    const next = s.next()
    const ws = await open(`wss://localhost:${s.port}`, ['v11.stomp'], { ca: fs.readFileSync(pki.caPem) })
    const { socket, info } = await next
    expect([ws.protocol, info.protocol]).toEqual(['v11.stomp', 'stomp'])
    const got = new Promise<Buffer>((r) => socket.once('data', r))
    ws.send('CONNECT\n\n\0')
    expect(String(await got)).toBe('CONNECT\n\n\0')
    ws.terminate()
    // A plaintext upgrade on the TLS port fails the handshake: closed, counted, nothing upgraded.
    await rawHttp(s.port, upgradeRequest('v12.stomp'))
    expect(s.refused).toContain('TLS handshake failed')
    expect(s.conns.length).toBe(1)
  }, 30_000)
})
