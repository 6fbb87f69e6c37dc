/**
 * Goal (issue #16, beyond ActiveMQ, through the real node): with `updateClusterClients="true"` on its OpenWire
 * connector, the primary tells JMS clients the client URLs the replicas registered in the shared dir, so a client
 * whose failover URL names only the primary (`updateURIsSupported=true`) fails over to the replica after kill -9.
 * Method: two COMPILED `sfbroker run` nodes on one shared dir, each from an XML config with a STOMP connector (the
 * readiness probe) and `<transportConnector uri="tcp://127.0.0.1:P" updateClusterClients="true"/>`; the test waits
 * until the replica's heartbeat carries its URL and the primary has logged a cluster list naming it; JmsSuite's
 * learnsPeers on `failover:(tcp://primary)` sends and receives, prints READY; kill -9 of the primary; the JVM
 * sends and receives again and prints the address it is connected to, which must be the replica's. Also: the
 * holder record carries the primary's client URL. Every wait is bounded and waits on a file, a log line or a port.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { freePorts, stompConnected } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { compiledBinary } from './fixtures/binary.ts'
import { killed, spawnLines, tailFile, TestProcesses } from './fixtures/broker-process.ts'
import { buildJms, type JmsBuild, jmsMissing } from './jms/jms-kit.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-openwire-cluster-')
const shared = path.join(workDir, 'shared')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
/** Bound of each start, takeover and client wait on a loaded 2-core machine. */
const WAIT_MS = 120_000
let binary = ''
let build: JmsBuild | null = null

beforeAll(() => {
  if (jmsMissing !== undefined) return
  binary = compiledBinary()
  build = buildJms('JmsSuite.java')
}, 300_000)

afterAll(() => {
  procs.cleanup()
  build?.remove()
})

/** Client URLs in the replicas' heartbeats. */
function replicaUrls(): string[] {
  const dir = path.join(shared, 'replicas')
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir).flatMap((n) => {
    try {
      return n.endsWith('.json') ? (JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')).clientUrls ?? []) : []
    } catch {
      return [] // being replaced (tmp + rename): the next poll reads it
    }
  })
}

describe('OpenWire cluster URLs through the node', () => {
  test.skipIf(jmsMissing !== undefined)(
    'updateClusterClients: a JMS client with updateURIsSupported=true learns the replica and fails over to it',
    async () => {
      fs.mkdirSync(shared)
      const ports = await freePorts(4)
      const nodes = [0, 1].map((i) => {
        const [stomp, openwire] = [ports[2 * i]!, ports[2 * i + 1]!]
        const config = path.join(workDir, `broker-${i}.xml`)
        fs.writeFileSync(
          config,
          `<broker xmlns="http://activemq.apache.org/schema/core" brokerName="pair">
  <transportConnectors>
    <transportConnector name="stomp" uri="stomp://127.0.0.1:${stomp}"/>
    <transportConnector name="openwire" uri="tcp://127.0.0.1:${openwire}" updateClusterClients="true"/>
  </transportConnectors>
</broker>
`,
        )
        const log = path.join(workDir, `node-${i}.log`)
        return { stomp, openwire, url: `tcp://127.0.0.1:${openwire}`, config, log }
      })
      const logs = () => nodes.map((n, i) => `--- node ${i}:\n${tailFile(n.log, 1500)}`).join('\n')
      const procsOf = nodes.map((n) => {
        const fd = fs.openSync(n.log, 'a')
        const p = () =>
          procs.spawn([binary, 'run', '--config', n.config, '--data', shared, '--log-level', 'info'], {
            cwd: workDir,
            env,
            stdio: ['ignore', fd, fd],
          })
        return { start: p, fd }
      })
      const primary = procsOf[0]!.start()
      await until(
        () => stompConnected(nodes[0]!.stomp),
        () => `node 0 to serve\n${logs()}`,
        WAIT_MS,
      )
      const holder = JSON.parse(fs.readFileSync(path.join(shared, 'lock'), 'utf8'))
      expect(holder.clientUrls).toEqual([nodes[0]!.url])
      const replica = procsOf[1]!.start()
      for (const p of procsOf) fs.closeSync(p.fd)
      await until(
        () => replicaUrls().includes(nodes[1]!.url),
        () => `node 1's heartbeat\n${logs()}`,
        WAIT_MS,
      )
      const announced = `cluster URLs for OpenWire clients: ${nodes[0]!.url},${nodes[1]!.url}`
      await until(
        () => tailFile(nodes[0]!.log, 100_000).includes(announced),
        () => `${announced}\n${logs()}`,
        WAIT_MS,
      )

      const jvm = spawnLines(
        procs,
        [Bun.which('java')!, '-cp', build!.classpath, 'JmsSuite', `failover:(${nodes[0]!.url})`, 'learnsPeers'],
        { cwd: workDir, stdio: ['pipe', 'pipe', 'pipe'] },
      )
      const said = (s: string) => jvm.lines.some((l) => l.startsWith(s)) || jvm.proc.exitCode !== null
      await until(
        () => said('READY learnsPeers'),
        () => `READY from the JVM\n${jvm.stderr()}`,
        WAIT_MS,
      )
      expect(jvm.lines).toContain('READY learnsPeers')
      await killed(primary)
      await until(
        () => stompConnected(nodes[1]!.stomp),
        () => `node 1 to take over\n${logs()}`,
        WAIT_MS,
      )
      jvm.proc.stdin!.end('go\n')
      const code = await jvm.exit
      if (!jvm.lines.includes('PASS learnsPeers'))
        throw new Error(`JVM exit ${code}:\n${jvm.lines.join('\n')}\n${jvm.stderr()}\n${logs()}`)
      expect(jvm.lines).toContain(`REMOTE ${nodes[1]!.url}`)
      await killed(replica)
    },
    300_000,
  )
})
