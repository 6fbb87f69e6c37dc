/**
 * Goal: each connector scheme is served by the protocol it names, through the real node: an mqtt:// connector
 * speaks MQTT (and not STOMP), mqtt+ssl:// MQTT over TLS, ws:// and wss:// MQTT by subprotocol, stomp:// STOMP;
 * the connection counts by protocol and transport show in the node's status, /metrics and the store summary; a
 * step-down ends MQTT 5 clients with DISCONNECT 0x8B.
 * Method: one BrokerNode in this process on a temp shared dir (real election, every connector on 127.0.0.1 port 0,
 * an admin listener on port 0, the test PKI for TLS), MQTT.js clients. Waits are on client events or `until` polls
 * with generous limits, never sleeps.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { defaultConfig, parseConnectorUri, type BrokerConfig } from '../config/index.ts'
import { until } from '../testing/until.ts'
import { makeTempDir, type TempDir } from '../testing/temp-dir.ts'
import { makeTestPki, type TestPki } from '../testing/tls-certs.ts'
import { stompFirstCommand } from '../testing/net-probe.ts'
import { BrokerNode } from './broker-node.ts'
import { Client, type IStompSocket } from '@stomp/stompjs'
import { WebSocket } from 'ws'
import { FrameDecoder, brokerWireFormatInfo, encodeFrame, initialFrameOptions } from '../protocol/openwire/index.ts'

/** Send a client WireFormatInfo; resolves with the type of the first command the broker answers (null: none). */
function openWireHello(p: number): Promise<string | null> {
  return new Promise((resolve) => {
    const opts = initialFrameOptions(1024 * 1024)
    const s = net.connect(p, '127.0.0.1')
    const decoder = new FrameDecoder(opts)
    const done = (t: string | null): void => {
      clearTimeout(timer)
      s.destroy()
      resolve(t)
    }
    const timer = setTimeout(() => done(null), 10_000)
    s.on('error', () => done(null))
    s.on('close', () => done(null))
    s.on('data', (chunk) => decoder.push(chunk as Buffer, (c) => done(c.type)))
    const hello = brokerWireFormatInfo({
      maxFrameSize: 1024 * 1024,
      maxInactivityDurationMs: 0,
      maxInactivityDurationInitialDelayMs: 0,
      stackTraceEnabled: false,
      tcpNoDelayEnabled: true,
      providerName: 'test',
      providerVersion: '0',
      platformDetails: 'bun',
    })
    s.once('connect', () => s.write(encodeFrame(hello, opts)))
  })
}

let scratch: TempDir
let pki: TestPki
let node: BrokerNode
const clients: MqttClient[] = []

const URIS: Record<string, string> = {
  stomp: 'stomp://127.0.0.1:0',
  mqtt: 'mqtt://127.0.0.1:0',
  mqttSsl: 'mqtt+ssl://127.0.0.1:0',
  ws: 'ws://127.0.0.1:0',
  wss: 'wss://127.0.0.1:0',
  openwire: 'tcp://127.0.0.1:0',
  auto: 'auto://127.0.0.1:0',
}

function config(dir: string): BrokerConfig {
  const base = defaultConfig(dir)
  return {
    ...base,
    connectors: Object.entries(URIS).map(([name, uri]) => parseConnectorUri(uri, name, `test connector ${name}`)),
    sslContext: {
      keyStore: null,
      keyStorePassword: null,
      trustStore: null,
      trustStorePassword: null,
      keyFile: pki.serverKey,
      certFile: pki.serverPem,
      caFile: null,
      keyPassword: null,
    },
    admin: { host: '127.0.0.1', port: 0, metricsDestinationsMax: 100 },
  }
}

function port(name: string): number {
  const c = node.status().connectors.find((x) => x.name === name)
  if (!c?.listening) throw new Error(`connector ${name} is not listening`)
  return Number(c.listening.split(':').pop())
}

