/**
 * Goal: real clients speak their protocol through WsListener/WsDuplex: @stomp/stompjs (over the `ws` package,
 * via webSocketFactory) to the real StompConnection and Broker, unchanged, and MQTT.js (subprotocol mqtt) to an
 * in-test MQTT responder built on mqtt-packet; and the subprotocol choice as a table.
 * Method: a WsListener on 127.0.0.1 port 0 whose onConnection hands each WsDuplex to the protocol's connection
 * code, as the node will; every wait is on a client callback (CONNECTED, receipt, MESSAGE, CONNACK, PUBACK).
 */
import { afterAll, describe, expect, test } from 'bun:test'
import type net from 'node:net'
import { Client, type IStompSocket } from '@stomp/stompjs'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { WebSocket } from 'ws'
import { StompConnection } from '../protocol/stomp/index.ts'
import { startBroker, type Harness } from '../protocol/stomp/testing/broker-harness.ts'
import { WsListener } from './ws-listener.ts'
import { negotiateSubprotocol, type WsProtocol } from './ws-subprotocol.ts'
import type { WsDuplex } from './ws-duplex.ts'

const cleanup: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f()
})

/** An MQTT 3.1.1 responder: CONNACK, PUBACK for QoS 1, SUBACK, and every PUBLISH echoed to subscribers. */
function mqttResponder(socket: WsDuplex): void {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const send = (p: mqttPacket.Packet): void => void socket.write(mqttPacket.generate(p))
  let subscribed: string | null = null
  parser.on('packet', (p: mqttPacket.Packet) => {
    if (p.cmd === 'connect') send({ cmd: 'connack', returnCode: 0, sessionPresent: false })
    else if (p.cmd === 'subscribe') {
      subscribed = p.subscriptions[0]!.topic
      send({ cmd: 'suback', messageId: p.messageId, granted: p.subscriptions.map(() => 0) })
    } else if (p.cmd === 'publish') {
      if (p.qos === 1) send({ cmd: 'puback', messageId: p.messageId })
      if (subscribed === p.topic)
        send({ cmd: 'publish', topic: p.topic, payload: p.payload, qos: 0, dup: false, retain: false })
    } else if (p.cmd === 'pingreq') send({ cmd: 'pingresp' })
    else if (p.cmd === 'disconnect') socket.end()
  })
  parser.on('error', () => socket.destroy())
  socket.on('data', (b: Buffer) => parser.parse(b))
  socket.on('error', () => {})
}

async function serveBoth(h: Harness): Promise<number> {
  const listener = new WsListener({
    where: 'connector ws (ws://127.0.0.1:0)',
    host: '127.0.0.1',
    port: 0,
    serves: ['stomp', 'mqtt'],
    messageBytesMax: 1024 * 1024,
    pendingUpgradesMax: 8,
    upgradeTimeoutMs: 10_000,
    onConnection: (socket, info) => {
      if (info.protocol === 'mqtt') return mqttResponder(socket)
      // The connection code takes a net.Socket; WsDuplex provides every member of it that code uses.
      new StompConnection({ broker: h.broker, socket: socket as unknown as net.Socket, serverName: 'sfbroker/ws-test' })
    },
  })
  await listener.listen()
  cleanup.push(() => listener.close())
  return listener.address().port
}

describe('STOMP and MQTT over WebSocket', () => {
  test('stompjs over ws:// sends, receives and gets a receipt from the real STOMP connection', async () => {
    const h = await startBroker()
    cleanup.push(() => h.stop())
    const port = await serveBoth(h)
    const protocols: string[] = []
    const client = new Client({
      reconnectDelay: 0,
      webSocketFactory: () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['v12.stomp', 'v11.stomp', 'v10.stomp'])
        ws.on('open', () => protocols.push(ws.protocol))
        return ws as unknown as IStompSocket
      },
    })
    const connected = new Promise<string | undefined>((resolve, reject) => {
      client.onConnect = (f) => resolve(f.headers.server)
      client.onStompError = (f) => reject(new Error(f.headers.message))
      client.onWebSocketClose = (e) => reject(new Error(`closed ${(e as { code?: number }).code}`))
    })
    client.activate()
    cleanup.push(() => client.deactivate())
    expect(await connected).toBe('sfbroker/ws-test')
    expect(protocols).toEqual(['v12.stomp'])
    const got = new Promise<string>((r) => client.subscribe('/queue/ws.test', (m) => r(m.body)))
    const receipt = new Promise<void>((r) => client.watchForReceipt('r-1', () => r()))
    client.publish({ destination: '/queue/ws.test', body: 'héllo über WebSocket', headers: { receipt: 'r-1' } })
    await receipt
    expect(await got).toBe('héllo über WebSocket')
  })

  test('MQTT.js over ws:// with subprotocol mqtt connects, publishes QoS 1 and receives', async () => {
    const h = await startBroker()
    cleanup.push(() => h.stop())
    const port = await serveBoth(h)
    const client = mqtt.connect(`ws://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, clientId: 'ws-t' })
    cleanup.push(() => void client.end(true))
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve())
      client.once('error', reject)
    })
    await client.subscribeAsync('t/ws')
    const got = new Promise<string>((r) => client.once('message', (_t, payload) => r(payload.toString())))
    await client.publishAsync('t/ws', Buffer.from('over websocket'), { qos: 1 })
    expect(await got).toBe('over websocket')
  })
})

describe('negotiateSubprotocol', () => {
  const both: WsProtocol[] = ['stomp', 'mqtt']
  const table: Array<[string | undefined, WsProtocol[], string]> = [
    [undefined, both, 'stomp -'],
    ['', both, 'stomp -'],
    ['v10.stomp, v12.stomp', both, 'stomp v12.stomp'],
    ['stomp', both, 'stomp stomp'],
    ['mqtt', both, 'mqtt mqtt'],
    ['mqttv3.1, mqtt', both, 'mqtt mqtt'],
    ['foo, mqttv3.1, v12.stomp', both, 'mqtt mqttv3.1'],
    ['MQTT', both, 'refused'],
    ['amqp', both, 'refused'],
    [undefined, ['mqtt'], 'refused'],
    ['v12.stomp', ['mqtt'], 'refused'],
    [Array.from({ length: 33 }, (_, i) => `p${i}`).join(','), both, 'refused'],
  ]
  for (const [offered, serves, want] of table) {
    test(`negotiateSubprotocol ${JSON.stringify(offered)} serving ${serves.join('+')} → ${want}`, () => {
      const n = negotiateSubprotocol(offered, serves)
      expect(n.ok ? `${n.protocol} ${n.subprotocol ?? '-'}` : 'refused').toBe(want)
      if (!n.ok) expect(n.reason).toContain('expected')
    })
  }
})
