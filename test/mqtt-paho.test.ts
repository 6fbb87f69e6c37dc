/**
 * Goal: issue #17's second third-party MQTT client, python3-paho-mqtt (Debian), for MQTT 3.1.1 and 5 against the
 * COMPILED binary: QoS 0/1/2 round trips (MQTT 5 user properties kept), and a paho persistent session that
 * resumes on the new primary after kill -9 of the old one with every acknowledged QoS 1 and QoS 2 message it
 * missed, QoS 2 exactly once, without subscribing again.
 * Method: two `sfbroker run` on one shared dir (fixtures/mqtt-cluster.ts); each paho step is a python process
 * (fixtures/mqtt-paho.py) whose every publish waits for its PUBACK / PUBCOMP, and whose resume waits for the
 * count and then for an end marker it publishes itself, so a late duplicate would be seen. All waits bounded.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses } from './fixtures/broker-process.ts'
import { type Cluster, killPrimary, startCluster } from './fixtures/mqtt-cluster.ts'
import { type PahoMessage, pahoUnavailable, runPaho } from './fixtures/mqtt-paho.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-mqtt-paho-')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
const why = pahoUnavailable()
let cluster: Cluster

beforeAll(async () => {
  if (why) return
  cluster = await startCluster(procs, { binary: compiledBinary(), workDir, env, count: 2 })
}, 300_000)

afterAll(() => procs.cleanup())

const VERSIONS = [4, 5] as const
/** Messages per QoS published to each offline session before the kill. */
const QUEUED = 20

describe.skipIf(why !== undefined)(
  `python3-paho-mqtt against the compiled binary${why ? ` (skipped: ${why})` : ''}`,
  () => {
    test.each(VERSIONS)(
      'paho MQTT v%d round-trips QoS 0, 1 and 2 (MQTT 5: with user properties)',
      async (v) => {
        const r = await runPaho(procs, cluster.primary.mqtt, v, 'roundtrip', [`paho/rt${v}`])
        const got = (r.received as PahoMessage[]).map((m) => [m.payload, m.qos, v === 5 ? m.user.k : '-'])
        expect(got.sort()).toEqual([
          ['q0', 0, v === 5 ? 'v0' : '-'],
          ['q1', 1, v === 5 ? 'v1' : '-'],
          ['q2', 2, v === 5 ? 'v2' : '-'],
        ])
      },
      120_000,
    )

    test('paho persistent sessions (v3.1.1 and v5) resume on the new primary after kill -9 with every acknowledged message, QoS 2 once', async () => {
      const port = cluster.primary.mqtt
      for (const v of VERSIONS) {
        await runPaho(procs, port, v, 'subscribe', [`paho-s${v}`, `paho/p${v}/#`])
        await runPaho(procs, port, v, 'publish', [`paho/p${v}/q1`, String(QUEUED), '1'])
        await runPaho(procs, port, v, 'publish', [`paho/p${v}/q2`, String(QUEUED), '2'])
      }
      const next = await killPrimary(cluster)
      for (const v of VERSIONS) {
        const r = await runPaho(procs, next.mqtt, v, 'resume', [`paho-s${v}`, String(2 * QUEUED), `paho/p${v}/end`])
        expect(r.sessionPresent).toBe(true)
        const msgs = r.received as PahoMessage[]
        const on = (t: string) =>
          msgs
            .filter((m) => m.topic === t)
            .map((m) => m.payload)
            .sort()
        const all = Array.from({ length: QUEUED }, (_, i) => `p${i}`).sort()
        // QoS 2: exactly once each. QoS 1: at least once each.
        expect(on(`paho/p${v}/q2`)).toEqual(all)
        expect([...new Set(on(`paho/p${v}/q1`))].sort()).toEqual(all)
        for (const m of msgs) if (m.topic.endsWith('/q2')) expect(m.qos).toBe(2)
      }
    }, 240_000)
  },
)
