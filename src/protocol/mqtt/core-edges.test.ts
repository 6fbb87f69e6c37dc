/**
 * BrokerMqttCore on a real Broker in the cases issue #17's review found open: a broker without a store
 * (persistent=false) serving persistent sessions and retained messages from memory, the will's topic authorised at
 * CONNECT (MQTT 5 CONNACK 0x87, 3.1.1 return code 5), and MQTT 5 "no matching subscribers" (0x10) on PUBACK and
 * PUBREC over both cores. Packet-level clients over in-memory duplex pairs; nothing sleeps.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { Packet } from 'mqtt-packet'
import { Broker } from '../../broker/index.ts'
import { makeBroker, testConfig } from '../../broker/broker-test-kit.ts'
import { BrokerError } from '../../lib/errors.ts'
import type { Authorizer } from '../../security/index.ts'
import { BrokerMqttCore } from './broker-core.ts'
import { MqttConnection } from './connection.ts'
import { duplexPair, RawMqtt, rigs } from './testing/raw-mqtt.ts'

const pub = (topic: string, payload: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...extra }) as Packet
const sub = (messageId: number, topic: string, qos: 0 | 1 | 2 = 0): Packet =>
  ({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }) as Packet

const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const f of stops.splice(0).reverse()) await f()
})

async function storelessNode(authorizer?: Authorizer) {
  const broker = await Broker.create({ config: testConfig({}, false), store: null, recovered: null, authorizer })
  const core = new BrokerMqttCore({ broker })
  await core.start()
  const conns: MqttConnection[] = []
  stops.push(async () => {
    for (const c of conns) c.shutdown()
    await core.stop()
    await broker.stop()
  })
  const client = () => {
    const [serverSide, clientSide] = duplexPair()
    conns.push(new MqttConnection({ socket: serverSide, core }))
    return new RawMqtt(clientSide)
  }
  return { broker, core, client }
}

describe('BrokerMqttCore without a store (persistent=false)', () => {
  test('BrokerMqttCore keeps a 3.1.1 persistent session and its queued QoS 1 messages in memory across reconnects', async () => {
    const n = await storelessNode()
    expect(n.core.durable).toBe(false)
    const a = n.client()
    expect(await a.connect({ clientId: 'dev', clean: false })).toMatchObject({ returnCode: 0, sessionPresent: false })
    a.send(sub(1, 'cmd/#', 1))
    expect(await a.next()).toMatchObject({ cmd: 'suback', granted: [1] })
    a.send({ cmd: 'disconnect' })
    await a.closed
    const p = n.client()
    await p.connect({ clientId: 'pub' })
    for (let i = 0; i < 3; i++) {
      p.send(pub('cmd/x', `m${i}`, 1, { messageId: i + 1 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: i + 1 })
    }
    const b = n.client()
    expect(await b.connect({ clientId: 'dev', clean: false })).toMatchObject({ returnCode: 0, sessionPresent: true })
    for (let i = 0; i < 3; i++) {
      const got = (await b.next()) as Packet & { cmd: 'publish' }
      expect(got).toMatchObject({ cmd: 'publish', qos: 1, topic: 'cmd/x' })
      expect(got.payload.toString()).toBe(`m${i}`)
      b.send({ cmd: 'puback', messageId: got.messageId })
    }
  })

  test('BrokerMqttCore serves MQTT 5 session expiry and retained messages without a store', async () => {
    const n = await storelessNode()
    const p = n.client()
    await p.connect({ clientId: 'pub', protocolVersion: 5 })
    p.send(pub('state/door', 'open', 1, { messageId: 1, retain: true }))
    expect(await p.next()).toMatchObject({ cmd: 'puback' })
    const a = n.client()
    const ack = await a.connect({
      clientId: 'v5',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    })
    expect(ack).toMatchObject({ cmd: 'connack', reasonCode: 0, sessionPresent: false })
    a.send(sub(1, 'state/+', 1))
    expect(await a.next()).toMatchObject({ cmd: 'suback' })
    expect(await a.next()).toMatchObject({ cmd: 'publish', topic: 'state/door', retain: true })
    a.send({ cmd: 'disconnect' })
    await a.closed
    const b = n.client()
    const again = await b.connect({
      clientId: 'v5',
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    })
    expect(again).toMatchObject({ reasonCode: 0, sessionPresent: true })
  })
})

describe('BrokerMqttCore will authorization', () => {
  const denyAlarms: Authorizer = {
    check(_subject, op, d) {
      if (op !== 'read' && d.name.startsWith('alarms.'))
        throw new BrokerError('SECURITY_NOT_AUTHORIZED', `not authorized to ${op} ${d.kind}://${d.name}`)
    },
  }

  test('BrokerMqttCore refuses a CONNECT whose will topic may not be published: MQTT 5 0x87, 3.1.1 code 5', async () => {
    const n = await storelessNode(denyAlarms)
    const will = { topic: 'alarms/fire', payload: Buffer.from('gone'), qos: 0 as const, retain: false }
    const v5 = n.client()
    expect(await v5.connect({ clientId: 'w5', protocolVersion: 5, will })).toMatchObject({
      cmd: 'connack',
      reasonCode: 0x87,
    })
    await v5.closed
    const v3 = n.client()
    expect(await v3.connect({ clientId: 'w3', will })).toMatchObject({ cmd: 'connack', returnCode: 5 })
    await v3.closed
    expect(n.core.sessionCount()).toBe(0)
    const ok = n.client()
    expect(await ok.connect({ clientId: 'w4', will: { ...will, topic: 'status/w4' } })).toMatchObject({
      cmd: 'connack',
      returnCode: 0,
    })
  })
})

for (const { name, rig } of rigs)
  describe(`MQTT 5 no matching subscribers over ${name}`, () => {
    test('PUBACK and PUBREC carry 0x10 when no subscriber took the message, 0x00 once one does', async () => {
      const r = rig()
      const p = r.client().raw
      await p.connect({ clientId: 'p', protocolVersion: 5 })
      p.send(pub('nobody/here', 'x', 1, { messageId: 1 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 1, reasonCode: 0x10 })
      p.send(pub('nobody/here', 'x', 2, { messageId: 2 }))
      expect(await p.next()).toMatchObject({ cmd: 'pubrec', messageId: 2, reasonCode: 0x10 })
      p.send({ cmd: 'pubrel', messageId: 2 } as Packet)
      expect(await p.next()).toMatchObject({ cmd: 'pubcomp', messageId: 2 })
      const s = r.client().raw
      await s.connect({ clientId: 's', protocolVersion: 5 })
      s.send(sub(1, 'nobody/+', 1))
      expect(await s.next()).toMatchObject({ cmd: 'suback' })
      p.send(pub('nobody/here', 'y', 1, { messageId: 3 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 3, reasonCode: 0 })
      const g = r.client().raw
      await g.connect({ clientId: 'g', protocolVersion: 5 })
      g.send(sub(1, '$share/grp/jobs/#', 1))
      expect(await g.next()).toMatchObject({ cmd: 'suback' })
      p.send(pub('jobs/1', 'z', 1, { messageId: 4 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 4, reasonCode: 0 })
    })
  })

describe('BrokerMqttCore shared groups when a member goes away', () => {
  test('a member that disconnects hands its queued group messages to a connected member, and its in-flight ones when its session ends', async () => {
    const { broker, store } = await makeBroker()
    const core = new BrokerMqttCore({ broker })
    await core.start()
    const conns: MqttConnection[] = []
    stops.push(async () => {
      for (const c of conns) c.shutdown()
      await core.stop()
      await broker.stop()
      await store.close()
    })
    const client = () => {
      const [serverSide, clientSide] = duplexPair()
      conns.push(new MqttConnection({ socket: serverSide, core }))
      return new RawMqtt(clientSide)
    }
    const member = async (clientId: string, receiveMaximum: number) => {
      const c = client()
      await c.connect({
        clientId,
        protocolVersion: 5,
        clean: false,
        properties: { sessionExpiryInterval: 600, receiveMaximum },
      })
      c.send(sub(1, '$share/g/jobs/#', 1))
      expect(await c.next()).toMatchObject({ cmd: 'suback', granted: [1] })
      return c
    }
    const m0 = await member('m0', 100)
    const m1 = await member('m1', 1)
    const p = client()
    await p.connect({ clientId: 'p', protocolVersion: 5 })
    for (let i = 0; i < 4; i++) {
      p.send(pub('jobs/a', `j${i}`, 1, { messageId: i + 1 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback' })
    }
    const seen: string[] = []
    const take = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const got = (await m0.next()) as Packet & { cmd: 'publish' }
        expect(got.cmd).toBe('publish')
        seen.push(got.payload.toString())
        m0.send({ cmd: 'puback', messageId: got.messageId })
      }
    }
    await take(2)
    // m1 holds one in flight (receive maximum 1, never acknowledged) and one queued in the store.
    const inFlight = (await m1.next()) as Packet & { cmd: 'publish' }
    m1.stream.destroy()
    await m1.closed
    await take(1)
    // m1's session ends (a clean start): its unacknowledged delivery goes to m0 too.
    const again = client()
    expect(await again.connect({ clientId: 'm1', protocolVersion: 5, clean: true })).toMatchObject({
      sessionPresent: false,
    })
    await take(1)
    expect(seen.sort()).toEqual(['j0', 'j1', 'j2', 'j3'])
    expect(seen).toContain(inFlight.payload.toString())
  })
})

for (const { name, rig } of rigs)
  describe(`shared groups over ${name}`, () => {
    test('a member that leaves hands its group messages to another member: queued at disconnect, in flight at its end', async () => {
      const r = rig()
      const member = async (clientId: string, receiveMaximum: number) => {
        const c = r.client().raw
        const props = { sessionExpiryInterval: 600, receiveMaximum }
        await c.connect({ clientId, protocolVersion: 5, clean: false, properties: props })
        c.send(sub(1, '$share/g/jobs/#', 1))
        expect(await c.next()).toMatchObject({ cmd: 'suback', granted: [1] })
        return c
      }
      const m0 = await member('m0', 100)
      const m1 = await member('m1', 1)
      const p = r.client().raw
      await p.connect({ clientId: 'p', protocolVersion: 5 })
      for (let i = 0; i < 4; i++) {
        p.send(pub('jobs/a', `j${i}`, 1, { messageId: i + 1 }))
        expect(await p.next()).toMatchObject({ cmd: 'puback' })
      }
      const seen: string[] = []
      const take = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const got = (await m0.next()) as Packet & { cmd: 'publish' }
          seen.push(got.payload.toString())
          m0.send({ cmd: 'puback', messageId: got.messageId })
        }
      }
      await take(2)
      expect(await m1.next()).toMatchObject({ cmd: 'publish' })
      m1.stream.destroy()
      await m1.closed
      await take(1)
      await r.client().raw.connect({ clientId: 'm1', protocolVersion: 5, clean: true })
      await take(1)
      expect(seen.sort()).toEqual(['j0', 'j1', 'j2', 'j3'])
    })
  })
