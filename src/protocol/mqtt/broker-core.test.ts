/**
 * BrokerMqttCore on the real Broker over a MemoryStore: MQTT ↔ broker sessions of other protocols both ways, state
 * that survives a broker restart over the same store (a takeover: broker, store and core closed and reopened), QoS 2
 * exactly-once across it, shared groups, session expiry, and MQTT.js end to end through the MqttServer.
 * Packet-level clients (RawMqtt over in-memory duplex pairs) keep most tests free of sockets; time that matters
 * (expiry, will delay) is a FakeClock shared by broker and core. Waits are on packets or bounded polls, never sleeps.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import mqtt, { type MqttClient } from 'mqtt'
import type { Packet } from 'mqtt-packet'
import { FakeClock } from '../../client/testing/fake-clock.ts'
import { makeBroker, until } from '../../broker/broker-test-kit.ts'
import type { Broker, Delivery } from '../../broker/index.ts'
import { createMessage, prop } from '../../model/index.ts'
import { MemoryStore } from '../../testing/memory-store.ts'
import { BrokerMqttCore, type BrokerMqttCoreOptions } from './broker-core.ts'
import { MqttConnection } from './connection.ts'
import { MqttServer } from './server.ts'
import { duplexPair, RawMqtt } from './testing/raw-mqtt.ts'

const pub = (topic: string, payload: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...extra }) as Packet
const sub = (messageId: number, topic: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos, ...extra }] }) as Packet

interface Node {
  broker: Broker
  core: BrokerMqttCore
  store: MemoryStore
  clock: FakeClock | undefined
  conns: MqttConnection[]
}

const running: Node[] = []
const servers: MqttServer[] = []
const clients: MqttClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true)
  for (const s of servers.splice(0)) await s.close()
  for (const n of running.splice(0)) await stopNode(n)
})

/** A broker + MQTT core over `store` (reopened when given), as a node does when it becomes primary. */
async function startNode(
  opts: { store?: MemoryStore; clock?: FakeClock; core?: Partial<BrokerMqttCoreOptions> } = {},
): Promise<Node> {
  const { broker, store } = await makeBroker({
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
  })
  const core = new BrokerMqttCore({ broker, ...opts.core })
  await core.start()
  const n = { broker, core, store, clock: opts.clock, conns: [] }
  running.push(n)
  return n
}

async function stopNode(n: Node): Promise<void> {
  const i = running.indexOf(n)
  if (i >= 0) running.splice(i, 1)
  for (const c of n.conns) c.shutdown()
  await n.core.stop()
  await n.broker.stop()
  await n.store.close()
}

/** The takeover: everything closed, then a new broker and core over the same store. */
async function restart(n: Node): Promise<Node> {
  await stopNode(n)
  return startNode({ store: n.store, clock: n.clock })
}

function client(n: Node): RawMqtt {
  const [serverSide, clientSide] = duplexPair()
  n.conns.push(new MqttConnection({ socket: serverSide, core: n.core }))
  return new RawMqtt(clientSide)
}

/** MQTT records in the store (storeKeys() also lists keys that held records once). */
async function mqttRecords(n: Node): Promise<number> {
  let count = 0
  for (const k of n.broker.storeKeys('mqtt://')) count += (await n.broker.storeLoad(k, 0, 10)).length
  return count
}

async function nextPublish(raw: RawMqtt): Promise<Packet & { cmd: 'publish' }> {
  const p = await raw.next()
  expect(p.cmd).toBe('publish')
  return p as Packet & { cmd: 'publish' }
}

