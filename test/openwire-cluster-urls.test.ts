/**
 * Goal (issue #16, beyond ActiveMQ): a client whose failover URL names one broker learns the others of the group
 * from the broker, and fails over to one it learned. Method: two OpenWireServers (A with clusterUrls naming A and
 * B, B plain) over one Broker; JmsSuite's learnsPeers connects to `failover:(A)?updateURIsSupported=true`, sends
 * and receives, prints READY; the test closes A (ShutdownInfo) and answers on stdin; the JVM sends and receives
 * again and prints the address it is connected to, which must be B. Also: without clusterUrls, no
 * ConnectionControl and no peers in BrokerInfo (the option is off by default).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import type { Broker } from '../src/broker/index.ts'
import { makeBroker } from '../src/broker/broker-test-kit.ts'
import {
  brokerWireFormatInfo,
  type Command,
  encodeFrame,
  FrameDecoder,
  initialFrameOptions,
  OpenWireServer,
} from '../src/protocol/openwire/index.ts'
import { until } from '../src/testing/until.ts'
import { buildJms, type JmsBuild, jmsMissing } from './jms/jms-kit.ts'

let build: JmsBuild | null = null
let broker: Broker
const servers: OpenWireServer[] = []

async function listen(clusterUrls?: () => string[]): Promise<OpenWireServer> {
  const s = new OpenWireServer({ core: broker, host: '127.0.0.1', port: 0, clusterUrls })
  await s.listen()
  servers.push(s)
  return s
}

/** Commands a raw client reads after its WireFormatInfo, until `done` says enough. */
async function firstCommands(port: number, done: (cs: Command[]) => boolean): Promise<Command[]> {
  const socket = net.connect(port, '127.0.0.1')
  const got: Command[] = []
  const decoder = new FrameDecoder(initialFrameOptions(1 << 20))
  socket.on('data', (chunk: Buffer) => decoder.push(chunk, (c) => void got.push(c)))
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const info = brokerWireFormatInfo({
    maxFrameSize: 1 << 20,
    maxInactivityDurationMs: 0,
    maxInactivityDurationInitialDelayMs: 0,
    stackTraceEnabled: false,
    tcpNoDelayEnabled: true,
    providerName: 'test',
    providerVersion: '0',
    platformDetails: 'test',
  })
  socket.write(encodeFrame(info, initialFrameOptions(1 << 20)))
  await until(() => done(got), 'commands from the broker', 10_000, 20)
  socket.destroy()
  return got
}

describe('OpenWire cluster URLs', () => {
  beforeAll(async () => {
    broker = (await makeBroker()).broker
  })
  afterAll(async () => {
    for (const s of servers) await s.close()
    await broker?.stop()
    build?.remove()
  })

  test('OpenWireServer without clusterUrls sends a BrokerInfo with no peers', async () => {
    const plain = await listen()
    const cs = await firstCommands(plain.address().port, (g) => g.some((c) => c.type === 'BrokerInfo'))
    const bi = cs.find((c) => c.type === 'BrokerInfo')!
    expect(bi.type === 'BrokerInfo' && bi.peerBrokerInfos).toBeNull()
  })

  test('OpenWireServer with clusterUrls lists the group in BrokerInfo.peerBrokerInfos', async () => {
    const urls = ['tcp://10.0.0.1:61616', 'tcp://10.0.0.2:61616']
    const s = await listen(() => urls)
    const cs = await firstCommands(s.address().port, (g) => g.some((c) => c.type === 'BrokerInfo'))
    const bi = cs.find((c) => c.type === 'BrokerInfo')!
    expect(bi.type === 'BrokerInfo' && bi.peerBrokerInfos?.map((p) => p.brokerUrl)).toEqual(urls)
  })

  test.skipIf(jmsMissing !== undefined)(
    'a JMS client with updateURIsSupported=true fails over to a broker it learned from the ConnectionControl',
    async () => {
      build = buildJms('JmsSuite.java')
      const b = await listen()
      const bUrl = `tcp://127.0.0.1:${b.address().port}`
      let aUrl = ''
      const a = await listen(() => [aUrl, bUrl])
      aUrl = `tcp://127.0.0.1:${a.address().port}`
      const jvm = Bun.spawn(
        [Bun.which('java')!, '-cp', build.classpath, 'JmsSuite', `failover:(${aUrl})`, 'learnsPeers'],
        { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' },
      )
      let out = ''
      const reader = (async () => {
        for await (const chunk of jvm.stdout) out += new TextDecoder().decode(chunk)
      })()
      const err = new Response(jvm.stderr).text()
      await until(() => out.includes('READY learnsPeers') || out.includes('FAIL'), 'READY from the JVM', 30_000, 50)
      expect(out).toContain('READY learnsPeers')
      await a.close()
      jvm.stdin.write('go\n')
      jvm.stdin.end()
      const code = await jvm.exited
      await reader
      if (!out.includes('PASS learnsPeers')) throw new Error(`JVM exit ${code}:\n${out}\n${(await err).slice(-4000)}`)
      expect(out).toContain(`REMOTE ${bUrl}`)
    },
    90_000,
  )
})
