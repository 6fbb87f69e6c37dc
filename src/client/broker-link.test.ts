/**
 * Goal: heart-beat negotiation and the dead-broker check. A broker that promised heart-beats and then sends nothing
 * is declared dead after interval x HEARTBEAT_GRACE_FACTOR on the client's Clock; the client sends heart-beats when
 * it is idle. Method: FakeStompServer (silent by nature) and a FakeClock driven by hand.
 * Also: the client reads broker frames with the protocol's FrameParser under clientFrameLimits (escapes per the
 * negotiated version, even for frames in the same read as CONNECTED; NUL bodies; the endpoint's maxFrameSize).
 * Method: a raw TCP server writing exact bytes.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import * as net from 'node:net'
import { isBrokerError } from '../lib/errors.ts'
import { DEFAULT_FRAME_LIMITS, FrameParser, encodeFrame } from '../protocol/stomp/index.ts'
import { parseBrokerUri } from './failover-uri.ts'
import { BrokerLink, clientFrameLimits, type ClientFrame } from './broker-link.ts'
import { systemClock } from '../lib/clock.ts'
import { FakeClock } from '../testing/fake-clock.ts'
import { FakeStompServer, FakeStore } from './testing/fake-stomp-server.ts'

const servers: FakeStompServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.kill()
})

describe('BrokerLink heart-beats', () => {
  test('BrokerLink closes a connection whose broker stops sending heart-beats', async () => {
    const srv = await FakeStompServer.start(new FakeStore(), 'hb')
    servers.push(srv)
    srv.heartBeat = '1000,0'
    const clock = new FakeClock()
    let closedWith: Error | undefined
    const conn = await BrokerLink.open({
      endpoint: parseBrokerUri(`tcp://127.0.0.1:${srv.port}`).endpoints[0],
      heartbeat: [0, 2000],
      clock,
      onFrame: () => undefined,
      onClose: (e) => (closedWith = e),
    })
    expect(conn.version).toBe('1.2')
    // Negotiated read interval: max(cy=2000, sx=1000) = 2000, with grace 1.5 -> dead after 3000 ms of silence.
    expect(clock.pending()).toEqual([3001])
    clock.advance(3000)
    expect(conn.isOpen).toBe(true)
    clock.advance(1)
    expect(conn.isOpen).toBe(false)
    expect(isBrokerError(closedWith, 'CLIENT_DISCONNECTED')).toBe(true)
    expect(closedWith?.message).toContain('heart-beat')
  })

  test('BrokerLink sends heart-beats while idle', async () => {
    let received = ''
    const raw = net.createServer((s) => {
      s.on('data', (d) => {
        received += String(d)
        if (received.includes('CONNECT') && received.includes('\0') && !received.includes('#sent')) {
          received += '#sent'
          s.write('CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\0')
        }
      })
      s.on('error', () => undefined)
    })
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()))
    const port = (raw.address() as net.AddressInfo).port
    const clock = new FakeClock()
    const conn = await BrokerLink.open({
      endpoint: parseBrokerUri(`tcp://127.0.0.1:${port}`).endpoints[0],
      heartbeat: [500, 0],
      clock,
      onFrame: () => undefined,
      onClose: () => undefined,
    })
    const before = received.length
    // Send interval max(cx=500, sy=1000) = 1000, ticking every 500.
    clock.advance(500)
    const end = Date.now() + 5000
    while (received.length === before && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
    expect(received.slice(before)).toBe('\n')
    conn.destroy()
    await new Promise<void>((r) => raw.close(() => r()))
  })
})

/** A raw server that answers the first CONNECT with `reply` (exact bytes); resolves with its port and a closer. */
async function rawServer(reply: Uint8Array): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets: net.Socket[] = []
  const srv = net.createServer((s) => {
    sockets.push(s)
    let seen = ''
    s.on('data', (d) => {
      seen += String(d)
      if (seen.includes('\0') && !seen.includes('#replied')) {
        seen += '#replied'
        s.write(reply)
      }
    })
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as net.AddressInfo).port
  return { port, close: () => new Promise<void>((r) => (sockets.forEach((s) => s.destroy()), srv.close(() => r()))) }
}

function join(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts)
}

