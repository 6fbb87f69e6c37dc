/**
 * Goal: heart-beat negotiation and the dead-broker check. A broker that promised heart-beats and then sends nothing
 * is declared dead after interval x HEARTBEAT_GRACE_FACTOR on the client's Clock; the client sends heart-beats when
 * it is idle. Method: FakeStompServer (silent by nature) and a FakeClock driven by hand.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import * as net from 'node:net'
import { isBrokerError } from '../lib/errors.ts'
import { parseBrokerUri } from './failover-uri.ts'
import { StompConnection } from './stomp-connection.ts'
import { FakeClock } from './testing/fake-clock.ts'
import { FakeStompServer, FakeStore } from './testing/fake-stomp-server.ts'

const servers: FakeStompServer[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.kill()
})

describe('StompConnection heart-beats', () => {
  test('StompConnection closes a connection whose broker stops sending heart-beats', async () => {
    const srv = await FakeStompServer.start(new FakeStore(), 'hb')
    servers.push(srv)
    srv.heartBeat = '1000,0'
    const clock = new FakeClock()
    let closedWith: Error | undefined
    const conn = await StompConnection.open({
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

  test('StompConnection sends heart-beats while idle', async () => {
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
    const conn = await StompConnection.open({
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
