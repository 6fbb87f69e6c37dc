/**
 * Goal (issue #16, high availability): Java JMS applications on ActiveMQ's own failover transport
 * (`failover:(tcp://a,tcp://b)`) keep every persistent message through kill -9 of the primary of a pair of
 * COMPILED brokers on one shared directory: every message sent is received, a message id arrives twice only with
 * JMSRedelivered set (copies the client's own audit drops never reach the application), and a transaction whose
 * commit was in flight fails with TransactionRolledBackException and is retried.
 * Method: two `sfbroker run` nodes, each with a STOMP connector (the readiness probe) and an OpenWire `tcp://` one;
 * four JVMs of test/jms/JmsHa.java: `send` + `receive` (sync persistent sends, AUTO_ACKNOWLEDGE), `sendTx` +
 * `receiveTx` (transacted both sides). Kill 1: SIGKILL of the primary once the consumer has printed progress and
 * `sendTx` holds an open transaction (it waits on stdin before that commit). The dead node is started again and
 * waits as a replica. Kill 2 makes the commit's outcome unknowable, deterministically: wait until the primary has
 * read every byte of sendTx's connection (the kernel's receive queue, found through /proc/<pid>/fd and
 * /proc/net/tcp, is empty), SIGSTOP it, let `sendTx` commit, wait until that queue holds at least the COMMIT frame's
 * size (encoded from the ids sendTx prints), then SIGKILL alone: no SIGCONT, which would let the primary read the
 * commit and make the batch durable before it dies. The client must answer the commit with
 * TransactionRolledBackException (ActiveMQ's failover transport never replays an in-doubt commit), and the retried
 * batch must arrive exactly once. Nodes log at debug level, so a failure names the node that saw each transaction
 * command. Every wait is bounded and waits on what the processes print or on the shared dir, never on a sleep.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {
  encodeFrame,
  initialFrameOptions,
  type TransactionInfo,
  TransactionType,
} from '../src/protocol/openwire/index.ts'
import { freePorts, stompConnected } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { compiledBinary } from './fixtures/binary.ts'
import { killed, spawnLines, tailFile, TestProcesses, type LineChild } from './fixtures/broker-process.ts'
import { buildJms, type JmsBuild, jmsMissing } from './jms/jms-kit.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-openwire-ha-')
const shared = path.join(workDir, 'shared')
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
/** Bound of each start, takeover and client wait: compiled brokers and four JVMs on a loaded 2-core machine. */
const WAIT_MS = 120_000
let binary = ''
let build: JmsBuild | null = null

interface Node {
  stomp: number
  openwire: number
  log: string
  proc: ChildProcess | null
}

function startNode(n: Node): void {
  const fd = fs.openSync(n.log, 'a')
  n.proc = procs.spawn(
    [
      binary,
      'run',
      '--data',
      shared,
      '--connector',
      `stomp://127.0.0.1:${n.stomp}`,
      '--connector',
      `tcp://127.0.0.1:${n.openwire}`,
      '--log-level',
      'debug',
    ],
    { cwd: workDir, env, stdio: ['ignore', fd, fd] },
  )
  fs.closeSync(fd)
}

/** Whether a live node's pid heads a fresh replica record (it waits on the lock, its ports closed). */
function registeredReplica(pid: number): boolean {
  const dir = path.join(shared, 'replicas')
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
  return names.some((n) => {
    try {
      return n.endsWith('.json') && JSON.parse(fs.readFileSync(path.join(dir, n), 'utf8')).pid === pid
    } catch {
      return false // being replaced (tmp + rename): the next poll reads it
    }
  })
}

/** The established sockets of /proc/net/tcp{,6}: local and remote port, unread bytes, inode. */
function tcpSockets(): { local: number; remote: number; unread: number; inode: string }[] {
  const out: { local: number; remote: number; unread: number; inode: string }[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '01') continue // ESTABLISHED only
      const port = (a: string) => Number.parseInt(a.split(':').at(-1)!, 16)
      out.push({
        local: port(f[1]!),
        remote: port(f[2]!),
        unread: Number.parseInt(f[4]!.split(':')[1]!, 16),
        inode: f[9]!,
      })
    }
  }
  return out
}

/**
 * Bytes the broker listening on `port` holds unread from the process `pid` (its sockets found through
 * /proc/<pid>/fd): only that client's commands count, not another client's keep-alives.
 */