function connected(c: MqttClient): Promise<MqttClient> {
  clients.push(c)
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

const common = { reconnectPeriod: 0, connectTimeout: 20_000 }

async function metrics(): Promise<string> {
  const a = node.adminAddress()!
  const res = await fetch(`http://127.0.0.1:${a.port}/metrics`)
  return res.text()
}

beforeAll(async () => {
  scratch = makeTempDir('sfb-conn-')
  const dir = scratch.path
  pki = makeTestPki(path.join(dir, 'pki'))
  const shared = path.join(dir, 'shared')
  fs.mkdirSync(shared)
  node = new BrokerNode(config(shared))
  await node.start()
  await until(
    () => node.status().role === 'primary',
    () => `the node to be primary (role ${node.status().role})`,
    30_000,
  )
}, 60_000)

afterAll(async () => {
  for (const c of clients.splice(0)) c.end(true)
  await node?.stop('test done')
  scratch?.remove()
})

describe('BrokerNode connectors', () => {
  test('BrokerNode serves MQTT on mqtt://, MQTT over TLS on mqtt+ssl:// and STOMP on stomp:// only', async () => {
    expect(await stompFirstCommand(port('stomp'), 5000)).toBe('CONNECTED')
    // A STOMP CONNECT is not an MQTT packet: the mqtt:// connector must not answer CONNECTED.
    expect(await stompFirstCommand(port('mqtt'), 2000)).toBeNull()

    const sub = await connected(
      mqtt.connect({ ...common, host: '127.0.0.1', port: port('mqtt'), protocolVersion: 5, clientId: 'plain-sub' }),
    )
    const pub = await connected(
      mqtt.connect({
        ...common,
        protocol: 'mqtts',
        host: '127.0.0.1',
        port: port('mqttSsl'),
        ca: fs.readFileSync(pki.caPem),
        protocolVersion: 4,
        clientId: 'tls-pub',
      }),
    )
    await sub.subscribeAsync('sensors/+/temp', { qos: 1 })
    const got = new Promise<string>((resolve) => sub.once('message', (t, p) => resolve(`${t}=${p.toString()}`)))
    await pub.publishAsync('sensors/1/temp', '21.5', { qos: 1 })
    expect(await got).toBe('sensors/1/temp=21.5')
    const st = node.status().connectors
    expect(st.find((c) => c.name === 'mqtt')).toMatchObject({ transport: 'tcp', byProtocol: { mqtt: 1, stomp: 0 } })
    expect(st.find((c) => c.name === 'mqttSsl')).toMatchObject({ transport: 'tls', byProtocol: { mqtt: 1 } })
    sub.end(true)
    pub.end(true)
    await until(() => node.status().connectors.every((c) => c.connections === 0), 'the MQTT clients to be gone', 10_000)
  }, 60_000)

  test('BrokerNode serves MQTT.js over ws:// and wss:// (subprotocol mqtt) and counts them by transport', async () => {
    const ws = await connected(
      mqtt.connect(`ws://127.0.0.1:${port('ws')}`, { ...common, protocolVersion: 5, clientId: 'ws-sub' }),
    )
    const wss = await connected(
      mqtt.connect(`wss://127.0.0.1:${port('wss')}`, {
        ...common,
        protocolVersion: 4,
        clientId: 'wss-pub',
        ca: fs.readFileSync(pki.caPem),
      }),
    )
    await ws.subscribeAsync('a/#', { qos: 2 })
    const got = new Promise<string>((resolve) => ws.once('message', (t, p) => resolve(`${t}=${p.toString()}`)))
    await wss.publishAsync('a/b', 'over wss', { qos: 2 })
    expect(await got).toBe('a/b=over wss')

    const st = node.status().connectors
    expect(st.find((c) => c.name === 'ws')).toMatchObject({ transport: 'ws', connections: 1, byProtocol: { mqtt: 1 } })
    expect(st.find((c) => c.name === 'wss')).toMatchObject({ transport: 'wss', byProtocol: { mqtt: 1 } })
    const text = await metrics()
    expect(text).toMatch(/sfbroker_connections\{[^}]*connector="ws",protocol="mqtt",transport="ws"\} 1/)
    expect(text).toMatch(/sfbroker_connections\{[^}]*connector="wss",protocol="mqtt",transport="wss"\} 1/)
    expect(text).toMatch(/sfbroker_connections\{[^}]*connector="stomp",protocol="stomp",transport="tcp"\} 0/)
    expect(text).not.toMatch(/connector="stomp",protocol="mqtt"/)
    expect(text).toMatch(/sfbroker_connections_total\{[^}]*\} 2/)
    ws.end(true)
    wss.end(true)
    await until(() => node.status().connectors.every((c) => c.connections === 0), 'the ws clients to be gone', 10_000)
  }, 60_000)

  test('BrokerNode store summary carries the connections by protocol and transport', async () => {
    const c = await connected(
      mqtt.connect({ ...common, host: '127.0.0.1', port: port('mqtt'), protocolVersion: 4, clientId: 'summary' }),
    )
    const file = path.join(node.config.persistence.directory, 'store-summary.json')
    const read = (): { connections?: { total: number; byProtocol: Record<string, number> } } | null => {
      try {
        return JSON.parse(fs.readFileSync(file, 'utf8'))
      } catch {
        return null
      }
    }
    // Written every 2 s by the primary.
    await until(() => read()?.connections?.total === 1, 'a store summary counting one connection', 15_000)
    const s = read()!.connections as unknown as Record<string, unknown>
    expect(s).toMatchObject({ byProtocol: { mqtt: 1, stomp: 0 }, byTransport: { tcp: 1, tls: 0, ws: 0, wss: 0 } })
    c.end(true)
  }, 60_000)

  test('BrokerNode closes an mqtt:// socket that sends no MQTT, and the connector keeps serving', async () => {
    const bad = net.connect(port('mqtt'), '127.0.0.1')
    bad.on('error', () => {})
    await new Promise<void>((resolve) => bad.once('connect', () => resolve()))
    // Packet type 0 is reserved (MQTT 3.1.1 §2.2.1): malformed at the first byte.
    bad.write(Buffer.from([0x00, 0x00]))
    await new Promise<void>((resolve) => bad.once('close', () => resolve()))
    const ok = await connected(
      mqtt.connect({ ...common, host: '127.0.0.1', port: port('mqtt'), protocolVersion: 4, clientId: 'after-bad' }),
    )
    expect(ok.connected).toBe(true)
    ok.end(true)
  }, 60_000)

  test('BrokerNode serves STOMP (stompjs) on ws:// next to MQTT, counted apart', async () => {
    const client = new Client({
      reconnectDelay: 0,
      webSocketFactory: () => new WebSocket(`ws://127.0.0.1:${port('ws')}`, ['v12.stomp']) as unknown as IStompSocket,
    })
    const up = new Promise<void>((resolve, reject) => {
      client.onConnect = () => resolve()
      client.onStompError = (f) => reject(new Error(f.headers.message))
    })
    client.activate()
    try {
      await up
      const m = await connected(
        mqtt.connect(`ws://127.0.0.1:${port('ws')}`, { ...common, protocolVersion: 4, clientId: 'ws-mqtt' }),
      )
      // MQTT publish -> STOMP subscriber of the dotted topic, through the broker (receipted SUBSCRIBE first).
      const fromMqtt = new Promise<string>((r) =>
        client.subscribe('/topic/plant.*.level', (msg) => r(msg.body), { receipt: 's-1' }),
      )
      await new Promise<void>((r) => client.watchForReceipt('s-1', () => r()))
      await m.publishAsync('plant/3/level', 'from mqtt', { qos: 1 })
      expect(await fromMqtt).toBe('from mqtt')
      const got = new Promise<string>((r) => client.subscribe('/queue/ws.node', (msg) => r(msg.body)))
      const receipt = new Promise<void>((r) => client.watchForReceipt('r-1', () => r()))
      client.publish({ destination: '/queue/ws.node', body: 'über ws', headers: { receipt: 'r-1' } })
      await receipt
      expect(await got).toBe('über ws')
      expect(node.status().connectors.find((c) => c.name === 'ws')).toMatchObject({
        connections: 2,
        byProtocol: { stomp: 1, mqtt: 1, openwire: 0 },
      })
      m.end(true)
    } finally {
      await client.deactivate()
    }
  }, 60_000)

  test('BrokerNode serves OpenWire on tcp:// and tells OpenWire, STOMP and MQTT apart on auto://', async () => {
    expect(await openWireHello(port('openwire'))).toBe('WireFormatInfo')
    // The OpenWire connector speaks first (its WireFormatInfo), whatever the client sends: never a STOMP CONNECTED.
    expect(await stompFirstCommand(port('openwire'), 2000)).not.toBe('CONNECTED')
    expect(await openWireHello(port('auto'))).toBe('WireFormatInfo')
    expect(await stompFirstCommand(port('auto'), 5000)).toBe('CONNECTED')
    const m = await connected(
      mqtt.connect({ ...common, host: '127.0.0.1', port: port('auto'), protocolVersion: 5, clientId: 'auto-mqtt' }),
    )
    expect(node.status().connectors.find((c) => c.name === 'auto')?.byProtocol.mqtt).toBe(1)
    const text = await metrics()
    expect(text).toMatch(/sfbroker_connections\{[^}]*connector="auto",protocol="openwire",transport="tcp"\} 0/)
    expect(text).toMatch(/sfbroker_connections\{[^}]*connector="auto",protocol="mqtt",transport="tcp"\} 1/)
    m.end(true)
    // A socket speaking none of them costs that socket only.
    const bad = net.connect(port('auto'), '127.0.0.1')
    bad.on('error', () => {})
    await new Promise<void>((resolve) => bad.once('connect', () => resolve()))
    bad.write('GET / HTTP/1.1\r\n\r\n')
    await new Promise<void>((resolve) => bad.once('close', () => resolve()))
  }, 60_000)

  // Last: it stops the node.
  test('BrokerNode stopping ends MQTT 5 clients with DISCONNECT 0x8B on every MQTT connector', async () => {
    const c = await connected(
      mqtt.connect(`ws://127.0.0.1:${port('ws')}`, { ...common, protocolVersion: 5, clientId: 'bye' }),
    )
    const bye = new Promise<number | undefined>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode)))
    await node.stop('test step-down')
    expect(await bye).toBe(0x8b)
  }, 60_000)
})
