/**
 * Goal: issue #17's cross-protocol promise through the COMPILED binary with clients we did not write: an MQTT
 * publish on sensors/1/temp reaches a STOMP subscriber of /topic/sensors.1.temp and a STOMP send there reaches
 * MQTT subscribers (payload as bytes, unchanged), with MQTT 5 user properties ↔ STOMP headers.
 * Method: one `sfbroker run` serving stomp:// and mqtt:// (fixtures/mqtt-cluster.ts, one node); MQTT.js 5 and
 * @stomp/stompjs over TCP; waits on SUBACK, RECEIPT, PUBACK and arrivals only, each bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses } from './fixtures/broker-process.ts'
import { type Cluster, startCluster } from './fixtures/mqtt-cluster.ts'
import { closeAll, connectMqtt, Inbox } from './fixtures/mqtt-clients.ts'
import { closeStompPeers, StompPeer } from './fixtures/mqtt-stomp-peer.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-mqtt-bridge-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
let cluster: Cluster

beforeAll(async () => {
  cluster = await startCluster(procs, { binary: compiledBinary(), workDir, env, count: 1 })
}, 300_000)

afterAll(() => {
  closeAll()
  closeStompPeers()
  procs.cleanup()
})

describe('MQTT ↔ STOMP through the compiled binary', () => {
  test('an MQTT 5 publish on sensors/1/temp reaches a STOMP subscriber of /topic/sensors.1.temp, user properties as headers', async () => {
    const stomp = await StompPeer.connect('tcp', cluster.primary.stomp)
    await stomp.subscribe('/topic/sensors.1.temp')
    const { client } = await connectMqtt(`mqtt://127.0.0.1:${cluster.primary.mqtt}`, {
      protocolVersion: 5,
      clientId: 'bridge-pub',
    })
    const payload = Buffer.from([0x32, 0x31, 0x2e, 0x35, 0x00, 0xff])
    await client.publishAsync('sensors/1/temp', payload, {
      qos: 1,
      properties: { userProperties: { unit: 'C', site: 'north' } },
    })
    const m = await stomp.waitFor(() => true, 'the MQTT message at the STOMP subscriber')
    expect(Buffer.from(m.binaryBody)).toEqual(payload)
    expect(m.headers.unit).toBe('C')
    expect(m.headers.site).toBe('north')
    expect(m.headers.destination).toBe('/topic/sensors.1.temp')
  }, 120_000)

  test('a STOMP SEND to /topic/sensors.1.temp reaches MQTT 3.1.1 and 5 subscribers of sensors/+/temp, headers as user properties', async () => {
    const v5 = await connectMqtt(`mqtt://127.0.0.1:${cluster.primary.mqtt}`, {
      protocolVersion: 5,
      clientId: 'bridge-5',
    })
    const v4 = await connectMqtt(`mqtt://127.0.0.1:${cluster.primary.mqtt}`, {
      protocolVersion: 4,
      clientId: 'bridge-4',
    })
    const in5 = new Inbox(v5.client)
    const in4 = new Inbox(v4.client)
    await v5.client.subscribeAsync('sensors/+/temp', { qos: 1 })
    await v4.client.subscribeAsync('sensors/#', { qos: 1 })
    const stomp = await StompPeer.connect('tcp', cluster.primary.stomp)
    await stomp.send('/topic/sensors.1.temp', '21.5', { unit: 'F', persistent: 'true' })
    const got5 = await in5.waitFor((r) => r.topic === 'sensors/1/temp', 'the STOMP message at the MQTT 5 subscriber')
    expect(got5.payload).toBe('21.5')
    expect(got5.userProperties.unit).toBe('F')
    const got4 = await in4.waitFor(
      (r) => r.topic === 'sensors/1/temp',
      'the STOMP message at the MQTT 3.1.1 subscriber',
    )
    expect(got4.payload).toBe('21.5')
  }, 120_000)
})
