/**
 * Goal: Java JMS applications written for ActiveMQ work unchanged against sfbroker's OpenWire connector. Method:
 * test/jms/JmsSuite.java, compiled with javac against Debian's ActiveMQ 5.17 client, runs every scenario in one JVM
 * against an in-process OpenWireServer over a real Broker (the protocol-neutral core) on 127.0.0.1:0 and prints PASS/FAIL per scenario; each
 * test here checks its scenario's line. Skipped, with the reason, when javac or the jars are missing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Broker } from '../src/broker/index.ts'
import { makeBroker } from '../src/broker/broker-test-kit.ts'
import { OpenWireServer } from '../src/protocol/openwire/server.ts'

const JARS = [
  'activemq-client.jar',
  'geronimo-jms_1.1_spec.jar',
  'hawtbuf.jar',
  'slf4j-api.jar',
  'slf4j-nop.jar',
  'geronimo-j2ee-management-1.1-spec.jar',
].map((j) => `/usr/share/java/${j}`)
const javac = Bun.which('javac')
const java = Bun.which('java')
const missing = javac === null || java === null ? 'javac/java not installed' : JARS.find((j) => !existsSync(j))
if (missing !== undefined) console.warn(`openwire JMS tests skipped: ${missing} (apt-get install activemq)`)

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
  'groups',
  'expiry',
  'priority',
  'asyncSends',
  'clientIdInUse',
]

/** Scenarios that wait on a change outside the connector, with the reason; run, but not asserted. */
const KNOWN_GAPS: Record<string, string> = {
  prefetchZeroShared: 'TODO(#16): needs a pull-credit call in the broker core; the connector holds one message',
}

let dir = ''
let broker: Broker
let server: OpenWireServer
const results = new Map<string, string>()
let output = ''

describe.skipIf(missing !== undefined)('OpenWire with the ActiveMQ 5.17 JMS client', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openwire-jms-'))
    const cp = JARS.join(':')
    const built = Bun.spawnSync([javac!, '-d', dir, '-cp', cp, join(import.meta.dir, 'jms', 'JmsSuite.java')])
    if (built.exitCode !== 0) throw new Error(`javac failed: ${built.stderr.toString()}`)
    broker = (await makeBroker()).broker
    server = new OpenWireServer({ core: broker, host: '127.0.0.1', port: 0 })
    await server.listen()
    const url = `tcp://127.0.0.1:${server.address().port}`
    const run = Bun.spawn([java!, '-cp', `${dir}:${cp}`, 'JmsSuite', url, ...SCENARIOS], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    const [out, err] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited])
    output = `${out}\n${err}`
    for (const line of out.split('\n')) {
      const m = /^(PASS|FAIL) (\w+)(: .*)?$/.exec(line)
      if (m) results.set(m[2]!, m[1] === 'PASS' ? 'PASS' : `FAIL${m[3]}`)
    }
  }, 120_000)
  afterAll(async () => {
    await server?.close()
    await broker?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const s of SCENARIOS) {
    const gap = KNOWN_GAPS[s]
    if (gap !== undefined) {
      test.todo(`OpenWire JMS ${s} (${gap})`)
      continue
    }
    test(`OpenWire JMS ${s}`, () => {
      const r = results.get(s) ?? `no result (JVM output:\n${output.slice(-4000)})`
      expect(r).toBe('PASS')
    })
  }
})
