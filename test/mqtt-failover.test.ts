/**
 * Goal: issue #17's MQTT failover promise, with the COMPILED binary and a client we did not write (MQTT.js), for
 * MQTT 3.1.1 and MQTT 5: across kill -9 of the primary and clients reconnecting to the other broker, no QoS 1 or 2
 * message acknowledged to its publisher is lost; no QoS 2 message is delivered twice; a persistent session's
 * subscriptions and queued messages, and the retained messages, are all there on the new primary.
 * Method: two `sfbroker run` processes on one shared dir (fixtures/mqtt-cluster.ts). Before the kill: an offline
 * persistent session subscribed to fo/q1 (QoS 1) and fo/q2 (QoS 2); a live persistent session on the same filters
 * that reconnects by itself through both servers with `resubscribe: false` (so its subscriptions after the takeover
 * can only come from the store); a retained message. A persistent publisher streams N messages alternating QoS 1
 * / QoS 2 with 10 in flight; once some are acknowledged the primary is killed; MQTT.js resends what was not
 * acknowledged to the replica. When every publish is acknowledged, an end marker is published; the test waits for
 * the marker and every acknowledged payload at both subscribers, then counts: QoS 1 at least once, QoS 2 exactly
 * once (MQTT 5: the user property travels along). Waits are on acknowledgements and arrivals, every one bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import path from 'node:path'
import fs from 'node:fs'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses } from './fixtures/broker-process.ts'
import { killPrimary, startCluster } from './fixtures/mqtt-cluster.ts'
import { closeAll, connectMqtt, Inbox } from './fixtures/mqtt-clients.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-mqtt-failover-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
let binary = ''

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)

afterAll(() => {
  closeAll()
  procs.cleanup()
})

/** Messages published across the kill, and how many must be acknowledged before it. */
const TOTAL = 200
const ACKED_BEFORE_KILL = 40
const WINDOW = 10

describe.each([
  [4, 'MQTT 3.1.1'],
  [5, 'MQTT 5'],
] as const)('MQTT.js (%s) through kill -9 of the primary', (version, label) => {
  test(`${label}: acknowledged QoS 1/2 messages survive, QoS 2 arrives once, sessions and retained are on the new primary`, async () => {
    const dir = path.join(workDir, `v${version}`)
    fs.mkdirSync(dir)
    const cluster = await startCluster(procs, { binary, workDir: dir, env, count: 2 })
    const servers = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.mqtt }))
    // MQTT 5 needs a session expiry for the session to outlive its connection; 3.1.1's clean=false is enough.
    const persistent = version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}
    const base = { protocolVersion: version, clean: false, ...persistent }
    const filters = { 'fo/q1': { qos: 1 as const }, 'fo/q2': { qos: 2 as const } }

    // An offline persistent session: subscribed, then gone.
    const off0 = await connectMqtt(`mqtt://127.0.0.1:${servers[0]!.port}`, { ...base, clientId: `off-${version}` })
    await off0.client.subscribeAsync(filters)
    await off0.client.endAsync()

    // A live persistent session that reconnects through both servers and never subscribes again.
    const live = await connectMqtt(null, {
      ...base,
      clientId: `live-${version}`,
      servers,
      protocol: 'mqtt',
      reconnectPeriod: 100,
      resubscribe: false,
    })
    const liveInbox = new Inbox(live.client)
    await live.client.subscribeAsync(filters)

    const pub = await connectMqtt(null, {
      ...base,
      clientId: `pub-${version}`,
      servers,
      protocol: 'mqtt',
      reconnectPeriod: 100,
    })
    await pub.client.publishAsync('fo/retained', 'kept', { qos: 1, retain: true })

    // The stream: message i on fo/q1 (QoS 1) or fo/q2 (QoS 2), at most WINDOW unacknowledged.
    const topicOf = (i: number) => (i % 2 === 0 ? 'fo/q1' : 'fo/q2')
    const acked = new Set<number>()
    const failures: string[] = []
    let sent = 0
    let killedAt = -1
    const killing = until(() => acked.size >= ACKED_BEFORE_KILL, 'acknowledgements before the kill', 60_000).then(
      async () => {
        killedAt = acked.size
        return killPrimary(cluster)
      },
    )
    while (sent < TOTAL) {
      await until(() => sent - acked.size < WINDOW, 'room in the publish window', 120_000, 5)
      const i = sent++
      const props = version === 5 ? { properties: { userProperties: { seq: String(i) } } } : {}
      pub.client.publish(topicOf(i), `m${i}`, { qos: i % 2 === 0 ? 1 : 2, ...props }, (err) => {
        if (err) failures.push(`m${i}: ${err.message}`)
        else acked.add(i)
      })
    }
    const next = await killing
    expect(next).not.toBe(cluster.nodes[0])
    await until(
      () => acked.size === TOTAL || failures.length > 0,
      () => `all ${TOTAL} acknowledged (${acked.size})`,
      120_000,
    )
    expect(failures).toEqual([])
    expect(killedAt).toBeGreaterThanOrEqual(ACKED_BEFORE_KILL)
    expect(killedAt).toBeLessThan(TOTAL)
    await pub.client.publishAsync('fo/q2', 'end', { qos: 2 })

    const check = async (inbox: Inbox, who: string) => {
      await inbox.waitFor((r) => r.topic === 'fo/q2' && r.payload === 'end', `${who}: the end marker`, 90_000)
      await until(
        () => [...acked].every((i) => inbox.has(topicOf(i), `m${i}`)),
        () =>
          `${who}: every acknowledged message (missing ${[...acked].filter((i) => !inbox.has(topicOf(i), `m${i}`)).slice(0, 10)})`,
        60_000,
      )
      const q2 = inbox.counts('fo/q2')
      const twice = [...q2].filter(([, n]) => n > 1).map(([p]) => p)
      expect(twice).toEqual([])
      for (const r of inbox.messages.filter((m) => m.topic !== 'fo/retained')) {
        expect(r.qos).toBe(r.topic === 'fo/q1' ? 1 : 2)
        if (version === 5 && r.payload !== 'end') expect(r.userProperties.seq).toBe(r.payload.slice(1))
      }
    }
    await check(liveInbox, 'the live session')

    // The offline session on the new primary: present, with its queued messages, without subscribing again.
    const off = await connectMqtt(`mqtt://127.0.0.1:${next.mqtt}`, { ...base, clientId: `off-${version}` })
    const offInbox = new Inbox(off.client)
    expect(off.sessionPresent).toBe(true)
    await check(offInbox, 'the offline session')

    // The retained message, to a new subscriber on the new primary.
    const fresh = await connectMqtt(`mqtt://127.0.0.1:${next.mqtt}`, {
      protocolVersion: version,
      clientId: `fresh-${version}`,
    })
    const freshInbox = new Inbox(fresh.client)
    await fresh.client.subscribeAsync('fo/retained', { qos: 1 })
    const kept = await freshInbox.waitFor((r) => r.topic === 'fo/retained', 'the retained message', 30_000)
    expect(kept.payload).toBe('kept')
    expect(kept.retain).toBe(true)
    closeAll()
    for (const n of cluster.nodes) n.proc.kill('SIGKILL')
  }, 300_000)
})