describe('BrokerMqttCore', () => {
  test('BrokerMqttCore: an MQTT publish reaches a broker session of another protocol with bytes and properties', async () => {
    const n = await startNode()
    const stomp = n.broker.connect({ protocol: 'stomp', remoteAddress: 'test' })
    const got: Delivery[] = []
    stomp.subscribe({ id: 's1', destination: { kind: 'topic', name: 'sensors.1.temp' }, ack: 'auto' }, (d) =>
      got.push(d),
    )
    const p = client(n)
    await p.connect({ clientId: 'p', protocolVersion: 5 })
    p.send(
      pub('sensors/1/temp', '21.5', 1, {
        messageId: 3,
        properties: { userProperties: { unit: 'C' }, contentType: 'text/plain', responseTopic: 'replies/1' },
      }),
    )
    expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 3 })
    await until(() => got.length === 1, 'STOMP delivery')
    const m = got[0]!.message
    expect(new TextDecoder().decode(m.body)).toBe('21.5')
    expect(m.bodyKind).toBe('bytes')
    expect(m.persistent).toBe(true)
    expect(m.properties.get('unit')).toEqual(prop.string('C'))
    expect(m.properties.get('content-type')).toEqual(prop.string('text/plain'))
    expect(m.replyTo).toEqual({ kind: 'topic', name: 'replies.1' })
    await stomp.close()
  })

  test('BrokerMqttCore answers an MQTT 5 QoS 1 publish nobody takes with 0x10, and one a STOMP subscriber takes with success', async () => {
    const n = await startNode()
    const p = client(n)
    await p.connect({ clientId: 'p', protocolVersion: 5 })
    p.send(pub('nobody/here', 'x', 1, { messageId: 1 }))
    expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 1, reasonCode: 0x10 })
    const stomp = n.broker.connect({ protocol: 'stomp', remoteAddress: 'test' })
    stomp.subscribe({ id: 's1', destination: { kind: 'topic', name: 'somebody.>' }, ack: 'auto' }, () => {})
    p.send(pub('somebody/here', 'x', 1, { messageId: 2 }))
    const ack = (await p.next()) as Packet & { reasonCode?: number }
    expect(ack).toMatchObject({ cmd: 'puback', messageId: 2 })
    expect(ack.reasonCode ?? 0).toBe(0)
    await stomp.close()
  })

  test('BrokerMqttCore: a send of another protocol to a topic reaches MQTT subscribers, properties as user properties', async () => {
    const n = await startNode()
    const s = client(n)
    await s.connect({ clientId: 's', protocolVersion: 5 })
    s.send(sub(1, 'sensors/#', 1))
    expect(await s.next()).toMatchObject({ cmd: 'suback', granted: [1] })
    const stomp = n.broker.connect({ protocol: 'stomp', remoteAddress: 'test' })
    await stomp.send({
      message: createMessage({
        messageId: '',
        destination: { kind: 'topic', name: 'sensors.2.hum' },
        timestamp: n.broker.clock.now(),
        persistent: true,
        properties: new Map([['room', prop.string('kitchen')]]),
        body: new TextEncoder().encode('40'),
        origin: { protocol: 'stomp' },
      }),
    })
    const got = await nextPublish(s)
    expect(got).toMatchObject({ topic: 'sensors/2/hum', qos: 1, properties: { userProperties: { room: 'kitchen' } } })
    expect(got.payload.toString()).toBe('40')
    await stomp.close()
  })

  test('BrokerMqttCore: a persistent session, its queued QoS 1/2 messages and retained messages survive a restart', async () => {
    let n = await startNode()
    const s = client(n)
    expect(await s.connect({ clientId: 's', clean: false })).toMatchObject({ sessionPresent: false })
    s.send(sub(1, 'q/#', 2))
    expect(await s.next()).toMatchObject({ cmd: 'suback', granted: [2] })
    s.send({ cmd: 'disconnect' })
    await s.closed
    const p = client(n)
    await p.connect({ clientId: 'p' })
    p.send(pub('q/1', 'one', 1, { messageId: 1 }))
    p.send(pub('q/2', 'two', 2, { messageId: 2 }))
    p.send(pub('r/x', 'kept', 1, { messageId: 3, retain: true }))
    expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 1 })
    expect(await p.next()).toMatchObject({ cmd: 'pubrec', messageId: 2 })
    expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 3 })

    n = await restart(n)
    const s2 = client(n)
    expect(await s2.connect({ clientId: 's', clean: false })).toMatchObject({ sessionPresent: true })
    const a = await nextPublish(s2)
    const b = await nextPublish(s2)
    expect([a.topic, a.payload.toString(), a.qos]).toEqual(['q/1', 'one', 1])
    expect([b.topic, b.payload.toString(), b.qos]).toEqual(['q/2', 'two', 2])
    s2.send({ cmd: 'puback', messageId: a.messageId })
    s2.send({ cmd: 'pubrec', messageId: b.messageId })
    expect(await s2.next()).toMatchObject({ cmd: 'pubrel', messageId: b.messageId })
    s2.send({ cmd: 'pubcomp', messageId: b.messageId })
    const r = client(n)
    await r.connect({ clientId: 'r' })
    r.send(sub(1, 'r/+', 1))
    expect(await r.next()).toMatchObject({ cmd: 'suback' })
    const kept = await nextPublish(r)
    expect([kept.topic, kept.payload.toString(), kept.retain]).toEqual(['r/x', 'kept', true])
    // Settled messages are gone from the store: a second restart resumes the session with nothing to resend.
    s2.send({ cmd: 'pingreq' })
    expect(await s2.next()).toMatchObject({ cmd: 'pingresp' })
    n = await restart(n)
    const s3 = client(n)
    expect(await s3.connect({ clientId: 's', clean: false })).toMatchObject({ sessionPresent: true })
    s3.send({ cmd: 'pingreq' })
    expect(await s3.next()).toMatchObject({ cmd: 'pingresp' })
  })

  test('BrokerMqttCore resends an unacknowledged delivery after a restart with its packet id and DUP, and PUBREL after PUBREC', async () => {
    let n = await startNode()
    const s = client(n)
    await s.connect({ clientId: 's', clean: false })
    s.send(sub(1, 't', 2))
    await s.next()
    const p = client(n)
    await p.connect({ clientId: 'p' })
    p.send(pub('t', 'a', 1, { messageId: 1 }))
    p.send(pub('t', 'b', 2, { messageId: 2 }))
    const a = await nextPublish(s)
    const b = await nextPublish(s)
    s.send({ cmd: 'pubrec', messageId: b.messageId })
    expect(await s.next()).toMatchObject({ cmd: 'pubrel', messageId: b.messageId })
    // A PINGRESP after the PUBREC: the connection handled it (the core's store write is ordered before later ones).
    s.send({ cmd: 'pingreq' })
    expect(await s.next()).toMatchObject({ cmd: 'pingresp' })
    await until(() => n.store.stats().messages > 0, 'records written')
    n = await restart(n)
    const s2 = client(n)
    await s2.connect({ clientId: 's', clean: false })
    expect(await s2.next()).toMatchObject({
      cmd: 'publish',
      messageId: a.messageId,
      dup: true,
      payload: Buffer.from('a'),
    })
    expect(await s2.next()).toMatchObject({ cmd: 'pubrel', messageId: b.messageId })
  })

  test('BrokerMqttCore: a QoS 2 PUBLISH resent after a restart (same packet id, DUP) is not delivered twice', async () => {
    let n = await startNode()
    const s = client(n)
    await s.connect({ clientId: 's', clean: false })
    s.send(sub(1, 'once', 1))
    await s.next()
    const p = client(n)
    await p.connect({ clientId: 'p', clean: false })
    p.send(pub('once', 'x', 2, { messageId: 9 }))
    expect(await p.next()).toMatchObject({ cmd: 'pubrec', messageId: 9 })
    const first = await nextPublish(s)
    s.send({ cmd: 'puback', messageId: first.messageId })
    s.send({ cmd: 'pingreq' })
    expect(await s.next()).toMatchObject({ cmd: 'pingresp' })
    n = await restart(n)
    const p2 = client(n)
    expect(await p2.connect({ clientId: 'p', clean: false })).toMatchObject({ sessionPresent: true })
    const s2 = client(n)
    await s2.connect({ clientId: 's', clean: false })
    p2.send(pub('once', 'x', 2, { messageId: 9, dup: true }))
    expect(await p2.next()).toMatchObject({ cmd: 'pubrec', messageId: 9 })
    p2.send({ cmd: 'pubrel', messageId: 9 })
    expect(await p2.next()).toMatchObject({ cmd: 'pubcomp', messageId: 9 })
    // Released: the same id is a new message now.
    p2.send(pub('once', 'y', 2, { messageId: 9 }))
    expect(await p2.next()).toMatchObject({ cmd: 'pubrec', messageId: 9 })
    const got = await nextPublish(s2)
    expect(got.payload.toString()).toBe('y')
  })

  test('BrokerMqttCore pages a deep stored queue through sessionWindowMax and drops QoS 0 beyond sessionQueueMax', async () => {
    let n = await startNode()
    const s = client(n)
    await s.connect({ clientId: 's', clean: false })
    s.send(sub(1, 'deep', 1))
    await s.next()
    s.send({ cmd: 'disconnect' })
    await s.closed
    const p = client(n)
    await p.connect({ clientId: 'p' })
    for (let i = 0; i < 7; i++) {
      p.send(pub('deep', `m${i}`, 1, { messageId: i + 1 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback' })
    }
    for (let i = 0; i < 3; i++) p.send(pub('deep', `z${i}`, 0))
    p.send({ cmd: 'pingreq' })
    expect(await p.next()).toMatchObject({ cmd: 'pingresp' })
    await stopNode(n)
    n = await startNode({ store: n.store, core: { sessionWindowMax: 2, sessionQueueMax: 1 } })
    const s2 = client(n)
    await s2.connect({ clientId: 's', clean: false })
    const got: string[] = []
    for (let i = 0; i < 7; i++) {
      const m = await nextPublish(s2)
      got.push(m.payload.toString())
      s2.send({ cmd: 'puback', messageId: m.messageId })
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6'])
    // QoS 0 to an offline session waits in memory: the first fits sessionQueueMax 1, the rest are dropped.
    s2.send({ cmd: 'disconnect' })
    await s2.closed
    const p2 = client(n)
    await p2.connect({ clientId: 'p' })
    for (let i = 0; i < 3; i++) p2.send(pub('deep', `z${i}`, 0))
    p2.send({ cmd: 'pingreq' })
    expect(await p2.next()).toMatchObject({ cmd: 'pingresp' })
    expect(n.core.dropped).toBe(2)
    const s3 = client(n)
    await s3.connect({ clientId: 's', clean: false })
    expect((await nextPublish(s3)).payload.toString()).toBe('z0')
  })

  test('BrokerMqttCore: a shared group gives each message to one member', async () => {
    const n = await startNode()
    const members = [client(n), client(n)]
    for (const [i, m] of members.entries()) {
      await m.connect({ clientId: `m${i}`, protocolVersion: 5 })
      m.send(sub(1, '$share/g/jobs/#', 1))
      expect(await m.next()).toMatchObject({ cmd: 'suback', granted: [1] })
    }
    const p = client(n)
    await p.connect({ clientId: 'p', protocolVersion: 5 })
    for (let i = 0; i < 4; i++) {
      p.send(pub('jobs/a', `j${i}`, 1, { messageId: i + 1 }))
      expect(await p.next()).toMatchObject({ cmd: 'puback' })
    }
    const seen: string[] = []
    for (const m of members)
      for (let i = 0; i < 2; i++) {
        const got = await nextPublish(m)
        seen.push(got.payload.toString())
        m.send({ cmd: 'puback', messageId: got.messageId })
      }
    expect(seen.sort()).toEqual(['j0', 'j1', 'j2', 'j3'])
  })

  test('BrokerMqttCore ends an expired session on the clock and at start, and keeps nothing of it', async () => {
    const clock = new FakeClock(Date.now())
    let n = await startNode({ clock })
    for (const [id, expiry] of [
      ['short', 10],
      ['long', 1000],
    ] as const) {
      const c = client(n)
      await c.connect({ clientId: id, protocolVersion: 5, properties: { sessionExpiryInterval: expiry } })
      c.send(sub(1, 'x/#', 1))
      await c.next()
      c.send({ cmd: 'disconnect' })
      await c.closed
    }
    expect(await mqttRecords(n)).toBe(2)
    expect(n.core.sessionCount()).toBe(2)
    clock.advance(10_000)
    await until(() => n.core.sessionCount() === 1, 'short session ended')
    n = await restart(n)
    expect(n.core.sessionCount()).toBe(1)
    expect(await mqttRecords(n)).toBe(1)
    await stopNode(n)
    clock.advance(1_000_000)
    n = await startNode({ store: n.store, clock })
    expect(n.core.sessionCount()).toBe(0)
    expect(await mqttRecords(n)).toBe(0)
  })

  test('BrokerMqttCore publishes a delayed will after a restart when the delay ran out meanwhile', async () => {
    const clock = new FakeClock(Date.now())
    let n = await startNode({ clock })
    const w = client(n)
    await w.connect({
      clientId: 'w',
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
      will: {
        topic: 'wills/w',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: true,
        properties: { willDelayInterval: 30 },
      },
    })
    n.conns[0]!.shutdown()
    await w.closed
    expect(await mqttRecords(n)).toBe(1)
    n = await restart(n)
    expect(n.core.retainedOf('wills.w')).toBeUndefined()
    clock.advance(30_000)
    await until(() => n.core.retainedOf('wills.w') !== undefined, 'will published')
    expect(n.core.retainedOf('wills.w')!.payload.toString()).toBe('gone')
  })

  test('BrokerMqttCore carries messages for MQTT.js clients through the MqttServer', async () => {
    const n = await startNode()
    const server = new MqttServer({ core: n.core, host: '127.0.0.1', port: 0 })
    servers.push(server)
    await server.listen()
    const connect = (clientId: string) => {
      const c = mqtt.connect({
        host: '127.0.0.1',
        port: server.address().port,
        protocolVersion: 5,
        clientId,
        reconnectPeriod: 0,
      })
      clients.push(c)
      return new Promise<MqttClient>((resolve, reject) => {
        c.once('connect', () => resolve(c))
        c.once('error', reject)
      })
    }
    const s = await connect('js-sub')
    const p = await connect('js-pub')
    await s.subscribeAsync('js/#', { qos: 2 })
    const got = new Promise<{ topic: string; payload: string; props: object | undefined }>((resolve) =>
      s.once('message', (topic, payload, packet) =>
        resolve({ topic, payload: payload.toString(), props: packet.properties }),
      ),
    )
    await p.publishAsync('js/a', 'hello', { qos: 2, properties: { userProperties: { k: 'v' } } })
    expect(await got).toMatchObject({ topic: 'js/a', payload: 'hello', props: { userProperties: { k: 'v' } } })
  })
})