describe('BrokerLink reading broker frames', () => {
  test('BrokerLink unescapes frames that arrive in the same read as CONNECTED per the negotiated version', async () => {
    const body = new Uint8Array([1, 0, 2, 10, 0, 255])
    const wire = join([
      encodeFrame(
        'CONNECTED',
        [
          ['version', '1.2'],
          ['server', 'raw\\c'],
        ],
        null,
        '1.2',
      ),
      new TextEncoder().encode('\n\r\n'),
      encodeFrame(
        'MESSAGE',
        [
          ['destination', '/queue/a'],
          ['message-id', 'ID:x:1'],
          ['odd', 'a\nb\\c:d\re'],
          ['odd', 'second'],
        ],
        body,
        '1.2',
      ),
      encodeFrame('RECEIPT', [['receipt-id', 'r-1']], null, '1.2'),
    ])
    const srv = await rawServer(wire)
    const frames: ClientFrame[] = []
    const conn = await BrokerLink.open({
      endpoint: parseBrokerUri(`tcp://127.0.0.1:${srv.port}`).endpoints[0],
      heartbeat: [0, 0],
      clock: systemClock,
      onFrame: (f) => void frames.push(f),
      onClose: () => undefined,
    })
    try {
      const end = Date.now() + 5000
      while (frames.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
      expect(conn.version).toBe('1.2')
      // CONNECTED headers are never unescaped.
      expect(conn.connected.server).toBe('raw\\c')
      expect(frames.map((f) => f.command)).toEqual(['MESSAGE', 'RECEIPT'])
      expect(frames[0].headers.odd).toBe('a\nb\\c:d\re')
      expect(frames[0].headers['message-id']).toBe('ID:x:1')
      expect([...frames[0].body]).toEqual([...body])
    } finally {
      conn.destroy()
      await srv.close()
    }
  })

  test('BrokerLink closes with STOMP_FRAME_TOO_LARGE on a frame over the endpoint wireFormat.maxFrameSize', async () => {
    const wire = join([
      encodeFrame('CONNECTED', [['version', '1.2']], null, '1.2'),
      encodeFrame('MESSAGE', [['destination', '/queue/a']], new Uint8Array(4096), '1.2'),
    ])
    const srv = await rawServer(wire)
    let closedWith: Error | undefined
    let closed = false
    const frames: ClientFrame[] = []
    await BrokerLink.open({
      endpoint: parseBrokerUri(`tcp://127.0.0.1:${srv.port}?wireFormat.maxFrameSize=2048`).endpoints[0],
      heartbeat: [0, 0],
      clock: systemClock,
      onFrame: (f) => void frames.push(f),
      onClose: (e) => ((closedWith = e), (closed = true)),
    })
    try {
      const end = Date.now() + 5000
      while (!closed && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
      expect(frames).toEqual([])
      expect(isBrokerError(closedWith, 'STOMP_FRAME_TOO_LARGE')).toBe(true)
    } finally {
      await srv.close()
    }
  })

  test('clientFrameLimits accept a MESSAGE with more headers than the broker takes in, and bound bodies', () => {
    // A producer may send DEFAULT_FRAME_LIMITS.headersMax headers; the broker adds its own on the MESSAGE.
    const headers: Array<[string, string]> = [['destination', '/queue/a']]
    for (let i = 0; i < DEFAULT_FRAME_LIMITS.headersMax + 10; i++) headers.push([`h${i}`, String(i)])
    const p = new FrameParser(clientFrameLimits(1 << 20))
    p.setVersion('1.2')
    const got: ClientFrame[] = []
    const big = new Uint8Array(300_000).map((_, i) => i % 251)
    const wire = join([encodeFrame('MESSAGE', headers, null, '1.2'), encodeFrame('MESSAGE', [['a', 'b']], big, '1.2')])
    // A large body arriving in many small reads.
    for (let i = 0; i < wire.length; i += 4096) p.push(wire.subarray(i, i + 4096), (f) => void got.push(f))
    expect(got.length).toBe(2)
    expect(got[0].headers[`h${DEFAULT_FRAME_LIMITS.headersMax + 9}`]).toBe(String(DEFAULT_FRAME_LIMITS.headersMax + 9))
    expect(got[1].body.length).toBe(big.length)
    expect(got[1].body[299_999]).toBe(big[299_999])
    const q = new FrameParser(clientFrameLimits(1024))
    let err: unknown
    try {
      q.push(encodeFrame('MESSAGE', [['a', 'b']], new Uint8Array(2000), '1.2'), () => undefined)
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'STOMP_FRAME_TOO_LARGE')).toBe(true)
  })
})
