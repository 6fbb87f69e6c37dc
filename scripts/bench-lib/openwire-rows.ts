/**
 * The OpenWire rows of bench-vs-activemq: each broker serves OpenWire on its own `tcp://` connector (sfbroker's
 * `--connector tcp://`, ActiveMQ's openwire transport connector), one primary each on a fresh directory (no
 * replica: takeovers are measured over STOMP), driven by the same ActiveMQ 5.17 JMS client (test/jms/JmsBench.java,
 * compiled by test/jms/jms-kit.ts) in one JVM per row and broker. The rows alternate between the brokers row by
 * row, as the other load rows do. Rows, each bounded by loadTimeoutMs (the JVM is killed past it and a grace):
 *   syncSend      persistent sends, each waiting for the broker's answer (msg/s; send p50/p99 in the cell)
 *   asyncSend     persistent sends with jms.useAsyncSend, timed until the broker has answered the last one
 *   drain         one AUTO_ACKNOWLEDGE consumer draining what asyncSend queued (msg/s)
 *   requestReply  request/reply round trips over a temp queue, one in flight (round trips/s; p50/p99)
 * Needs a JDK and Debian's libactivemq-java (jmsMissing says what is missing; the rows are skipped then).
 */
import { spawn } from 'node:child_process'
import { buildJms, type JmsBuild, jmsMissing } from '../../test/jms/jms-kit.ts'
import { ActiveMQKind, SfbrokerKind, type BrokerKind } from './brokers.ts'
import { BenchError, freePort } from './proc.ts'
import type { RowValue, SuiteOptions } from './suite.ts'
import { fmt } from './suite.ts'
import { runPerBrokerRows, type BrokerRow } from './per-broker-rows.ts'

export type OpenWireRow = BrokerRow

export interface OpenWireRowOptions {
  /** Messages of the sync-send row. */
  syncCount: number
  /** Messages of the async-send row, then drained by the drain row. */
  asyncCount: number
  /** Round trips of the request/reply row. */
  requestReplyCount: number
}

/** Time a JVM gets beyond its row's timeout to report before it is killed. */
const JVM_GRACE_MS = 15_000

interface JmsResult {
  count: number
  seconds: number
  msgsPerSec: number
  p50Ms?: number
  p99Ms?: number
}

/** Run one JmsBench row in its own JVM; its RESULT line, or a BenchError naming the FAIL line or the exit. */
export function runJmsBench(build: JmsBuild, args: string[], timeoutMs: number): Promise<JmsResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', build.classpath, 'JmsBench', ...args, String(timeoutMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-8000)))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)))
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + JVM_GRACE_MS)
    child.once('error', (e) => (clearTimeout(killer), reject(e)))
    child.once('exit', (code, signal) => {
      clearTimeout(killer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT ') || l.startsWith('FAIL '))
      if (line?.startsWith('RESULT ')) return resolve(JSON.parse(line.slice('RESULT '.length)) as JmsResult)
      reject(new BenchError(`JmsBench ${args[0]} (${signal ?? `exit ${code}`}): ${line ?? err.trim().slice(-500)}`))
    })
  })
}

/** The OpenWire variant of each broker kind: its BrokerKind (STOMP on the start port, for readiness) and port. */
export async function openWireKinds(
  binary: string,
  workDir: string,
  withActiveMQ: boolean,
): Promise<{ kind: BrokerKind; openwirePort: number }[]> {
  const sfPort = await freePort()
  const kinds = [
    {
      kind: new SfbrokerKind(binary, workDir, ['--connector', `tcp://127.0.0.1:${sfPort}`]) as BrokerKind,
      openwirePort: sfPort,
    },
  ]
  if (withActiveMQ) {
    const amqPort = await freePort()
    kinds.push({
      kind: new ActiveMQKind(undefined, undefined, undefined, { port: amqPort }),
      openwirePort: amqPort,
    })
  }
  return kinds
}

interface RowSpec {
  label: string
  unit: string
  better: 'higher' | 'lower'
  run: (build: JmsBuild, url: string, timeoutMs: number, queue: string) => Promise<RowValue>
}

function latencyCell(r: JmsResult, what: string): Pick<RowValue, 'cell' | 'receiptMs'> {
  if (r.p50Ms === undefined || r.p99Ms === undefined) return {}
  return {
    receiptMs: { p50: r.p50Ms, p99: r.p99Ms, max: r.p99Ms },
    cell: `(${what} p50 ${fmt(r.p50Ms)} / p99 ${fmt(r.p99Ms)} ms)`,
  }
}

function rowSpecs(m: OpenWireRowOptions, sizeBytes: number): RowSpec[] {
  const size = String(sizeBytes)
  return [
    {
      label: `OpenWire JMS persistent sync sends, 1 producer (${m.syncCount})`,
      unit: 'msg/s',
      better: 'higher',
      run: async (b, url, t, q) => {
        const r = await runJmsBench(b, ['syncSend', url, `${q}.sync`, String(m.syncCount), size], t)
        return { value: r.msgsPerSec, ...latencyCell(r, 'send') }
      },
    },
    {
      label: `OpenWire JMS persistent async sends, 1 producer (${m.asyncCount})`,
      unit: 'msg/s',
      better: 'higher',
      run: async (b, url, t, q) => {
        const r = await runJmsBench(b, ['asyncSend', url, `${q}.async`, String(m.asyncCount), size], t)
        return { value: r.msgsPerSec }
      },
    },
    {
      label: `OpenWire JMS consumer draining the async row's ${m.asyncCount}`,
      unit: 'msg/s',
      better: 'higher',
      run: async (b, url, t, q) => {
        const r = await runJmsBench(b, ['drain', url, `${q}.async`, String(m.asyncCount), size], t)
        return { value: r.msgsPerSec }
      },
    },
    {
      label: `OpenWire JMS request/reply over a temp queue, 1 in flight (${m.requestReplyCount})`,
      unit: 'round trips/s',
      better: 'higher',
      run: async (b, url, t, q) => {
        const r = await runJmsBench(b, ['requestReply', url, `${q}.rr`, String(m.requestReplyCount), size], t)
        return { value: r.msgsPerSec, ...latencyCell(r, 'round trip') }
      },
    },
  ]
}

/** Start one primary per kind, run each row on every broker in turn (row by row), stop them. */
export async function runOpenWireRows(
  kinds: { kind: BrokerKind; openwirePort: number }[],
  o: SuiteOptions,
  m: OpenWireRowOptions,
): Promise<OpenWireRow[]> {
  const specs = rowSpecs(m, o.sizeBytes)
  const rows: OpenWireRow[] = specs.map((s) => ({ label: s.label, unit: s.unit, better: s.better, values: [] }))
  const skip = (why: string): OpenWireRow[] => {
    o.log(`OpenWire rows skipped: ${why}`)
    for (const r of rows) for (const _ of kinds) r.values.push({ value: null, error: `skipped: ${why}` })
    return rows
  }
  if (jmsMissing !== undefined) return skip(`${jmsMissing} (apt-get install activemq)`)
  let build: JmsBuild
  try {
    build = buildJms('JmsBench.java')
  } catch (e) {
    return skip((e as Error).message.split('\n').slice(0, 3).join(' | '))
  }
  const urls = kinds.map(({ kind, openwirePort }) => ({ kind, url: `tcp://127.0.0.1:${openwirePort}` }))
  try {
    return await runPerBrokerRows('OpenWire', urls, o, specs, (spec, url, _i, k) =>
      spec.run(build, url, o.loadTimeoutMs, `bench.openwire.${k}`),
    )
  } finally {
    build.remove()
  }
}
