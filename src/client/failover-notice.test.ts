/**
 * Goal: when the broker says it stops serving (ERROR with `sfbroker-reason`, sent by a stepping-down or stopping
 * sfbroker), the failover client logs the reason and fails over at once, to the other broker first, keeping its
 * subscriptions; a plain close still waits initialReconnectDelay. Also: a CONNECT refused with such an ERROR is
 * not taken for a login failure.
 * Method: two real StompServers over one recording FakeBroker on 127.0.0.1; the client runs on a FakeClock that the
 * test never advances in the at-once case, so a reconnect delay would never end (no wall-clock bound involved).
 */
import { afterEach, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import net from 'node:net'
import type { ConnectorConfig } from '../config/types.ts'
import { StompServer } from '../protocol/stomp/server.ts'
import { encodeFrame, REASON_HEADER } from '../protocol/stomp/index.ts'
import { FakeBroker } from '../protocol/stomp/testing/fake-broker.ts'
import { until } from '../testing/until.ts'
import { StompClient } from './client.ts'
import type { InterruptedInfo } from './client-types.ts'
import { FakeClock } from '../testing/fake-clock.ts'
import { configureLogging } from '../lib/log.ts'

const servers: StompServer[] = []
const clients: StompClient[] = []
const raws: net.Server[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) {
    c.removeAllListeners()
    await c.close()
  }
  await Promise.all(servers.splice(0).map((s) => s.close()))
  for (const r of raws.splice(0)) r.close()
})

async function server(broker: FakeBroker): Promise<{ srv: StompServer; uri: string }> {
  const connector: ConnectorConfig = {
    name: 't',
    uri: 'stomp://127.0.0.1:0',
    protocol: 'stomp',
    host: '127.0.0.1',
    port: 0,
    maximumConnections: 100,
    maxFrameSize: 1024 * 1024,
  }
  const srv = new StompServer({ broker, connector, serverName: 'sfbroker/test' })
  servers.push(srv)
  await srv.listen()
  return { srv, uri: `tcp://127.0.0.1:${srv.address().port}` }
}

async function twoBrokers() {
  const broker = new FakeBroker()
  const a = await server(broker)
  const b = await server(broker)
  const clock = new FakeClock()
  const client = new StompClient(
    `failover:(${a.uri},${b.uri})?randomize=false&initialReconnectDelay=5000&reconnectDelayJitter=0&timeout=-1`,
    { clock, heartbeat: [0, 0] },
  )
  clients.push(client)
  const resumed: string[] = []
  const interrupted: InterruptedInfo[] = []
  client.on('resumed', (i) => resumed.push(i.endpoint))
  client.on('interrupted', (i) => interrupted.push(i))
  await client.start()
  expect(client.endpoint).toBe(a.uri)
  return { broker, a, b, clock, client, resumed, interrupted }
}

// The test reads the client's WARN line; other test files in the same bun process may have silenced logging.
beforeAll(() => configureLogging('info', 'pretty'))

describe('StompClient and a broker that stops serving', () => {
  test('StompClient logs the reason of a not-primary ERROR and fails over at once to the other broker, resubscribed', async () => {
    const { broker, a, b, clock, client, resumed, interrupted } = await twoBrokers()
    const sub = client.subscribe('/queue/work', { ack: 'client-individual' })
    await sub.ready
    const stderr = spyOn(process.stderr, 'write')
    try {
      await a.srv.close({
        reason: 'not-primary',
        message: 'broker is no longer primary: keep-alive: lock file replaced',
      })
      // The clock never moves: a reconnect delay (5000 ms here) would never end.
      await until(() => resumed.length === 1, 'the client to resume on the other broker', 30_000, 10)
      const logged = stderr.mock.calls.map((c) => String(c[0])).join('')
      expect(logged).toContain(`${REASON_HEADER}: not-primary`)
      expect(logged).toContain('broker is no longer primary: keep-alive: lock file replaced')
    } finally {
      stderr.mockRestore()
    }
    expect(resumed).toEqual([b.uri])
    expect(client.endpoint).toBe(b.uri)
    expect(interrupted[0].error.message).toContain('broker is no longer primary: keep-alive: lock file replaced')
    expect(clock.requested).not.toContain(5000)
    // The subscription was restored on the new broker with the same id.
    const subscribes = broker.sessions.flatMap((s) => s.calls.filter((c) => c.op === 'subscribe'))
    expect(subscribes.length).toBe(2)
  })

  test('StompClient fails over at once on a shutdown ERROR too', async () => {
    const { b, client, resumed, a } = await twoBrokers()
    await a.srv.close({ reason: 'shutdown', message: 'broker is shutting down: SIGTERM' })
    await until(() => resumed.length === 1, 'the client to resume on the other broker', 30_000, 10)
    expect(client.endpoint).toBe(b.uri)
  })

  test('StompClient still waits initialReconnectDelay after a close without a word', async () => {
    const { b, clock, client, resumed, a } = await twoBrokers()
    await a.srv.close()
    await until(() => clock.pending().includes(5000), 'the reconnect delay to be scheduled', 30_000, 10)
    expect(resumed).toEqual([])
    clock.advance(5000)
    await until(() => resumed.length === 1, 'the client to resume after the delay', 30_000, 10)
    expect(client.endpoint).toBe(b.uri)
  })

  test('StompClient does not take a CONNECT refused with sfbroker-reason for a login failure', async () => {
    // A broker whose reason happens to contain words of a login failure ("permission denied").
    const raw = net.createServer((s) => {
      s.on('error', () => undefined)
      s.once('data', () =>
        s.end(
          encodeFrame(
            'ERROR',
            [
              ['message', 'broker is no longer primary: EACCES: permission denied'],
              [REASON_HEADER, 'not-primary'],
            ],
            null,
            '1.2',
          ),
        ),
      )
    })
    raws.push(raw)
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()))
    const broker = new FakeBroker()
    const good = await server(broker)
    const rawUri = `tcp://127.0.0.1:${(raw.address() as net.AddressInfo).port}`
    const client = new StompClient(`failover:(${rawUri},${good.uri})?randomize=false&timeout=-1`, { heartbeat: [0, 0] })
    clients.push(client)
    await client.start()
    expect(client.endpoint).toBe(good.uri)
    await client.close()
  })
})
