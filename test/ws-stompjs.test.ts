/**
 * Goal: issue #17's WebSocket clients through the COMPILED binary: @stomp/stompjs over ws:// (subprotocol
 * v12.stomp) sends persistent messages that survive kill -9 of the primary and are received over ws:// from the
 * new primary; MQTT.js over ws:// (subprotocol mqtt) on the same connector reaches a stompjs-over-ws subscriber.
 * Method: two `sfbroker run` on one shared dir, each with a ws:// connector (fixtures/mqtt-cluster.ts); every
 * SEND waits for its RECEIPT, every SUBSCRIBE too; arrivals are awaited, each wait bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses } from './fixtures/broker-process.ts'
import { type Cluster, killPrimary, startCluster } from './fixtures/mqtt-cluster.ts'
import { closeAll, connectMqtt } from './fixtures/mqtt-clients.ts'
import { closeStompPeers, StompPeer } from './fixtures/mqtt-stomp-peer.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-ws-e2e-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
let cluster: Cluster

beforeAll(async () => {
  cluster = await startCluster(procs, { binary: compiledBinary(), workDir, env, count: 2 })
}, 300_000)

afterAll(() => {
  closeAll()
  closeStompPeers()
  procs.cleanup()
})

const SENT = 50

describe('WebSocket clients through the compiled binary', () => {
  test('MQTT.js over ws:// publishes to a stompjs-over-ws:// subscriber on the same connector', async () => {
    const stomp = await StompPeer.connect('ws', cluster.primary.ws)
    await stomp.subscribe('/topic/ws.sensors.a')
    const { client } = await connectMqtt(`ws://127.0.0.1:${cluster.primary.ws}`, {
      protocolVersion: 4,
      clientId: 'ws-mqtt',
    })
    await client.publishAsync('ws/sensors/a', 'over websockets', { qos: 1 })
    const m = await stomp.waitFor(() => true, 'the MQTT-over-ws message at the STOMP-over-ws subscriber')
    expect(m.body).toBe('over websockets')
    expect(m.headers.destination).toBe('/topic/ws.sensors.a')
  }, 120_000)

  test('stompjs over ws:// : receipted persistent SENDs are received over ws:// from the new primary after kill -9', async () => {
    const producer = await StompPeer.connect('ws', cluster.primary.ws)
    for (let i = 0; i < SENT; i++) await producer.send('/queue/ws.failover', `w${i}`, { persistent: 'true' })
    const next = await killPrimary(cluster)
    const consumer = await StompPeer.connect('ws', next.ws)
    await consumer.subscribe('/queue/ws.failover', { ack: 'client-individual' }, (m) => m.ack())
    await until(
      () => consumer.messages.length >= SENT,
      () => `${SENT} messages (got ${consumer.messages.length})`,
      60_000,
    )
    expect(consumer.messages.map((m) => m.body).sort()).toEqual(Array.from({ length: SENT }, (_, i) => `w${i}`).sort())
  }, 180_000)
})
