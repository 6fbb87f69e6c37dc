/**
 * MqttServer end to end with the real MQTT.js client (3.1.1 and 5) on 127.0.0.1, over the MemoryCore: publish and
 * subscribe at each QoS, retained, user properties, and close() ending every client (MQTT 5: DISCONNECT 0x8B).
 * Waits are on client events, never on sleeps.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import mqtt, { type MqttClient } from 'mqtt'
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

  test('MqttServer refuses sockets beyond maximumConnections', async () => {
    const s = await start({ maximumConnections: 1 })
    await connect(s, 4, 'one')
    const c = mqtt.connect({ host: '127.0.0.1', port: s.address().port, clientId: 'two', reconnectPeriod: 0 })
    clients.push(c)
    await new Promise<void>((resolve) => c.once('close', () => resolve()))
    expect(s.refused).toBe(1)
  })
})
