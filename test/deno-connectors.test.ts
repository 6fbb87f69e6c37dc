/**
 * Goal: issues #16 and #17 under Deno: one `deno run -A src/main.ts run` broker serves MQTT on mqtt://, MQTT and
 * STOMP on ws:// (by subprotocol) and OpenWire on tcp://, to clients sfbroker did not write; SIGTERM then ends an
 * MQTT 5 client with DISCONNECT 0x8B and the process exits 0.
 * Method: the Deno binary from the npm `deno` package runs the broker from source (test/fixtures startBroker waits
 * for its STOMP port); in this Bun test process run MQTT.js (mqtt:// and ws://), @stomp/stompjs over the `ws`
 * package's WebSocket (v12.stomp), and a raw socket speaking OpenWire through src/protocol/openwire's codec. Every
 * wait is on an ack, a receipt, a frame or an event, each bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt'
import net from 'node:net'
import path from 'node:path'
import WebSocket from 'ws'
import {
  type Command,
  type ConnectionInfo,
  FrameDecoder,
  type FrameOptions,
  brokerWireFormatInfo,
  encodeFrame,
  initialFrameOptions,
  negotiate,
  OPENWIRE_VERSION_MAX,
  OPENWIRE_VERSION_MIN,
  readWireFormatSettings,
  type WireFormatInfo,
} from '../src/protocol/openwire/index.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { type BrokerProcess, exitOf, ROOT, startBroker, TestProcesses } from './fixtures/broker-process.ts'
import { closeAll, connectMqtt } from './fixtures/mqtt-clients.ts'
import { closeStompPeers, StompPeer } from './fixtures/mqtt-stomp-peer.ts'

/** Bound of one wait for a message, an OpenWire command or a DISCONNECT. */
const WAIT_MS = 30_000
/** Largest OpenWire frame this test's client accepts. */
const OPENWIRE_FRAME_BYTES_MAX = 1 << 20

const DENO = [
  path.join(ROOT, 'node_modules/.bin/deno'),
  'run',
  '-A',
  '--quiet',
  '--no-lock',
  path.join(ROOT, 'src/main.ts'),
]

const procs = new TestProcesses()
let broker: BrokerProcess
let mqttPort: number
let wsPort: number
let openwirePort: number

beforeAll(async () => {
  const [stomp, mq, ws, ow] = (await freePorts(4)) as [number, number, number, number]
  mqttPort = mq
  wsPort = ws
  openwirePort = ow
  // The first `deno run` after a change type-strips and caches the module graph: allow it time.
  broker = await startBroker(procs, {
    command: DENO,
    args: [
      '--data',
      procs.tempDir('sfb-deno-conn-'),
      '--connector',
      `mqtt://127.0.0.1:${mq}`,
      '--connector',
      `ws://127.0.0.1:${ws}`,
      '--connector',
      `tcp://127.0.0.1:${ow}`,
      '--log-level',
      'warn',
    ],
    port: stomp,
    timeoutMs: 90_000,
    env: { ...process.env, NO_COLOR: '1' },
  })
}, 120_000)

afterAll(() => {
  closeAll()
  closeStompPeers()
  procs.cleanup()
})