function unreadFrom(pid: number, port: number): number {
  const inodes = new Set<string>()
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m) inodes.add(m[1]!)
    } catch {
      // closed meanwhile
    }
  }
  const all = tcpSockets()
  const clientPorts = new Set(all.filter((s) => s.remote === port && inodes.has(s.inode)).map((s) => s.local))
  return all.filter((s) => s.local === port && clientPorts.has(s.remote)).reduce((n, s) => n + s.unread, 0)
}

/**
 * The size on the wire of the COMMIT sendTx sends for the batch it holds, from its "INFLIGHT b connection=ID tx=N"
 * line: a loose, uncached, size-prefixed TransactionInfo (what every client negotiates with sfbroker).
 */
function commitFrameBytes(inflight: string): number {
  const m = /connection=(\S+) tx=(\d+)$/.exec(inflight)
  if (m === null) throw new Error(`sendTx's INFLIGHT line has no connection and tx ids: ${inflight}`)
  const connectionId = { type: 'ConnectionId', value: m[1]! } as const
  const commit: TransactionInfo = {
    type: 'TransactionInfo',
    commandId: 0,
    responseRequired: true,
    connectionId,
    transactionId: { type: 'LocalTransactionId', value: BigInt(m[2]!), connectionId },
    transactionType: TransactionType.COMMIT_ONE_PHASE,
  }
  return encodeFrame(commit, initialFrameOptions(1 << 20)).length
}

beforeAll(() => {
  if (jmsMissing !== undefined) return
  binary = compiledBinary()
  build = buildJms('JmsHa.java')
}, 300_000)

afterAll(() => {
  procs.cleanup()
  build?.remove()
})

