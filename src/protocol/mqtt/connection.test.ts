/**
 * MqttConnection over an in-memory duplex pair and the MemoryCore, at the packet level (RawMqtt): MQTT 3.1.1 and
 * the behaviours common to both versions (QoS 0/1/2 both ways, retained, wills, sessions, takeover, keep-alive,
 * bad input). Time is a FakeClock; nothing sleeps. MQTT 5 features are in mqtt5.test.ts.
 */
import { describe, expect, test } from 'bun:test'
import type { Packet } from 'mqtt-packet'
import { rigs } from './testing/raw-mqtt.ts'
import { BrokerError } from '../../lib/errors.ts'

const pub = (topic: string, payload: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...extra }) as Packet
const sub = (messageId: number, topic: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos, ...extra }] }) as Packet

for (const { name, rig } of rigs)
  describe(`MqttConnection (3.1.1) over ${name}`, () => {
    test('MqttConnection answers CONNECT with CONNACK and PINGREQ with PINGRESP', async () => {
      const { raw } = rig().client()
      expect(await raw.connect()).toMatchObject({ cmd: 'connack', returnCode: 0, sessionPresent: false })
      raw.send({ cmd: 'pingreq' })
      expect(await raw.next()).toMatchObject({ cmd: 'pingresp' })
    })

    test('MqttConnection closes on PUBLISH before CONNECT', async () => {
      const { raw, conn } = rig().client()
      raw.send(pub('a', 'x'))
      expect(await raw.nextOrClosed()).toBe('closed')
      expect(conn.closedBecause).toContain('before CONNECT')
    })

    test('MqttConnection answers an unsupported protocol level with CONNACK 0x01 and closes', async () => {
      const { raw } = rig().client()
      // CONNECT, protocol "MQTT" level 6, clean session, keep-alive 0, client id "a".
      raw.sendBytes(Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 6, 2, 0, 0, 0, 1, 0x61]))
      expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 1 })
      expect(await raw.nextOrClosed()).toBe('closed')
    })

    test('MqttConnection closes on a wrong protocol name, a reserved flag and a malformed length', async () => {
      const r = rig()
      const cases = [
        Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x58, 4, 2, 0, 0, 0, 1, 0x61]), // "MQTX"
        Buffer.from([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 3, 0, 0, 0, 1, 0x61]), // connect flag bit 0 set
        Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), // remaining length of 5 bytes
      ]
      for (const bytes of cases) {
        const { raw } = r.client()
        raw.sendBytes(bytes)
        expect(await raw.nextOrClosed()).toBe('closed')
      }
      // SUBSCRIBE with header flags 0 instead of 2 (§2.2.2) after a good CONNECT.
      const { raw } = r.client()
      await raw.connect()
      raw.sendBytes(Buffer.from([0x80, 6, 0, 1, 0, 1, 0x61, 0]))
      expect(await raw.nextOrClosed()).toBe('closed')
    })

    test('MqttConnection closes on a SUBSCRIBE or UNSUBSCRIBE without a topic filter', async () => {
      const r = rig()
      for (const header of [0x82, 0xa2]) {
        const { raw, conn } = r.client()
        await raw.connect()
        raw.sendBytes(Buffer.from([header, 2, 0, 1])) // packet id 1, then no filter
        expect(await raw.nextOrClosed()).toBe('closed')
        expect(conn.closedBecause).toContain('no topic filter')
        expect(raw.errors).toEqual([])
      }
    })

    test('MqttConnection closes without CONNACK on a CONNECT with a password but no user name', async () => {
      const { raw, conn } = rig().client()
      // CONNECT "MQTT" level 4, flags: password + clean session, keep-alive 0, client id "a", password "p".
      raw.sendBytes(Buffer.from([0x10, 16, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x42, 0, 0, 0, 1, 0x61, 0, 1, 0x70]))
      expect(await raw.nextOrClosed()).toBe('closed')
      expect(conn.closedBecause).toContain('without the user name flag')
    })

    test('MqttConnection closes on packet identifier 0 (SUBSCRIBE, UNSUBSCRIBE, PUBLISH QoS 1, PUBACK)', async () => {
      const r = rig()
      const cases = [
        Buffer.from([0x82, 6, 0, 0, 0, 1, 0x61, 0]), // SUBSCRIBE id 0, "a" QoS 0
        Buffer.from([0xa2, 5, 0, 0, 0, 1, 0x61]), // UNSUBSCRIBE id 0, "a"
        Buffer.from([0x32, 6, 0, 1, 0x61, 0, 0, 0x78]), // PUBLISH QoS 1 "a", id 0, payload "x"
        Buffer.from([0x40, 2, 0, 0]), // PUBACK id 0
      ]
      for (const bytes of cases) {
        const { raw, conn } = r.client()
        await raw.connect()
        raw.sendBytes(bytes)
        expect(await raw.nextOrClosed()).toBe('closed')
        expect(conn.closedBecause).toContain('packet identifier 0')
      }
      // QoS 0 PUBLISH has no packet identifier: it goes through.
      const { raw } = r.client()
      await raw.connect()
      raw.sendBytes(Buffer.from([0x30, 4, 0, 1, 0x61, 0x78]))
      raw.send({ cmd: 'pingreq' })
      expect(await raw.next()).toMatchObject({ cmd: 'pingresp' })
    })

    test('MqttConnection closes on an ack too short to hold its packet identifier, and writes nothing malformed', async () => {
      // mqtt-packet reads PUBREC with remaining length 0 as identifier -1; the PUBREL answered to it was 2 bytes.
      const r = rig()
      for (const bytes of [Buffer.from([0x50, 0]), Buffer.from([0x40, 0]), Buffer.from([0x62, 1, 7])]) {
        const { raw, conn } = r.client()
        await raw.connect()
        raw.sendBytes(bytes)
        expect(await raw.nextOrClosed()).toBe('closed')
        expect(conn.closedBecause).toContain('no packet identifier')
        expect(raw.wire.map((b) => b.toString('hex'))).toEqual(['20020000'])
      }
    })

    test('MqttConnection refuses a packet over packetBytesMax from its header', async () => {
      const { raw, conn } = rig().client({ limits: { packetBytesMax: 64 } })
      await raw.connect()
      raw.sendBytes(Buffer.from([0x30, 0xc8, 0x01])) // PUBLISH announcing 200 bytes; none follow
      expect(await raw.nextOrClosed()).toBe('closed')
      expect(conn.closedBecause).toContain('maximum packet size 64')
    })

    test('MqttConnection accepts a zero-length client id only with clean session', async () => {
      const r = rig()
      expect(await r.client().raw.connect({ clientId: '' })).toMatchObject({ returnCode: 0 })
      // mqtt-packet will not encode this CONNECT: client id "", clean session 0.
      const { raw } = r.client()
      raw.sendBytes(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0, 0, 0, 0, 0]))
      expect(await raw.next()).toMatchObject({ cmd: 'connack', returnCode: 2 })
    })

    test('MqttConnection maps topics to dotted names and back, QoS 1 acknowledged', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send(sub(1, 'a/+/c.d', 1))
      expect(await s.next()).toMatchObject({ cmd: 'suback', granted: [1] })
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('a/b/c.d', 'hi', 1, { messageId: 5, retain: true }))
      expect(await p.next()).toMatchObject({ cmd: 'puback', messageId: 5 })
      expect(r.core.retainedOf('a.b.c/d')?.payload.toString()).toBe('hi')
      const got = (await s.next()) as Packet & { cmd: 'publish' }
      expect(got).toMatchObject({ cmd: 'publish', topic: 'a/b/c.d', qos: 1, retain: false })
      expect(got.payload.toString()).toBe('hi')
      s.send({ cmd: 'puback', messageId: got.messageId })
    })

    test('MqttConnection routes an inbound QoS 2 PUBLISH once, however often it is resent', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send(sub(1, 't', 0))
      await s.next()
      const p = r.client().raw
      await p.connect({ clientId: 'p', clean: false })
      p.send(pub('t', 'once', 2, { messageId: 7 }))
      p.send(pub('t', 'once', 2, { messageId: 7, dup: true }))
      expect(await p.next()).toMatchObject({ cmd: 'pubrec', messageId: 7 })
      expect(await p.next()).toMatchObject({ cmd: 'pubrec', messageId: 7 })
      // The publisher reconnects (a takeover of its own session) and resends once more before PUBREL.
      const p2 = r.client().raw
      expect(await p2.connect({ clientId: 'p', clean: false })).toMatchObject({ sessionPresent: true })
      p2.send(pub('t', 'once', 2, { messageId: 7, dup: true }))
      expect(await p2.next()).toMatchObject({ cmd: 'pubrec', messageId: 7 })
      p2.send({ cmd: 'pubrel', messageId: 7 })
      expect(await p2.next()).toMatchObject({ cmd: 'pubcomp', messageId: 7 })
      s.send({ cmd: 'pingreq' })
      expect(await s.next()).toMatchObject({ cmd: 'publish', topic: 't' })
      expect(await s.next()).toMatchObject({ cmd: 'pingresp' })
    })

    test('MqttConnection delivers QoS 2 with PUBREC, PUBREL, PUBCOMP and resends PUBREL after a reconnect', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's', clean: false })
      s.send(sub(1, 't', 2))
      await s.next()
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('t', 'x', 2, { messageId: 1 }))
      const d = (await s.next()) as Packet & { cmd: 'publish' }
      expect(d).toMatchObject({ qos: 2, dup: false })
      s.send({ cmd: 'pubrec', messageId: d.messageId })
      expect(await s.next()).toMatchObject({ cmd: 'pubrel', messageId: d.messageId })
      s.stream.destroy()
      await s.closed
      const s2 = r.client().raw
      expect(await s2.connect({ clientId: 's', clean: false })).toMatchObject({ sessionPresent: true })
      expect(await s2.next()).toMatchObject({ cmd: 'pubrel', messageId: d.messageId })
      s2.send({ cmd: 'pubcomp', messageId: d.messageId })
    })

    test('MqttConnection resends an unacknowledged QoS 1 delivery with DUP after a reconnect', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's', clean: false })
      s.send(sub(1, 't', 1))
      await s.next()
      s.stream.destroy()
      await s.closed
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('t', 'while-away', 1, { messageId: 1 }))
      await p.next()
      const s2 = r.client().raw
      expect(await s2.connect({ clientId: 's', clean: false })).toMatchObject({ sessionPresent: true })
      const first = (await s2.next()) as Packet & { cmd: 'publish' }
      expect(first.payload.toString()).toBe('while-away')
      s2.stream.destroy()
      await s2.closed
      const s3 = r.client().raw
      await s3.connect({ clientId: 's', clean: false })
      expect(await s3.next()).toMatchObject({ cmd: 'publish', dup: true, messageId: first.messageId })
    })

    test('MqttConnection sends retained messages on subscribe and an empty retained payload clears them', async () => {
      const r = rig()
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('r/1', 'keep', 1, { messageId: 1, retain: true }))
      await p.next()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send(sub(1, 'r/#', 1))
      const got = [await s.next(), await s.next()]
      expect(got.find((x) => x.cmd === 'publish')).toMatchObject({ topic: 'r/1', retain: true })
      p.send(pub('r/1', '', 1, { messageId: 2, retain: true }))
      await p.next()
      expect(r.core.retainedOf('r.1')).toBeUndefined()
    })

    test('MqttConnection publishes the will on a lost connection and on keep-alive expiry, not on DISCONNECT', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send(sub(1, 'will/#', 0))
      await s.next()
      const will = { topic: 'will/a', payload: Buffer.from('gone'), qos: 0 as const, retain: false }
      const a = r.client().raw
      await a.connect({ clientId: 'a', will })
      a.send({ cmd: 'disconnect' })
      await a.closed
      const b = r.client().raw
      await b.connect({ clientId: 'b', will: { ...will, topic: 'will/b' } })
      b.stream.destroy()
      expect(await s.next()).toMatchObject({ topic: 'will/b' })
      const c = r.client().raw
      await c.connect({ clientId: 'c', keepalive: 10, will: { ...will, topic: 'will/c' } })
      r.clock.advance(14_999)
      c.send({ cmd: 'pingreq' })
      expect(await c.next()).toMatchObject({ cmd: 'pingresp' })
      r.clock.advance(15_000)
      expect(await c.nextOrClosed()).toBe('closed')
      expect(await s.next()).toMatchObject({ topic: 'will/c' })
    })

    test('MqttConnection: a second connection with the same client id closes the first', async () => {
      const r = rig()
      const a = r.client()
      await a.raw.connect({ clientId: 'same' })
      const b = r.client()
      expect(await b.raw.connect({ clientId: 'same' })).toMatchObject({ returnCode: 0 })
      expect(await a.raw.nextOrClosed()).toBe('closed')
      expect(a.conn.closedBecause).toContain('took this client id')
    })

    test('MqttConnection: leading wildcards do not match $ topics', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: '#', qos: 0 },
          { topic: '+/x', qos: 0 },
        ],
      } as Packet)
      await s.next()
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('$SYS/x', 'no'))
      p.send(pub('a/x', 'yes'))
      const got = (await s.next()) as Packet & { cmd: 'publish' }
      expect(got.topic).toBe('a/x')
    })

    test('MqttConnection gives one delivery at the highest QoS for overlapping subscriptions', async () => {
      const r = rig()
      const s = r.client().raw
      await s.connect({ clientId: 's' })
      s.send({
        cmd: 'subscribe',
        messageId: 1,
        subscriptions: [
          { topic: 'o/#', qos: 0 },
          { topic: 'o/+', qos: 1 },
        ],
      } as Packet)
      await s.next()
      const p = r.client().raw
      await p.connect({ clientId: 'p' })
      p.send(pub('o/1', 'a', 1, { messageId: 1 }))
      p.send(pub('o/1', 'b', 0))
      expect(await s.next()).toMatchObject({ qos: 1 })
      expect(((await s.next()) as Packet & { cmd: 'publish' }).payload.toString()).toBe('b')
    })

    test('MqttConnection fails an invalid filter in SUBACK (0x80) and keeps the valid ones', async () => {
      const { raw } = rig().client()
      await raw.connect()
      raw.send({
        cmd: 'subscribe',
        messageId: 3,
        subscriptions: [
          { topic: 'a/#/b', qos: 1 },
          { topic: 'ok', qos: 2 },
        ],
      } as Packet)
      expect(await raw.next()).toMatchObject({ cmd: 'suback', granted: [0x80, 2] })
    })

    test('MqttConnection answers failed authentication with CONNACK 4', async () => {
      const r = rig({
        authenticator: {
          authenticate: async (c) => {
            if (c.username === 'u' && c.password === 'p') return { user: 'u', groups: new Set() }
            throw new BrokerError('SECURITY_AUTHENTICATION_FAILED', `User name [${c.username}] or password is invalid.`)
          },
        },
      })
      expect(await r.client().raw.connect({ username: 'u', password: Buffer.from('bad') })).toMatchObject({
        returnCode: 4,
      })
      expect(await r.client().raw.connect({ username: 'u', password: Buffer.from('p') })).toMatchObject({
        returnCode: 0,
      })
    })

    test('MqttConnection closes a socket that sends no CONNECT within connectTimeoutMs', async () => {
      const r = rig()
      const { raw } = r.client({ connectTimeoutMs: 1000 })
      r.clock.advance(1000)
      expect(await raw.nextOrClosed()).toBe('closed')
    })
  })