/** The next PUBLISH `client` receives, bounded. */
function nextPublish(client: MqttClient, what: string): Promise<IPublishPacket> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no PUBLISH within ${WAIT_MS} ms: ${what}`)), WAIT_MS)
    client.once('message', (_topic, _payload, packet) => {
      clearTimeout(t)
      resolve(packet)
    })
  })
}

/** Subscriber and publisher on one URL; QoS 1 both ways, so publishAsync resolves on the broker's PUBACK. */
async function qos1RoundTrip(url: string, topic: string, opts: IClientOptions): Promise<IPublishPacket> {
  const { client: sub } = await connectMqtt(url, { ...opts, clientId: `${opts.clientId}-sub` })
  const { client: pub } = await connectMqtt(url, { ...opts, clientId: `${opts.clientId}-pub` })
  const granted = await sub.subscribeAsync(topic, { qos: 1 })
  expect(granted.map((g) => g.qos)).toEqual([1])
  const got = nextPublish(sub, `${topic} at ${url}`)
  // MQTT.js resolves a QoS 1 publish once its PUBACK arrives, with the packet it sent.
  const sent = await pub.publishAsync(topic, 'from MQTT.js', { qos: 1 })
  expect((sent as IPublishPacket | undefined)?.qos).toBe(1)
  return got
}

/**
 * An OpenWire client on a raw socket: collects decoded commands; `next` waits for the next one (bounded). The
 * decoder's options switch to the negotiated format with `negotiated`.
 */
class OpenWireProbe {
  private readonly decoder = new FrameDecoder(initialFrameOptions(OPENWIRE_FRAME_BYTES_MAX))
  private readonly got: Command[] = []
  private failure: string | null = null
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      try {
        this.decoder.push(d, (c) => void this.got.push(c))
      } catch (e) {
        this.failure = `undecodable OpenWire from the broker: ${(e as Error).message}`
        socket.destroy()
      }
    })
    socket.on('error', (e) => (this.failure ??= `socket error: ${e.message}`))
    socket.on('close', () => (this.failure ??= 'closed by the broker'))
  }

  static connect(port: number): Promise<OpenWireProbe> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => resolve(new OpenWireProbe(s)))
      s.once('error', reject)
    })
  }

  negotiated(options: FrameOptions): void {
    this.decoder.setOptions(options)
  }

  /** The next command received, which must be of type `type`. */
  async next<T extends Command['type']>(type: T): Promise<Extract<Command, { type: T }>> {
    const c = await until(() => this.got.shift() ?? this.failure, `an OpenWire ${type}`, WAIT_MS, 5)
    if (typeof c === 'string') throw new Error(`waiting for ${type}: ${c}`)
    expect(c.type).toBe(type)
    return c as Extract<Command, { type: T }>
  }
}

describe('sfbroker under Deno: MQTT, WebSocket and OpenWire connectors', () => {
  test('Deno broker: MQTT.js QoS 1 publish over mqtt:// reaches an mqtt:// subscriber', async () => {
    const m = await qos1RoundTrip(`mqtt://127.0.0.1:${mqttPort}`, 'deno/tcp/level', {
      protocolVersion: 4,
      clientId: 'deno-tcp',
    })
    expect(m.topic).toBe('deno/tcp/level')
    expect(m.qos).toBe(1)
    expect(m.payload.toString()).toBe('from MQTT.js')
  }, 60_000)

  test('Deno broker: MQTT.js over ws:// negotiates subprotocol mqtt and delivers a QoS 1 publish', async () => {
    // MQTT.js picks its subprotocol list itself; createWebsocket only keeps the sockets to read what was answered.
    const sockets: WebSocket[] = []
    const m = await qos1RoundTrip(`ws://127.0.0.1:${wsPort}`, 'deno/ws/level', {
      protocolVersion: 5,
      clientId: 'deno-ws',
      createWebsocket: (url: string, protocols: string[]) => {
        expect(protocols).toEqual(['mqtt'])
        const ws = new WebSocket(url, protocols)
        sockets.push(ws)
        return ws
      },
    })
    expect(sockets.map((s) => s.protocol)).toEqual(['mqtt', 'mqtt'])
    expect(m.topic).toBe('deno/ws/level')
    expect(m.qos).toBe(1)
    expect(m.payload.toString()).toBe('from MQTT.js')
  }, 60_000)

  test('Deno broker: @stomp/stompjs over ws:// speaks STOMP 1.2 (v12.stomp), receipted SEND and SUBSCRIBE', async () => {
    const peer = await StompPeer.connect('ws', wsPort)
    expect((peer.client.webSocket as unknown as WebSocket).protocol).toBe('v12.stomp')
    expect(peer.client.connectedVersion).toBe('1.2')
    await peer.subscribe('/queue/deno.ws')
    await peer.send('/queue/deno.ws', 'from stompjs', { persistent: 'true' })
    const m = await peer.waitFor((x) => x.body === 'from stompjs', 'the SEND back at the ws:// subscriber', WAIT_MS)
    expect(m.headers.destination).toBe('/queue/deno.ws')
    // And across protocols on one Deno broker: an MQTT publish on mqtt:// reaches the STOMP-over-ws subscriber.
    await peer.subscribe('/topic/deno.bridge.a')
    const { client } = await connectMqtt(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, clientId: 'bridge' })
    await client.publishAsync('deno/bridge/a', 'mqtt to stomp', { qos: 1 })
    const b = await peer.waitFor((x) => x.body === 'mqtt to stomp', 'the MQTT publish at the STOMP subscriber', WAIT_MS)
    expect(b.headers.destination).toBe('/topic/deno.bridge.a')
  }, 60_000)

  test('Deno broker: OpenWire on tcp:// sends WireFormatInfo, then BrokerInfo, and answers ConnectionInfo', async () => {
    const ow = await OpenWireProbe.connect(openwirePort)
    try {
      // The broker speaks first (OpenWire's handshake): its WireFormatInfo names the runtime it runs on.
      const offer = await ow.next('WireFormatInfo')
      expect(Buffer.from(offer.magic).toString('latin1')).toBe('ActiveMQ')
      expect(offer.version).toBeGreaterThanOrEqual(OPENWIRE_VERSION_MIN)
      expect(offer.version).toBeLessThanOrEqual(OPENWIRE_VERSION_MAX)
      const settings = readWireFormatSettings(offer)
      expect(settings.tightEncodingEnabled).toBe(false)
      expect(offer.properties?.get('ProviderName')).toEqual({ kind: 'string', value: 'sfbroker' })
      expect(offer.properties?.get('PlatformDetails')).toEqual({
        kind: 'string',
        value: expect.stringMatching(/^Deno \d+\.\d+/),
      })

      const mine: WireFormatInfo = brokerWireFormatInfo({
        maxFrameSize: OPENWIRE_FRAME_BYTES_MAX,
        maxInactivityDurationMs: 0,
        maxInactivityDurationInitialDelayMs: 0,
        stackTraceEnabled: false,
        tcpNoDelayEnabled: true,
        providerName: 'sfbroker deno test',
        providerVersion: '1',
        platformDetails: 'Bun test',
      })
      const format = negotiate(settings, readWireFormatSettings(mine))
      ow.socket.write(encodeFrame(mine, initialFrameOptions(OPENWIRE_FRAME_BYTES_MAX)))
      ow.negotiated(format)
      const info = await ow.next('BrokerInfo')
      expect(info.brokerName).toBe('localhost')

      const hello: ConnectionInfo = {
        type: 'ConnectionInfo',
        commandId: 1,
        responseRequired: true,
        connectionId: { type: 'ConnectionId', value: 'ID:deno-test-1' },
        clientId: 'deno-openwire',
        password: null,
        userName: null,
        brokerPath: null,
        brokerMasterConnector: false,
        manageable: false,
        clientMaster: true,
        faultTolerant: false,
        failoverReconnect: false,
        clientIp: null,
      }
      ow.socket.write(encodeFrame(hello, format))
      const r = await ow.next('Response')
      expect(r.correlationId).toBe(1)
    } finally {
      ow.socket.destroy()
    }
  }, 60_000)

  test('Deno broker: SIGTERM ends an MQTT 5 client over ws:// with DISCONNECT 0x8B and exits 0', async () => {
    const { client } = await connectMqtt(`ws://127.0.0.1:${wsPort}`, { protocolVersion: 5, clientId: 'deno-last' })
    const bye = new Promise<number | undefined>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no DISCONNECT within ${WAIT_MS} ms`)), WAIT_MS)
      client.once('disconnect', (p) => {
        clearTimeout(t)
        resolve(p.reasonCode)
      })
    })
    broker.child.kill('SIGTERM')
    expect(await bye).toBe(0x8b)
    expect(await exitOf(broker.child, WAIT_MS)).toBe(0)
    // Nothing thrown on the way out (Deno prints an uncaught error in a worker to stderr, and exits 0 anyway).
    const stderr = broker.child.stderr!
    if (!stderr.closed) await new Promise((r) => stderr.once('close', r))
    expect(broker.log()).not.toContain('Uncaught')
  }, 60_000)
})
