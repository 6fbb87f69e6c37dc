/**
 * Goal: a connector that stops serving (step-down, shutdown) tells every client why before the close: an ERROR with
 * `message`, `code` and `sfbroker-reason`, after what was already queued; nothing sent afterwards is applied; and a
 * client that does not read cannot hold the close beyond the goodbye linger.
 * Method: StompServer over the recording FakeBroker, raw clients on real 127.0.0.1 sockets. Bounds are generous
 * (seconds) against a linger of a fraction of that: they only catch "never closes", not speed.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { ConnectorConfig } from '../../config/types.ts'
import { StompServer, type StompServerOptions } from './server.ts'
import { REASON_HEADER } from './connection.ts'
import { FakeBroker, delivery } from './testing/fake-broker.ts'
import { RawClient, frame } from './testing/raw-client.ts'

const servers: StompServer[] = []
const clients: RawClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

function connector(): ConnectorConfig {
  return {
    name: 'test',
    uri: 'stomp://127.0.0.1:0',
    protocol: 'stomp',
    host: '127.0.0.1',
    port: 0,
    maximumConnections: 1000,
    maxFrameSize: 100 * 1024 * 1024,
  }
}

async function start(opts: Partial<StompServerOptions> = {}) {
  const broker = new FakeBroker()
  const server = new StompServer({ broker, connector: connector(), serverName: 'sfbroker/test', ...opts })
  servers.push(server)
  await server.listen()
  return { broker, server, port: server.address().port }
}

async function connected(port: number) {
  const c = await RawClient.connect(port)
  clients.push(c)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }))
  expect((await c.frame(0)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  return c
}

describe('StompServer close(goodbye)', () => {
  test('StompServer close(goodbye) sends every client an ERROR with sfbroker-reason after its pending RECEIPTs, then closes', async () => {
    const { broker, server, port } = await start()
    const a = await connected(port)
    const b = await connected(port)
    a.write(frame('SEND', { destination: '/queue/a', receipt: 's1' }, 'x'))
    await a.receipt('s1')
    await server.close({
      reason: 'not-primary',
      message: 'broker is no longer primary: keep-alive: lock file replaced',
    })
    for (const c of [a, b]) {
      await c.waitClosed(10_000)
      const err = c.frames.at(-1)!
      expect(err.command).toBe('ERROR')
      expect(err.headers[REASON_HEADER]).toBe('not-primary')
      expect(err.headers.message).toBe('broker is no longer primary: keep-alive: lock file replaced')
      expect(err.headers.code).toBe('BROKER_STOPPED')
      expect(new TextDecoder().decode(err.body)).toContain('no longer primary')
    }
    expect(broker.sessions.every((s) => s.closed)).toBe(true)
    expect(server.connections()).toBe(0)
  })

  test('StompServer close(goodbye) for a shutdown says so in the reason header', async () => {
    const { server, port } = await start()
    const c = await connected(port)
    await server.close({ reason: 'shutdown', message: 'broker is shutting down: SIGTERM' })
    await c.waitClosed(10_000)
    expect(c.frames.at(-1)!.headers[REASON_HEADER]).toBe('shutdown')
    expect(c.frames.at(-1)!.headers.message).toBe('broker is shutting down: SIGTERM')
  })

  test('StompServer close(goodbye) applies nothing a client sends after the ERROR', async () => {
    const { broker, server, port } = await start()
    const c = await connected(port)
    const closing = server.close({ reason: 'not-primary', message: 'broker is no longer primary: fenced' })
    c.write(frame('SEND', { destination: '/queue/a', receipt: 'late' }, 'late'))
    await closing
    await c.waitClosed(10_000)
    expect(broker.sessions[0].calls.filter((x) => x.op === 'send')).toEqual([])
    expect(c.frames.some((f) => f.command === 'RECEIPT')).toBe(false)
  })

  test('StompServer close(goodbye) does not wait for a client that stops reading beyond goodbyeLingerMs', async () => {
    const { broker, server, port } = await start({ goodbyeLingerMs: 300 })
    const c = await connected(port)
    c.write(frame('SUBSCRIBE', { id: 's', destination: '/queue/a', ack: 'client-individual', receipt: 'sub' }))
    await c.receipt('sub')
    c.pause()
    // Fill the kernel buffers both ways: ~64 MiB of MESSAGE frames to a client that reads nothing.
    const deliver = broker.sessions[0].deliverTo.get('s')!
    const body = new Uint8Array(1024 * 1024).fill(0x61)
    for (let i = 0; i < 64; i++) deliver(delivery('s', i, { body }))
    await Bun.sleep(50)
    const t0 = Date.now()
    await server.close({ reason: 'not-primary', message: 'broker is no longer primary: lost' })
    // The listener closes once every socket is gone: bounded by the linger (300 ms), not by the client.
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(server.connections()).toBe(0)
    expect(broker.sessions[0].closed).toBe(true)
  })
})
