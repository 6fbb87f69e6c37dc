/**
 * MqttServer end to end with the real MQTT.js client (3.1.1 and 5) on 127.0.0.1, over the MemoryCore: publish and
 * subscribe at each QoS, retained, user properties, close() ending every client (MQTT 5: DISCONNECT 0x8B), and
 * admission: CONNACK refusals over maximumConnections(PerAddress), silent sockets shed from the pre-CONNECT budget.
 * Waits are on client events, never on sleeps.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import mqtt, { type MqttClient } from 'mqtt'
import net from 'node:net'
import { until } from '../../testing/until.ts'
import { MqttServer } from './server.ts'
import { MemoryCore } from './memory-core.ts'

const servers: MqttServer[] = []
const clients: MqttClient[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true)
  for (const s of servers.splice(0)) await s.close()
})

async function start(opts: Partial<ConstructorParameters<typeof MqttServer>[0]> = {}): Promise<MqttServer> {
  const s = new MqttServer({ core: new MemoryCore(), host: '127.0.0.1', port: 0, ...opts })
  servers.push(s)
  await s.listen()
  return s
}

function connect(s: MqttServer, protocolVersion: 4 | 5, clientId: string): Promise<MqttClient> {
  const c = mqtt.connect({ host: '127.0.0.1', port: s.address().port, protocolVersion, clientId, reconnectPeriod: 0 })
  clients.push(c)
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

function nextMessage(
  c: MqttClient,
): Promise<{ topic: string; payload: string; packet: { retain: boolean; properties?: object } }> {
  return new Promise((resolve) =>
    c.once('message', (topic, payload, packet) => resolve({ topic, payload: payload.toString(), packet })),
  )
}

describe('MqttServer', () => {
  for (const version of [4, 5] as const) {
    test(`MqttServer carries QoS 0, 1 and 2 and retained messages for MQTT.js v${version}`, async () => {
      const s = await start()
      const sub = await connect(s, version, `sub${version}`)
      const pub = await connect(s, version, `pub${version}`)
      await pub.publishAsync('r/x', 'kept', { qos: 1, retain: true })
      const retained = nextMessage(sub)
      await sub.subscribeAsync('r/#', { qos: 2 })
      expect(await retained).toMatchObject({ topic: 'r/x', payload: 'kept', packet: { retain: true } })
      for (const qos of [0, 1, 2] as const) {
        const got = nextMessage(sub)
        await pub.publishAsync('r/y.z', `q${qos}`, { qos })
        expect(await got).toMatchObject({ topic: 'r/y.z', payload: `q${qos}` })
      }
      expect(s.connections()).toBe(2)
    })
  }

  test('MqttServer carries MQTT 5 user properties and close() sends DISCONNECT 0x8B', async () => {
    const s = await start()
    const sub = await connect(s, 5, 'sub')
    const pub = await connect(s, 5, 'pub')
    await sub.subscribeAsync('p', { qos: 1 })
    const got = nextMessage(sub)
    await pub.publishAsync('p', 'x', { qos: 1, properties: { userProperties: { a: '1' }, contentType: 'text/plain' } })
    expect((await got).packet.properties).toMatchObject({ userProperties: { a: '1' }, contentType: 'text/plain' })
    const disconnected = new Promise<number | undefined>((resolve) =>
      sub.once('disconnect', (p) => resolve(p.reasonCode)),
    )
    await s.close()
    expect(await disconnected).toBe(0x8b)
  })

  test('MqttServer answers a CONNECT over maximumConnections with CONNACK 0x89 (v5) or 3 (3.1.1)', async () => {
    const s = await start({ maximumConnections: 1 })
    await connect(s, 4, 'one')
    for (const [protocolVersion, code] of [
      [5, 0x89],
      [4, 3],
    ] as const) {
      const c = mqtt.connect({
        host: '127.0.0.1',
        port: s.address().port,
        clientId: `x${protocolVersion}`,
        protocolVersion,
        reconnectPeriod: 0,
      })
      clients.push(c)
      const err = await new Promise<{ code?: number }>((resolve) =>
        c.once('error', (e) => resolve(e as { code?: number })),
      )
      expect(err.code).toBe(code)
    }
    expect(s.refused).toBe(2)
    expect(s.connections()).toBe(1)
  })

  test('MqttServer answers a CONNECT over maximumConnectionsPerAddress with CONNACK 0x97 and closes a silent one', async () => {
    const s = await start({ maximumConnections: 10, maximumConnectionsPerAddress: 1, refuseConnectTimeoutMs: 200 })
    await connect(s, 5, 'one')
    const c = mqtt.connect({
      host: '127.0.0.1',
      port: s.address().port,
      clientId: 'two',
      protocolVersion: 5,
      reconnectPeriod: 0,
    })
    clients.push(c)
    const err = await new Promise<{ code?: number }>((resolve) =>
      c.once('error', (e) => resolve(e as { code?: number })),
    )
    expect(err.code).toBe(0x97)
    // A refused socket that never sends CONNECT is closed after the short bound, without an answer.
    const silent = net.connect(s.address().port, '127.0.0.1')
    const got: Buffer[] = []
    silent.on('data', (b: Buffer) => got.push(b))
    await new Promise<void>((resolve) => silent.once('close', () => resolve()))
    expect(got).toEqual([])
    expect(s.refused).toBe(2)
  })

  test('MqttServer sheds the oldest silent socket when maximumPendingConnects is full, never a connected client', async () => {
    const s = await start({ maximumConnections: 10, maximumPendingConnects: 2, maximumPendingConnectsPerAddress: 2 })
    const first = await connect(s, 4, 'first')
    const silent = [net.connect(s.address().port, '127.0.0.1'), net.connect(s.address().port, '127.0.0.1')]
    const closed = silent.map((k) => new Promise<void>((resolve) => k.once('close', () => resolve())))
    for (const k of silent) k.on('error', () => {})
    await Promise.all(silent.map((k) => new Promise<void>((resolve) => k.once('connect', () => resolve()))))
    await until(() => s.pendingConnections() === 2, 'two silent sockets pending', 5_000, 10)
    // A real client gets in; the oldest silent socket makes room for it.
    await connect(s, 5, 'late')
    await closed[0]
    expect(s.shed).toBe(1)
    expect(first.connected).toBe(true)
    silent[1]!.destroy()
    await closed[1]
  })
})
