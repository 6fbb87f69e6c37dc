/**
 * Goal: Java JMS applications written for ActiveMQ work unchanged against sfbroker's OpenWire connector. Method:
 * test/jms/JmsSuite.java, compiled with javac against Debian's ActiveMQ 5.17 client, runs every scenario in one JVM
 * against an in-process OpenWireServer over a real Broker (the protocol-neutral core) on 127.0.0.1:0 and prints
 * PASS/FAIL per scenario; each test here checks its scenario's line. Skipped, with the reason, when javac or the jars are missing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Broker } from '../src/broker/index.ts'
import { makeBroker } from '../src/broker/broker-test-kit.ts'
import { OpenWireServer } from '../src/protocol/openwire/server.ts'
import { buildJms, type JmsBuild, jmsMissing, runJms } from './jms/jms-kit.ts'

const SCENARIOS = [
  'types',
  'properties',
  'selectors',
  'topics',
  'durable',
  'clientAck',
  'individualAck',
  'transactions',
  'tempReply',
  'browser',
  'prefetchZero',
  'prefetchZeroShared',
  'prefetchThousand',
  'clientAckBeyondPrefetch',
  'individualAckBeyondPrefetch',
  'poisonCause',
  'groups',
  'expiry',
  'priority',
  'asyncSends',
  'clientIdInUse',
]

let build: JmsBuild | null = null
let broker: Broker
let server: OpenWireServer
let results = new Map<string, string>()
let output = ''

describe.skipIf(jmsMissing !== undefined)('OpenWire with the ActiveMQ 5.17 JMS client', () => {
  beforeAll(async () => {
    build = buildJms('JmsSuite.java')
    broker = (await makeBroker()).broker
    server = new OpenWireServer({ core: broker, host: '127.0.0.1', port: 0 })
    await server.listen()
    const run = await runJms(build, 'JmsSuite', [`tcp://127.0.0.1:${server.address().port}`, ...SCENARIOS])
    results = run.results
    output = run.output
  }, 120_000)
  afterAll(async () => {
    await server?.close()
    await broker?.stop()
    build?.remove()
  })

  for (const s of SCENARIOS) {
    test(`OpenWire JMS ${s}`, () => {
      const r = results.get(s) ?? `no result (JVM output:\n${output.slice(-4000)})`
      expect(r).toBe('PASS')
    })
  }
})
