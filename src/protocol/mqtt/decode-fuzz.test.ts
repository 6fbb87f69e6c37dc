/**
 * The decode path (PacketFramer, mqtt-packet's parser, the handlers) under hostile input: a valid packet stream split
 * at every point gives the same answers; truncated and seeded random or mutated bytes end in answers or a close,
 * never an exception out of the connection and never a hang. A failing case prints its seed;
 * `SEED=<n> bun test src/protocol/mqtt/decode-fuzz.test.ts` replays it.
 */
import { describe, expect, test } from 'bun:test'
import { generate, parser, type Packet } from 'mqtt-packet'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import { rig, rigs } from './testing/raw-mqtt.ts'
import { PacketFramer } from './packet-framer.ts'

function stream(version: 4 | 5): Buffer {
  const packets: Packet[] = [
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId: 'f' },
    { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 2 }] },
    {
      cmd: 'publish',
      topic: 'a/b',
      payload: Buffer.from('x'.repeat(200)),
      qos: 1,
      messageId: 2,
      dup: false,
      retain: false,
    },
    { cmd: 'publish', topic: 'a/c', payload: Buffer.from('y'), qos: 2, messageId: 3, dup: false, retain: true },
    { cmd: 'pubrel', messageId: 3 },
    { cmd: 'pingreq' },
  ]
  return Buffer.concat(packets.map((p) => generate(p, { protocolVersion: version })))
}

/** An MQTT 5 stream that uses properties in every packet that has them: more fields for a mutation to hit. */
function richStream(): Buffer {
  const packets: Packet[] = [
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clean: false,
      keepalive: 30,
      clientId: 'rich',
      will: {
        topic: 'w/t',
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
        properties: { willDelayInterval: 2, contentType: 'text/plain', userProperties: { k: 'v' } },
      },
      properties: {
        sessionExpiryInterval: 60,
        receiveMaximum: 5,
        maximumPacketSize: 4096,
        topicAliasMaximum: 4,
        requestProblemInformation: true,
        userProperties: { a: 'b' },
      },
    },
    {
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [
        { topic: 'a/#', qos: 2, nl: false, rap: true, rh: 1 },
        { topic: '$share/g/a/+', qos: 1 },
      ],
      properties: { subscriptionIdentifier: 7, userProperties: { s: '1' } },
    },
    {
      cmd: 'publish',
      topic: 'a/b',
      payload: Buffer.from('x'.repeat(120)),
      qos: 1,
      messageId: 2,
      dup: false,
      retain: false,
      properties: {
        topicAlias: 1,
        messageExpiryInterval: 100,
        contentType: 'text/plain',
        responseTopic: 'r/t',
        correlationData: Buffer.from('c'),
        payloadFormatIndicator: true,
        userProperties: { u: 'v' },
      },
    },
    {
      cmd: 'publish',
      topic: '',
      payload: Buffer.from('z'),
      qos: 2,
      messageId: 3,
      dup: false,
      retain: true,
      properties: { topicAlias: 1 },
    },
    { cmd: 'pubrel', messageId: 3, reasonCode: 0 },
    { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['a/#', 'nope'] },
    { cmd: 'pingreq' },
  ]
  return Buffer.concat(packets.map((p) => generate(p, { protocolVersion: 5 })))
}

/** The errors of decoding `bytes` as packets of `version`. */
function decodeErrors(bytes: Buffer, version: 3 | 4 | 5): string[] {
  const errors: string[] = []
  const p = parser({ protocolVersion: version })
  p.on('error', (e: Error) => errors.push(e.message))
  p.parse(bytes)
  return errors
}

/** Feeds `chunks` to a fresh connection; resolves with the commands answered once PINGRESP or a close is seen. */
async function run(chunks: Buffer[]): Promise<string[]> {
  const { raw } = rig().client()
  for (const c of chunks) raw.sendBytes(c)
  const seen: string[] = []
  for (;;) {
    const p = await raw.nextOrClosed()
    if (p === 'closed') return [...seen, 'closed']
    seen.push(p.cmd)
    if (p.cmd === 'pingresp') return seen
  }
}

describe('MQTT decode path', () => {
  for (const version of [4, 5] as const) {
    test(`MQTT v${version} stream split at every point gives the same answers`, async () => {
      const bytes = stream(version)
      const whole = await run([bytes])
      expect(whole).toContain('pubcomp')
      expect(whole.at(-1)).toBe('pingresp')
      for (let i = 1; i < bytes.length; i++) {
        expect(await run([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole)
      }
    })
  }

  test('PacketFramer holds a truncated packet and yields it whole once complete', () => {
    const bytes = stream(5)
    for (let i = 0; i < bytes.length; i++) {
      const f = new PacketFramer(1 << 20)
      const got = [...f.push(bytes.subarray(0, i)), ...f.push(bytes.subarray(i))]
      expect(Buffer.concat(got).equals(bytes)).toBe(true)
      expect(f.pendingBytes).toBe(0)
    }
  })

  const inputs = [
    { name: 'MQTT 3.1.1', version: 4 as const, bytes: () => stream(4) },
    { name: 'MQTT 5 with properties', version: 5 as const, bytes: richStream },
  ]
  for (const { name: coreName, rig: makeRig } of rigs)
    for (const { name, version, bytes } of inputs)
      test(`random and mutated ${name} bytes end in answers or a close, never an exception (${coreName})`, async () => {
        const seed = seedFromEnv()
        const rnd = new SeededRandom(seed)
        const r = makeRig()
        try {
          const valid = bytes()
          for (let round = 0; round < 300; round++) {
            let input: Buffer
            if (round % 2 === 0) {
              input = Buffer.from(valid)
              for (let k = rnd.int(1, 4); k > 0; k--) input[rnd.int(0, input.length - 1)] = rnd.int(0, 255)
            } else {
              input = Buffer.concat([
                valid.subarray(0, rnd.int(2, valid.length - 1)),
                Buffer.from(Array.from({ length: rnd.int(1, 64) }, () => rnd.int(0, 255))),
              ])
            }
            const { raw, conn } = r.client({ limits: { packetBytesMax: 512 } }, version)
            raw.sendBytes(input)
            // 300 PINGREQs (600 bytes) complete any packet the mutation left open (at most 512 bytes), so the
            // connection either answers a PINGREQ or has closed: both settle without timers.
            raw.sendBytes(Buffer.alloc(600, Buffer.from([0xc0, 0x00])))
            const out = await (async () => {
              for (;;) {
                const p = await raw.nextOrClosed()
                if (p === 'closed' || p.cmd === 'pingresp') return p
              }
            })()
            expect(out).toBeDefined()
            // What the server wrote decodes at the version it took from the (maybe mutated) CONNECT.
            expect(decodeErrors(Buffer.concat(raw.wire), conn.version)).toEqual([])
            raw.stream.destroy()
            await raw.closed
            expect(conn.id).toBeGreaterThan(0)
          }
        } catch (e) {
          console.error(`decode fuzz failed with SEED=${seed}`)
          throw e
        }
      })
})
