/**
 * Goal: the compiled `sfbroker` serves each connector scheme by its own protocol: MQTT.js connects to an mqtt://
 * connector and, over ws:// with subprotocol mqtt, to a WebSocket connector of the same process; the admin
 * endpoint's /metrics and `sfbroker status --json` count those connections by protocol and transport; SIGTERM then
 * ends MQTT 5 clients with DISCONNECT 0x8B and the process exits 0.
 * Method: build the binary from this worktree (fixtures/binary.ts), run it with free ports picked by the test kit,
 * wait for STOMP to answer (startBroker), then MQTT.js clients. Waits are bounded polls or client events.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import mqtt, { type MqttClient } from 'mqtt'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, exitOf, runCli, startBroker } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
const clients: MqttClient[] = []
afterAll(() => {
  for (const c of clients.splice(0)) c.end(true)
  procs.cleanup()
})

function connected(c: MqttClient): Promise<MqttClient> {
  clients.push(c)
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
}

describe('compiled sfbroker binary: MQTT and WebSocket connectors', () => {
  test('sfbroker binary serves MQTT on mqtt:// and ws://, counts connections by protocol, DISCONNECT 0x8B at stop', async () => {
    const binary = compiledBinary()
    const data = procs.tempDir('sfb-conn-bin-')
    const [stomp, mq, ws, admin] = await freePorts(4)
    const b = await startBroker(procs, {
      command: [binary],
      args: [
        '--data',
        data,
        '--connector',
        `mqtt://127.0.0.1:${mq}`,
        '--connector',
        `ws://127.0.0.1:${ws}`,
        '--admin',
        `127.0.0.1:${admin}`,
      ],
      port: stomp!,
      timeoutMs: 60_000,
    })
    const opts = { reconnectPeriod: 0, connectTimeout: 20_000 }
    const sub = await connected(mqtt.connect(`ws://127.0.0.1:${ws}`, { ...opts, protocolVersion: 5, clientId: 'w' }))
    const pub = await connected(
      mqtt.connect({ ...opts, host: '127.0.0.1', port: mq!, protocolVersion: 4, clientId: 'p' }),
    )
    await sub.subscribeAsync('plant/+/level', { qos: 1 })
    const got = new Promise<string>((resolve) => sub.once('message', (t, p) => resolve(`${t}=${p.toString()}`)))
    await pub.publishAsync('plant/7/level', '42', { qos: 1 })
    expect(await got).toBe('plant/7/level=42')

    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()
    expect(metrics).toMatch(/sfbroker_connections\{[^}]*protocol="mqtt",transport="ws"\} 1/)
    expect(metrics).toMatch(/sfbroker_connections\{[^}]*protocol="mqtt",transport="tcp"\} 1/)
    expect(metrics).toMatch(/sfbroker_connections\{[^}]*protocol="stomp",transport="tcp"\} 0/)
    expect(metrics).toMatch(/sfbroker_connections_total\{[^}]*\} 2/)

    const shared = data
    const status = await until(
      async () => {
        const r = await runCli(procs, ['status', shared, '--json'], { command: [binary], timeoutMs: 30_000 })
        const json = JSON.parse(r.out) as { store?: { connections?: { total: number } } }
        return json.store?.connections?.total === 2 ? json : null
      },
      'a store summary counting both MQTT connections',
      30_000,
      500,
    )
    expect(status.store!.connections).toMatchObject({
      byProtocol: { mqtt: 2, stomp: 0 },
      byTransport: { tcp: 1, ws: 1 },
    })
    const text = await runCli(procs, ['status', shared], { command: [binary], timeoutMs: 30_000 })
    expect(text.out).toMatch(/connections: 2 \(stomp 0, mqtt 2; tcp 1, ws 1\); mqtt 1 \(mqtt 1\), ws 1 \(mqtt 1\)/)

    const bye = new Promise<number | undefined>((resolve) => sub.once('disconnect', (p) => resolve(p.reasonCode)))
    b.child.kill('SIGTERM')
    expect(await bye).toBe(0x8b)
    expect(await exitOf(b.child, 30_000)).toBe(0)
  }, 300_000)
})
