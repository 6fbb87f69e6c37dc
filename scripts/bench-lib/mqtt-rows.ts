/**
 * The MQTT rows of bench-vs-activemq: each broker serves MQTT 3.1.1 through its own `mqtt://` connector
 * (sfbroker's `--connector mqtt://`, ActiveMQ's activemq-mqtt transport), one primary each on a fresh directory
 * (no replica: takeovers are measured over STOMP), driven by MQTT.js in a separate process (mqtt-worker.ts). The
 * rows alternate between the brokers row by row, as the STOMP load rows do. Rows, each bounded by loadTimeoutMs:
 *   qos0       QoS 0 publish, 1 publisher + 1 subscriber, window of write callbacks (msg/s delivered)
 *   qos1Puback QoS 1 publish, each PUBACK awaited, 1 publisher + 1 persistent-session QoS 1 subscriber, so the
 *              broker stores every message before its PUBACK (msg/s published; PUBACK p50/p99 in the cell)
 *   qos1FanOut QoS 1, 1 publisher with `window` PUBACKs outstanding, 10 clean-session QoS 1 subscribers
 *              (deliveries/s summed over the subscribers)
 * Each row publishes on its own topic, so a persistent session of one row never receives another row's messages.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { ActiveMQKind, SfbrokerKind, type BrokerKind } from './brokers.ts'
import type { MqttJob, MqttResult } from './mqtt-worker.ts'
import { BenchError, freePort } from './proc.ts'
import type { RowValue, SuiteOptions } from './suite.ts'
import { fmt } from './suite.ts'
import { runPerBrokerRows, type BrokerRow } from './per-broker-rows.ts'

export type MqttRow = BrokerRow

export interface MqttRowOptions {
  /** Messages of the QoS 0 row. */
  qos0Count: number
  /** Messages of the PUBACK-per-message row. */
  qos1Count: number
  /** Messages of the fan-out row (each delivered to every subscriber). */
  fanOutCount: number
  fanOutSubscribers: number
  /** Publishes outstanding in the QoS 0 and fan-out rows. */
  window: number
}

/** The counts of a full run (bench-vs-activemq derives its defaults from its STOMP row counts, which match these). */
export const DEFAULT_MQTT_ROWS: MqttRowOptions = {
  qos0Count: 100_000,
  qos1Count: 5000,
  fanOutCount: 10_000,
  fanOutSubscribers: 10,
  window: 100,
}

/** Time the worker gets beyond its job's timeout to report before it is killed. */
const WORKER_GRACE_MS = 10_000
const WORKER = path.join(import.meta.dir, 'mqtt-worker.ts')

/** Run one MqttJob in its own process (the runtime running this script). */
export function runMqttLoad(job: MqttJob): Promise<MqttResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)))
    const killer = setTimeout(() => child.kill('SIGKILL'), job.timeoutMs + WORKER_GRACE_MS)
    child.once('error', (e) => (clearTimeout(killer), reject(e)))
    child.once('exit', (code, signal) => {
      clearTimeout(killer)
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as MqttResult)
      } catch {
        reject(
          new BenchError(`MQTT load generator exited (${signal ?? `code ${code}`}) without a result: ${err.trim()}`),
        )
      }
    })
  })
}

async function mustMqttLoad(what: string, job: MqttJob): Promise<MqttResult> {
  const r = await runMqttLoad(job)
  if (!r.complete) throw new BenchError(`${what}: ${r.error ?? 'incomplete'}`)
  return r
}

/** The MQTT variant of each broker kind: its BrokerKind (STOMP on the start port, for readiness) and MQTT port. */
export async function mqttKinds(
  binary: string,
  workDir: string,
  withActiveMQ: boolean,
): Promise<{ kind: BrokerKind; mqttPort: number }[]> {
  const sfPort = await freePort()
  const kinds = [
    {
      kind: new SfbrokerKind(binary, workDir, ['--connector', `mqtt://127.0.0.1:${sfPort}`]) as BrokerKind,
      mqttPort: sfPort,
    },
  ]
  if (withActiveMQ) {
    const amqPort = await freePort()
    kinds.push({ kind: new ActiveMQKind(undefined, undefined, { port: amqPort }), mqttPort: amqPort })
  }
  return kinds
}

interface RowSpec {
  label: string
  unit: string
  better: 'higher' | 'lower'
  run: (url: string, timeoutMs: number, topic: string) => Promise<RowValue>
}

function rowSpecs(m: MqttRowOptions, sizeBytes: number): RowSpec[] {
  const job = (url: string, timeoutMs: number, topic: string, j: Partial<MqttJob>): MqttJob => ({
    url,
    topic,
    count: 0,
    sizeBytes,
    qos: 0,
    window: m.window,
    subscribers: 1,
    persistentSubscribers: false,
    protocolVersion: 4,
    timeoutMs,
    ...j,
  })
  return [
    {
      label: `MQTT QoS 0: 1 publisher + 1 subscriber (${m.qos0Count})`,
      unit: 'msg/s',
      better: 'higher',
      run: async (url, timeoutMs, topic) => {
        const r = await mustMqttLoad('mqtt qos0', job(url, timeoutMs, topic, { count: m.qos0Count }))
        return { value: r.subscribe!.msgsPerSec, note: `publisher ${fmt(r.publish!.msgsPerSec)} msg/s` }
      },
    },
    {
      label: `MQTT QoS 1: PUBACK awaited per message, persistent-session subscriber (${m.qos1Count})`,
      unit: 'msg/s',
      better: 'higher',
      run: async (url, timeoutMs, topic) => {
        const r = await mustMqttLoad(
          'mqtt qos1 puback',
          job(url, timeoutMs, topic, { count: m.qos1Count, qos: 1, window: 1, persistentSubscribers: true }),
        )
        const l = r.publish!.receiptMs
        return {
          value: r.publish!.msgsPerSec,
          receiptMs: l,
          cell: l ? `(PUBACK p50 ${fmt(l.p50)} / p99 ${fmt(l.p99)} ms)` : undefined,
        }
      },
    },
    {
      label: `MQTT QoS 1 fan-out: 1 publisher, ${m.fanOutSubscribers} subscribers (${m.fanOutCount} each)`,
      unit: 'deliveries/s',
      better: 'higher',
      run: async (url, timeoutMs, topic) => {
        const r = await mustMqttLoad(
          'mqtt qos1 fan-out',
          job(url, timeoutMs, topic, { count: m.fanOutCount, qos: 1, subscribers: m.fanOutSubscribers }),
        )
        return { value: r.subscribe!.msgsPerSec, note: `publisher ${fmt(r.publish!.msgsPerSec)} msg/s` }
      },
    },
  ]
}

/** Start one primary per kind, run each row on every broker in turn (row by row), stop them. */
export function runMqttRows(
  kinds: { kind: BrokerKind; mqttPort: number }[],
  o: SuiteOptions,
  m: MqttRowOptions,
): Promise<MqttRow[]> {
  const urls = kinds.map(({ kind, mqttPort }) => ({ kind, url: `mqtt://127.0.0.1:${mqttPort}` }))
  return runPerBrokerRows('MQTT', urls, o, rowSpecs(m, o.sizeBytes), (spec, url, i, k) =>
    spec.run(url, o.loadTimeoutMs, `bench/mqtt/${i}/${k}`),
  )
}
