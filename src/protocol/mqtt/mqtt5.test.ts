/**
 * MQTT 5 behaviour of MqttConnection over an in-memory duplex pair and the MemoryCore: reason codes, assigned client
 * ids, session and message expiry, will delay, properties, topic aliases both ways, subscription options and
 * identifiers, shared subscriptions, receive maximum both ways, AUTH. Time is a FakeClock; nothing sleeps.
 */
import { describe, expect, test } from 'bun:test'
import type { Packet } from 'mqtt-packet'
import { rigs, type RawMqtt } from './testing/raw-mqtt.ts'

type Pub = Packet & { cmd: 'publish' }
const pub = (topic: string, payload: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...extra }) as Packet
const sub = (messageId: number, subscriptions: object[], properties?: object): Packet =>
  ({ cmd: 'subscribe', messageId, subscriptions, ...(properties ? { properties } : {}) }) as Packet
const v5 = (clientId: string, extra: object = {}) => ({ protocolVersion: 5 as const, clientId, ...extra })

async function subscribed(raw: RawMqtt, subscriptions: object[], properties?: object): Promise<Packet> {
  raw.send(sub(1, subscriptions, properties))
  return raw.next()
}

for (const { name, rig } of rigs)
  describe(`MqttConnection (MQTT 5) over ${name}`, () => {
    test('MQTT 5 CONNACK announces limits and assigns a client id to an empty one', async () => {
      const { raw } = rig().client({ limits: { serverKeepAliveSec: 30 } })
      const ack = (await raw.connect(v5(''))) as Packet & { cmd: 'connack' }
      expect(ack.reasonCode).toBe(0)
      expect(ack.properties?.assignedClientIdentifier).toMatch(/^sfbroker-/)
      expect(ack.properties?.serverKeepAlive).toBe(30)
      expect(ack.properties?.receiveMaximum).toBeGreaterThan(0)
    })

    test('MQTT 5 reason codes: malformed packet 0x81, packet too large 0x95, topic alias invalid 0x94', async () => {
      const r = rig()
      const a = r.client({ limits: { packetBytesMax: 100 } }).raw
      await a.connect(v5('a'))
      a.sendBytes(Buffer.from([0x30, 0xc8, 0x01]))
      expect(await a.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x95 })
      const b = r.client().raw
      await b.connect(v5('b'))
      b.sendBytes(Buffer.from([0x82, 0])) // SUBSCRIBE with no packet id
      expect(await b.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x81 })
      const c = r.client({ limits: { topicAliasMaximum: 2 } }).raw
      await c.connect(v5('c'))
      c.send(pub('t', 'x', 0, { properties: { topicAlias: 3 } }))
      expect(await c.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x94 })
    })

    test('MQTT 5 SUBSCRIBE or UNSUBSCRIBE without a topic filter ends in DISCONNECT 0x82, and the broker goes on', async () => {
      const r = rig()
      // Packet id 1, property length 0, then no filter: mqtt-packet parses these but cannot encode their answers.
      for (const [i, header] of [0x82, 0xa2].entries()) {
        const { raw, conn } = r.client()
        await raw.connect(v5(`e${i}`))
        raw.sendBytes(Buffer.from([header, 3, 0, 1, 0]))
        expect(await raw.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x82 })
        expect(conn.closedBecause).toContain('no topic filter')
        expect(raw.errors).toEqual([])
      }
      const ok = r.client().raw
      await ok.connect(v5('after'))
      expect(await subscribed(ok, [{ topic: 't', qos: 1 }])).toMatchObject({ cmd: 'suback', granted: [1] })
    })

    test('MQTT 5 packet identifier 0 on PUBLISH QoS 2 or SUBSCRIBE ends in DISCONNECT 0x82', async () => {
      const r = rig()
      const cases = [
        Buffer.from([0x34, 7, 0, 1, 0x61, 0, 0, 0, 0x78]), // PUBLISH QoS 2 "a", id 0, no properties, "x"
        Buffer.from([0x82, 7, 0, 0, 0, 0, 1, 0x61, 0]), // SUBSCRIBE id 0, no properties, "a" QoS 0
      ]
      for (const [i, bytes] of cases.entries()) {
        const { raw, conn } = r.client()
        await raw.connect(v5(`z${i}`))
        raw.sendBytes(bytes)
        expect(await raw.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x82 })
        expect(conn.closedBecause).toContain('packet identifier 0')
      }
    })

    test('MQTT 5 an authentication method is refused with CONNACK 0x8C, AUTH with DISCONNECT 0x82', async () => {
      const r = rig()
      expect(
        await r.client().raw.connect(v5('a', { properties: { authenticationMethod: 'SCRAM-SHA-1' } })),
      ).toMatchObject({
        cmd: 'connack',
        reasonCode: 0x8c,
      })
      const b = r.client().raw
      await b.connect(v5('b'))
      b.send({ cmd: 'auth', reasonCode: 0x19, properties: { authenticationMethod: 'x' } })
      expect(await b.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x82 })
    })

    test('MQTT 5 session expiry keeps a session for its interval, then ends it', async () => {
      const r = rig()
      const a = r.client().raw
      await a.connect(v5('a', { clean: true, properties: { sessionExpiryInterval: 60 } }))
      a.send({ cmd: 'disconnect', reasonCode: 0 })
      await a.closed
      expect(
        await r.client().raw.connect(v5('a', { clean: false, properties: { sessionExpiryInterval: 60 } })),
      ).toMatchObject({
        sessionPresent: true,
      })
      r.clock.advance(1) // nothing expires while connected
      const b = r.client().raw
      await b.connect(v5('b', { properties: { sessionExpiryInterval: 10 } }))
      b.send({ cmd: 'disconnect', reasonCode: 0 })
      await b.closed
      r.clock.advance(10_000)
      expect(await r.client().raw.connect(v5('b', { clean: false }))).toMatchObject({ sessionPresent: false })
    })

    test('MQTT 5 DISCONNECT may not set a session expiry when CONNECT had 0', async () => {
      const { raw } = rig().client()
      await raw.connect(v5('a'))
      raw.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 5 } })
      expect(await raw.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x82 })
    })

    test('MQTT 5 will delay: published after the delay, cancelled by a reconnect, sent on DISCONNECT 0x04', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s'))
      await subscribed(s, [{ topic: 'w/#', qos: 0 }])
      const will = (topic: string) => ({
        topic,
        payload: Buffer.from('bye'),
        qos: 0,
        retain: false,
        properties: { willDelayInterval: 5 },
      })
      const a = r.client().raw
      await a.connect(v5('a', { will: will('w/a'), properties: { sessionExpiryInterval: 100 } }))
      a.stream.destroy()
      await a.closed
      const b = r.client().raw
      await b.connect(v5('b', { will: will('w/b'), properties: { sessionExpiryInterval: 100 } }))
      b.stream.destroy()
      await b.closed
      await r.client().raw.connect(v5('b', { clean: false, properties: { sessionExpiryInterval: 100 } }))
      r.clock.advance(5000)
      expect(await s.next()).toMatchObject({ topic: 'w/a' })
      const c = r.client().raw
      await c.connect(v5('c', { will: { ...will('w/c'), properties: {} } }))
      c.send({ cmd: 'disconnect', reasonCode: 0x04 })
      expect(await s.next()).toMatchObject({ topic: 'w/c' })
    })

    test('MQTT 5 message expiry: an expired message is not delivered; the interval left is sent', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s', { clean: false, properties: { sessionExpiryInterval: 1000 } }))
      await subscribed(s, [{ topic: 'e', qos: 1 }])
      s.stream.destroy()
      await s.closed
      const p = r.client().raw
      await p.connect(v5('p'))
      p.send(pub('e', 'short', 1, { messageId: 1, properties: { messageExpiryInterval: 2 } }))
      p.send(pub('e', 'long', 1, { messageId: 2, properties: { messageExpiryInterval: 100 } }))
      await p.next()
      await p.next()
      r.clock.advance(10_000)
      const s2 = r.client().raw
      await s2.connect(v5('s', { clean: false, properties: { sessionExpiryInterval: 1000 } }))
      const got = (await s2.next()) as Pub
      expect(got.payload.toString()).toBe('long')
      expect(got.properties?.messageExpiryInterval).toBe(90)
    })

    test('MQTT 5 properties travel: content type, response topic, correlation data, user properties', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s'))
      await subscribed(s, [{ topic: 'req', qos: 0 }])
      const p = r.client().raw
      await p.connect(v5('p'))
      const properties = {
        contentType: 'text/plain',
        responseTopic: 'resp/a.b',
        correlationData: Buffer.from([1, 2]),
        userProperties: { k: ['1', '2'], z: 'last' },
        payloadFormatIndicator: true,
      }
      p.send(pub('req', 'hello', 0, { properties }))
      const got = (await s.next()) as Pub
      expect(got.properties).toMatchObject(properties)
    })

    test('MQTT 5 payload format indicator with a non-UTF-8 payload gets PUBACK 0x99', async () => {
      const { raw } = rig().client()
      await raw.connect(v5('a'))
      raw.send({
        cmd: 'publish',
        topic: 't',
        payload: Buffer.from([0xff, 0xfe]),
        qos: 1,
        messageId: 1,
        dup: false,
        retain: false,
        properties: { payloadFormatIndicator: true },
      })
      expect(await raw.next()).toMatchObject({ cmd: 'puback', reasonCode: 0x99 })
    })

    test('MQTT 5 topic aliases both ways', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s', { properties: { topicAliasMaximum: 4 } }))
      await subscribed(s, [{ topic: 'long/topic/name', qos: 0 }])
      const p = r.client().raw
      await p.connect(v5('p'))
      p.send(pub('long/topic/name', 'one', 0, { properties: { topicAlias: 1 } }))
      p.send(pub('', 'two', 0, { properties: { topicAlias: 1 } }))
      const first = (await s.next()) as Pub
      const second = (await s.next()) as Pub
      expect(first).toMatchObject({ topic: 'long/topic/name', properties: { topicAlias: 1 } })
      expect(second).toMatchObject({ topic: '', properties: { topicAlias: 1 } })
      expect(second.payload.toString()).toBe('two')
    })

    test('MQTT 5 subscription options: no-local, retain-as-published, retain handling', async () => {
      const r = rig()
      const a = r.client().raw
      await a.connect(v5('a'))
      a.send(pub('k', 'kept', 0, { retain: true }))
      await subscribed(a, [
        { topic: 'k', qos: 0, nl: true, rh: 2 },
        { topic: 'rap', qos: 0, rap: true },
      ])
      a.send(pub('k', 'mine', 0))
      a.send(pub('rap', 'r', 0, { retain: true }))
      expect(await a.next()).toMatchObject({ topic: 'rap', retain: true })
      const b = r.client().raw
      await b.connect(v5('b'))
      expect(await subscribed(b, [{ topic: 'k', qos: 0, rh: 1 }])).toMatchObject({ cmd: 'suback' })
      expect(await b.next()).toMatchObject({ topic: 'k', retain: true })
      b.send(sub(2, [{ topic: 'k', qos: 0, rh: 1 }]))
      expect(await b.next()).toMatchObject({ cmd: 'suback' }) // existing subscription: no retained resend
      b.send({ cmd: 'pingreq' })
      expect(await b.next()).toMatchObject({ cmd: 'pingresp' })
    })

    test('MQTT 5 overlapping subscriptions give one delivery carrying every subscription identifier', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s'))
      await subscribed(s, [{ topic: 'x/#', qos: 0 }], { subscriptionIdentifier: 7 })
      s.send(sub(2, [{ topic: 'x/+', qos: 1 }], { subscriptionIdentifier: 9 }))
      await s.next()
      const p = r.client().raw
      await p.connect(v5('p'))
      p.send(pub('x/1', 'v', 1, { messageId: 1 }))
      const got = (await s.next()) as Pub
      expect(got.qos).toBe(1)
      expect(got.properties?.subscriptionIdentifier).toEqual([7, 9])
    })

    test('MQTT 5 shared subscriptions: each message to one member of the group, no retained on subscribe', async () => {
      const r = rig()
      const p = r.client().raw
      await p.connect(v5('p'))
      p.send(pub('jobs/1', 'old', 0, { retain: true }))
      const m1 = r.client().raw
      const m2 = r.client().raw
      await m1.connect(v5('m1'))
      await m2.connect(v5('m2'))
      await subscribed(m1, [{ topic: '$share/g/jobs/#', qos: 1 }])
      await subscribed(m2, [{ topic: '$share/g/jobs/#', qos: 1 }])
      for (let i = 0; i < 4; i++) p.send(pub('jobs/1', `j${i}`, 0))
      const a = [(await m1.next()) as Pub, (await m1.next()) as Pub].map((x) => x.payload.toString())
      const b = [(await m2.next()) as Pub, (await m2.next()) as Pub].map((x) => x.payload.toString())
      expect([...a, ...b].sort()).toEqual(['j0', 'j1', 'j2', 'j3'])
    })

    test('MQTT 5 receive maximum: the client window holds deliveries; exceeding the server one is 0x93', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect(v5('s', { properties: { receiveMaximum: 1 } }))
      await subscribed(s, [{ topic: 'q', qos: 1 }])
      const p = r.client({ limits: { receiveMaximum: 2 } }).raw
      await p.connect(v5('p'))
      p.send(pub('q', '1', 1, { messageId: 1 }))
      p.send(pub('q', '2', 1, { messageId: 2 }))
      const first = (await s.next()) as Pub
      s.send({ cmd: 'pingreq' })
      expect(await s.next()).toMatchObject({ cmd: 'pingresp' }) // the second waits for the window
      s.send({ cmd: 'puback', messageId: first.messageId })
      expect(((await s.next()) as Pub).payload.toString()).toBe('2')
      await p.next()
      await p.next()
      // Three QoS 1 in one write: the third arrives before any PUBACK went out.
      p.sendBytes(
        Buffer.concat(
          [3, 4, 5].map((id) =>
            require('mqtt-packet').generate(pub('q', 'x', 1, { messageId: id }), { protocolVersion: 5 }),
          ),
        ),
      )
      const seen: Packet[] = []
      for (;;) {
        const x = await p.next()
        seen.push(x)
        if (x.cmd === 'disconnect') break
      }
      expect(seen.at(-1)).toMatchObject({ cmd: 'disconnect', reasonCode: 0x93 })
    })

    test('MQTT 5 takeover sends DISCONNECT 0x8E to the older connection', async () => {
      const r = rig()
      const a = r.client().raw
      await a.connect(v5('same'))
      await r.client().raw.connect(v5('same'))
      expect(await a.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x8e })
    })
  })
