/**
 * The limits that keep one client from holding the loop or memory: strict UTF-8 in every string (3.1.1 §1.5.3,
 * MQTT 5 §1.5.4: ill-formed bytes, encoded surrogates or U+0000 close the connection, 0x81), pendingPacketsMax
 * (the socket stops reading while that many packets await their answers) and the listener's ReceiveBudget shared by
 * connections (a packet over it waits for another's answer). A gated MemoryCore holds publishes until the test
 * opens the gate, so the limits are crossed deterministically; waits are on packets or on the state they change.
 */
import { describe, expect, test } from 'bun:test'
import { generate, type Packet } from 'mqtt-packet'
import { until } from '../../testing/until.ts'
import type { MqttCore, MqttSession, OpenRequest } from './core-port.ts'
import { MemoryCore } from './memory-core.ts'
import { MqttConnection } from './connection.ts'
import { ReceiveBudget } from './receive-budget.ts'
import { checkMqttString } from './strict-strings.ts'
import { duplexPair, RawMqtt, rig } from './testing/raw-mqtt.ts'

const pub = (topic: string, payload: string, qos: 0 | 1 | 2 = 0, extra: object = {}): Packet =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, dup: false, retain: false, ...extra }) as Packet

/** `packet` encoded for `version` with the first occurrence of `from` (same length) replaced by `to`. */
function patched(packet: Packet, version: 4 | 5, from: string, to: number[]): Buffer {
  const b = generate(packet, { protocolVersion: version })
  const at = b.indexOf(Buffer.from(from))
  expect(at).toBeGreaterThan(0)
  Buffer.from(to).copy(b, at)
  return b
}

describe('strict UTF-8 strings', () => {
  test('checkMqttString accepts well-formed text and a real U+FFFD, refuses ill-formed bytes, surrogates, U+0000', () => {
    const ok = (s: string) => checkMqttString(s, Buffer.from(s))
    ok('sensors/é/温度')
    ok('replacement \ufffd is a legal character')
    const bad = (bytes: number[]) => {
      const b = Buffer.from(bytes)
      expect(() => checkMqttString(b.toString('utf8'), b)).toThrow(expect.objectContaining({ reason: 0x81 }))
    }
    bad([0x61, 0xc3, 0x28]) // truncated two-byte sequence
    bad([0xed, 0xa0, 0x80]) // U+D800 encoded as UTF-8
    bad([0xc0, 0xaf]) // overlong '/'
    bad([0x61, 0x00, 0x62]) // U+0000
  })

  test('MqttConnection closes MQTT 5 with DISCONNECT 0x81 for an ill-formed topic name or user property', async () => {
    const r = rig()
    const a = r.client().raw
    await a.connect({ protocolVersion: 5, clientId: 'a' })
    a.sendBytes(patched(pub('t/zz', 'x'), 5, 'zz', [0xc3, 0x28]))
    expect(await a.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x81 })
    await a.closed
    const b = r.client().raw
    await b.connect({ protocolVersion: 5, clientId: 'b' })
    b.sendBytes(
      patched(pub('t/ok', 'x', 0, { properties: { userProperties: { k: 'vvv' } } }), 5, 'vvv', [0xed, 0xa0, 0x80]),
    )
    expect(await b.next()).toMatchObject({ cmd: 'disconnect', reasonCode: 0x81 })
  })

  test('MqttConnection closes a 3.1.1 CONNECT with an ill-formed client id or a U+0000 in a topic without answering', async () => {
    const r = rig()
    const a = r.client().raw
    const connect = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0 } as const
    a.sendBytes(patched({ ...connect, clientId: 'dev-xx' } as Packet, 4, 'xx', [0xff, 0xfe]))
    expect(await a.nextOrClosed()).toBe('closed')
    const b = r.client().raw
    await b.connect({ clientId: 'b' })
    b.sendBytes(patched(pub('t/yy', 'x'), 4, 'yy', [0x79, 0x00]))
    expect(await b.nextOrClosed()).toBe('closed')
    expect(r.core.sessionCount()).toBe(0)
  })
})

/** A MemoryCore whose publishes wait until release(); begun() counts the publishes started. */
function gated(): { core: MqttCore; begun: () => number; release: () => void } {
  const inner = new MemoryCore()
  let begun = 0
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  const core: MqttCore = {
    async open(req) {
      const r = await inner.open(req)
      const s = r.session
      // Every other call goes to the real handle with itself as `this` (it checks that it is still attached).
      const session = new Proxy(s, {
        get(target, key) {
          if (key === 'publish')
            return async (...args: Parameters<MqttSession['publish']>) => {
              begun++
              await gate
              return target.publish(...args)
            }
          const v = Reflect.get(target, key)
          return typeof v === 'function' ? v.bind(target) : v
        },
      })
      return { ...r, session }
    },
  }
  return { core, begun: () => begun, release }
}

describe('connection limits', () => {
  test('MqttConnection stops reading at pendingPacketsMax unanswered packets and resumes once they are answered', async () => {
    const g = gated()
    const [serverSide, clientSide] = duplexPair()
    new MqttConnection({ socket: serverSide, core: g.core, pendingPacketsMax: 2 })
    const raw = new RawMqtt(clientSide)
    await raw.connect({ clientId: 'p' })
    for (let i = 1; i <= 6; i++) raw.send(pub('t', `m${i}`, 1, { messageId: i }))
    await until(() => serverSide.isPaused(), 'the socket paused', 5_000, 5)
    // Paused: nothing more is read, so no more publishes begin than the limit let in.
    expect(g.begun()).toBe(2)
    g.release()
    for (let i = 1; i <= 6; i++) expect(await raw.next()).toMatchObject({ cmd: 'puback', messageId: i })
    expect(g.begun()).toBe(6)
    expect(serverSide.isPaused()).toBe(false)
  })

  test('MqttConnection waits for the shared ReceiveBudget: a packet over it is handled after another is answered', async () => {
    const g = gated()
    const budget = new ReceiveBudget(200)
    const conn = () => {
      const [serverSide, clientSide] = duplexPair()
      new MqttConnection({ socket: serverSide, core: g.core, receiveBudget: budget })
      return { raw: new RawMqtt(clientSide), serverSide }
    }
    const a = conn()
    const b = conn()
    await a.raw.connect({ clientId: 'a' })
    await b.raw.connect({ clientId: 'b' })
    expect(budget.used).toBe(0)
    a.raw.send(pub('t', 'x'.repeat(150), 1, { messageId: 1 }))
    await until(() => g.begun() === 1, 'a publish begun', 5_000, 5)
    b.raw.send(pub('t', 'y'.repeat(150), 1, { messageId: 1 }))
    await until(() => b.serverSide.isPaused(), 'b paused by the budget', 5_000, 5)
    expect(g.begun()).toBe(1)
    expect(budget.used).toBeLessThanOrEqual(200)
    g.release()
    expect(await a.raw.next()).toMatchObject({ cmd: 'puback', messageId: 1 })
    expect(await b.raw.next()).toMatchObject({ cmd: 'puback', messageId: 1 })
    await until(() => budget.used === 0, 'the budget released', 5_000, 5)
  })
})