describe('OpenWire high availability with the ActiveMQ JMS client', () => {
  test.skipIf(jmsMissing !== undefined)(
    'JMS producers and consumers on failover:(a,b) keep every persistent message through two kill -9 of the primary',
    async () => {
      fs.mkdirSync(shared)
      const ports = await freePorts(4)
      const nodes: Node[] = [0, 1].map((i) => ({
        stomp: ports[2 * i]!,
        openwire: ports[2 * i + 1]!,
        log: path.join(workDir, `node-${i}.log`),
        proc: null,
      }))
      const logs = () => nodes.map((n, i) => `--- node ${i}:\n${tailFile(n.log, 1500)}`).join('\n')
      const serving = async (): Promise<Node | null> => {
        for (const n of nodes) if (n.proc?.exitCode === null && (await stompConnected(n.stomp))) return n
        return null
      }
      const replicaOf = async (n: Node): Promise<void> => {
        await until(
          () => registeredReplica(n.proc!.pid!) || n.proc!.exitCode !== null,
          () => `node on ${n.stomp} to register as a replica\n${logs()}`,
          WAIT_MS,
        )
        if (n.proc!.exitCode !== null) throw new Error(`node on ${n.stomp} exited ${n.proc!.exitCode}\n${logs()}`)
      }
      startNode(nodes[0]!)
      await until(
        () => stompConnected(nodes[0]!.stomp),
        () => `node 0 to serve\n${logs()}`,
        WAIT_MS,
      )
      startNode(nodes[1]!)
      await replicaOf(nodes[1]!)

      const failover = (query: string) =>
        `failover:(${nodes.map((n) => `tcp://127.0.0.1:${n.openwire}${query}`).join(',')})?randomize=false&initialReconnectDelay=100&maxReconnectDelay=1000&timeout=${WAIT_MS}`
      const url = failover('')
      // No inactivity keep-alives from sendTx: kill 2 reads its commit as the only bytes it sends a stopped broker.
      const txUrl = failover('?wireFormat.maxInactivityDuration=0')
      const jvm = (args: string[]): LineChild =>
        spawnLines(procs, [Bun.which('java')!, '-cp', build!.classpath, 'JmsHa', ...args], {
          cwd: workDir,
          stdio: ['pipe', 'pipe', 'pipe'],
        })
      const total = 1500
      const [batches, size, pauseAt] = [12, 10, 3]
      const receive = jvm(['receive', url, 'ha.sync', String(total)])
      const receiveTx = jvm(['receiveTx', url, 'ha.tx', String(batches * size), '7'])
      const send = jvm(['send', url, 'ha.sync', String(total)])
      const sendTx = jvm(['sendTx', txUrl, 'ha.tx', String(batches), String(size), String(pauseAt)])
      const clients = { receive, receiveTx, send, sendTx }
      const report = () =>
        Object.entries(clients)
          .map(([k, c]) => `--- ${k}:\n${c.lines.slice(-8).join('\n')}\n${c.stderr().slice(-1500)}`)
          .join('\n')
      const printed = (c: LineChild, re: RegExp) => c.lines.some((l) => re.test(l)) || c.proc.exitCode !== null

      // Kill 1: both sync clients mid-stream, sendTx with a transaction open (its sends not yet committed).
      await until(
        () => printed(sendTx, /^INFLIGHT/),
        () => `sendTx to open batch ${pauseAt}\n${report()}`,
        WAIT_MS,
      )
      if (sendTx.proc.exitCode !== null) throw new Error(`sendTx ended early:\n${report()}`)
      await until(
        () => printed(receive, /^PROGRESS 300$/),
        () => `receive to pass 300\n${report()}`,
        WAIT_MS,
      )
      await killed(nodes[0]!.proc!)
      const second = await until(serving, () => `node 1 to take over\n${logs()}`, WAIT_MS)
      expect(second).toBe(nodes[1]!)
      startNode(nodes[0]!)
      await replicaOf(nodes[0]!)

      // Kill 2: the commit reaches a stopped primary's socket and is never read; the client cannot know its fate.
      await until(
        () => printed(receive, /^PASS|^FAIL/),
        () => `receive to finish\n${report()}`,
        WAIT_MS,
      )
      if (sendTx.proc.exitCode !== null) throw new Error(`sendTx ended before kill 2:\n${report()}`)
      const commitBytes = commitFrameBytes(sendTx.lines.find((l) => l.startsWith('INFLIGHT'))!)
      // sendTx sends nothing while it waits on stdin: once the primary has read all of it, the next bytes on that
      // socket are the commit.
      const unread = () => unreadFrom(sendTx.proc.pid!, nodes[1]!.openwire)
      await until(
        () => unread() === 0,
        () => `the primary to read all sendTx sent (${unread()} bytes unread)\n${report()}`,
        WAIT_MS,
      )
      nodes[1]!.proc!.kill('SIGSTOP')
      sendTx.proc.stdin!.write('go\n')
      await until(
        () => unread() >= commitBytes,
        () =>
          `the commit (${commitBytes} bytes) to reach the stopped primary's socket (${unread()} unread)\n${report()}`,
        WAIT_MS,
      )
      await killed(nodes[1]!.proc!) // SIGKILL alone: the stopped primary never reads the COMMIT
      await until(serving, () => `node 0 to take over again\n${logs()}`, WAIT_MS)

      const codes = await Promise.all(Object.values(clients).map((c) => c.exit))
      if (codes.some((c) => c !== 0)) throw new Error(`a JMS client failed:\n${report()}\n${logs()}`)
      expect(send.lines.at(-1)).toBe(`PASS send sent=${total}`)
      expect(receive.lines.at(-1)).toStartWith(`PASS receive received=${total} `)
      // The commit in flight at kill 2 came back as TransactionRolledBackException; its retry went through.
      expect(sendTx.lines.filter((l) => l.startsWith(`ROLLEDBACK batch ${pauseAt}:`)).length).toBe(1)
      expect(sendTx.lines.at(-1)).toBe(`PASS sendTx sent=${batches * size} rolledBack=1`)
      expect(receiveTx.lines.at(-1)).toStartWith(`PASS receiveTx received=${batches * size} `)
      // A batch arriving twice (new ids, same seqs): say which node saw which of sendTx's transaction commands.
      const connection = /connection=(\S+) /.exec(sendTx.lines.find((l) => l.startsWith('INFLIGHT'))!)![1]!
      const txLines = nodes.map(
        (n, i) =>
          `--- node ${i}:\n${fs
            .readFileSync(n.log, 'utf8')
            .split('\n')
            .filter((l) => /TransactionInfo|committed /.test(l) && l.includes(` ${connection}:`))
            .join('\n')}`,
      )
      if (!receiveTx.lines.at(-1)!.includes(' again=0 '))
        throw new Error(
          `a transacted batch arrived twice:\n--- sendTx:\n${sendTx.lines.join('\n')}\n--- receiveTx:\n` +
            `${receiveTx.lines.filter((l) => !l.startsWith('PROGRESS')).join('\n')}\n${txLines.join('\n')}`,
        )
    },
    600_000,
  )
})
