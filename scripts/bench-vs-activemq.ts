/**
 * Side-by-side benchmark of sfbroker against Apache ActiveMQ 5.17 in one run, each as 2 brokers (primary + replica)
 * on one shared directory, driven by the same raw-socket STOMP load generator in a separate process. The load rows
 * alternate between the brokers row by row, so background load on a shared machine hits both alike. Prints a
 * Markdown table with ratios (how many times better sfbroker is; > 1 = sfbroker better) and optionally writes JSON.
 * Receipt-per-message rows show p50/p99 receipt latency and p50 as a multiple of the disk's sync floor (1 KiB
 * O_DSYNC appends on the brokers' filesystem, measured in the same run); by default they run twice, with our raw
 * generator and with @stomp/stompjs. The header gives the machine, the load average and the date.
 *
 *   npm run build && bun scripts/bench-vs-activemq.ts [flags]
 *
 *   --binary PATH        sfbroker executable (default dist/sfbroker)
 *   --takeovers N        kill -9 takeovers timed for sfbroker (default 10)
 *   --amq-takeovers N    ... for each ActiveMQ variant (default 3; the default 10 s lock poll makes each slow)
 *   --backlog-takeovers N  kill -9 takeovers with a full store, timed to the first receipted SEND, for each
 *                        broker (default 3; 0 skips the row)
 *   --takeover-backlog N persistent messages queued before those takeovers (default 200000)
 *   --p1 N --p4 N        messages for the receipted 1 / 4 producer rows (default 5000 / 10000)
 *   --window-count N     messages for the windowed row, then drained (default 100000)
 *   --window N           receipts in flight in the windowed row (default 1000)
 *   --np N               messages for the non-persistent row (default 100000)
 *   --size N             message body bytes (default 1024)
 *   --backlog N          also measure RSS with N persistent messages queued (default 0 = skip; try 1000000)
 *   --load-timeout-ms N  bound of each load (default 300000)
 *   --generator G        load generator: raw (ours, bench-lib/load-worker.ts), stompjs (@stomp/stompjs, written by
 *                        neither broker, bench-lib/stompjs-worker.ts), or both (default: every row with raw, plus the
 *                        receipt-per-message rows again with stompjs)
 *   --warmup N           persistent messages sent and drained per broker before the first measured row (JIT
 *                        warm-up, not measured; default 20000, half of them receipted one by one; 0 = cold brokers)
 *   --starts N        starts on a fresh shared dir timed for the start row, median reported (default 5)
 *   --cpu-hogs N         N busy-loop processes run beside the brokers for every row (started before the first
 *                        broker, killed after the last row; default 0): the numbers of a busy box
 *   --json FILE          also write all results as JSON
 *   --sfbroker-only      skip ActiveMQ
 *   --no-tls             skip the TLS rows (stomp+ssl, both brokers on one keytool-made PKCS#12 key store;
 *                        bench-lib/tls-rows.ts)
 *   --no-mqtt            skip the MQTT rows (each broker's mqtt:// connector, MQTT.js as the load generator;
 *                        bench-lib/mqtt-rows.ts; ActiveMQ needs libmqtt-client-java)
 *   --mqtt-qos0 N        messages of the MQTT QoS 0 publish + subscribe row (default: --np)
 *   --mqtt-qos1 N        messages of the MQTT QoS 1 PUBACK-per-message row (default: --p1)
 *   --mqtt-fanout N      messages of the MQTT QoS 1 fan-out row, each to 10 subscribers (default: --window-count / 10)
 *   --mqtt-window N      MQTT publishes outstanding in the QoS 0 and fan-out rows (default 100)
 *   --no-openwire        skip the OpenWire rows (each broker's tcp:// connector, the ActiveMQ 5.17 JMS client as
 *                        the load generator: test/jms/JmsBench.java; needs a JDK and libactivemq-java)
 *   --openwire-sync N    messages of the OpenWire persistent sync-send row (default: --p1)
 *   --openwire-async N   messages of the OpenWire async-send row, then drained by one consumer (default:
 *                        --window-count)
 *   --openwire-rr N      round trips of the OpenWire request/reply row (default: --p1)
 *
 * When ActiveMQ is not installed the script says how to install it and runs the sfbroker column alone.
 * Only 127.0.0.1; every load and wait is bounded; all brokers are stopped (and temp dirs removed) at the end.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Args } from './bench-lib/args.ts'
import { ActiveMQKind, activemqUnavailable, SfbrokerKind } from './bench-lib/brokers.ts'
import { BenchError } from './bench-lib/proc.ts'
import {
  LOAD_ROW_INT_FLAGS,
  LOAD_ROW_STRING_FLAGS,
  suiteOptionsFromArgs,
  formatTable,
  makeWorkDir,
  runBacklogTakeovers,
  runLoadRows,
  runTakeovers,
  type Column,
  type RowValue,
  type SuiteResult,
} from './bench-lib/suite.ts'
import { CpuHogs } from './bench-lib/cpu-hogs.ts'
import { runTlsRows, tlsKinds } from './bench-lib/tls-rows.ts'
import { DEFAULT_MQTT_ROWS, mqttKinds, runMqttRows } from './bench-lib/mqtt-rows.ts'
import { openWireKinds, runOpenWireRows } from './bench-lib/openwire-rows.ts'

const USAGE = fs
  .readFileSync(new URL(import.meta.url), 'utf8')
  .split('*/')[0]!
  .replace(/^\/\*\*\n/, '')
  .replace(/^ \* ?/gm, '')

async function main(): Promise<number> {
  const args = new Args(process.argv.slice(2), {
    ints: {
      ...LOAD_ROW_INT_FLAGS,
      takeovers: 0,
      'amq-takeovers': 0,
      backlog: 0,
      'backlog-takeovers': 0,
      'takeover-backlog': 1,
      'cpu-hogs': 0,
      'mqtt-qos0': 1,
      'mqtt-qos1': 1,
      'mqtt-fanout': 1,
      'mqtt-window': 1,
      'openwire-sync': 1,
      'openwire-async': 1,
      'openwire-rr': 1,
    },
    strings: ['binary', 'json', ...LOAD_ROW_STRING_FLAGS],
    bools: ['sfbroker-only', 'no-tls', 'no-mqtt', 'no-openwire'],
  })
  if (args.has('help')) {
    console.log(USAGE)
    return 0
  }
  const root = path.resolve(import.meta.dir, '..')
  const workDir = makeWorkDir('sfb-bench-vs-amq-')
  const o = suiteOptionsFromArgs(args, workDir, {
    backlog: args.int('backlog', 0),
    takeovers: args.int('takeovers', 10),
    backlogTakeovers: args.int('backlog-takeovers', 3),
    takeoverBacklog: args.int('takeover-backlog', 200_000),
  })
  const amqTakeovers = args.int('amq-takeovers', 3)
  const hogCount = args.int('cpu-hogs', 0)
  let hogs: CpuHogs | null = null
  try {
    const sf = new SfbrokerKind(path.resolve(args.str('binary', path.join(root, 'dist/sfbroker'))), workDir)
    const why = args.has('sfbroker-only') ? 'skipped (--sfbroker-only)' : activemqUnavailable()
    if (why) console.log(`ActiveMQ: ${why}; running sfbroker alone`)
    const started = new Date()
    const machine = `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`
    const loadAvg = () =>
      os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')
    const loadStart = loadAvg()
    console.log(
      `bench-vs-activemq ${started.toISOString()} on ${machine}, load average ${loadStart}, generator ${o.generator}${hogCount ? `, ${hogCount} CPU hogs beside the brokers` : ''}`,
    )
    // The hogs run for every row, both brokers alike; each ends by itself after 4 h at the latest, and is killed in
    // the finally below (or at exit / interrupt).
    if (hogCount > 0) hogs = new CpuHogs(hogCount, 4 * 3600_000)

    const amq = why ? null : new ActiveMQKind()
    // Load rows alternate between the brokers row by row (see runLoadRows); takeovers follow, broker by broker.
    const [sfResult, amqResult] = (await runLoadRows(amq ? [sf, amq] : [sf], o)) as [
      SuiteResult,
      SuiteResult | undefined,
    ]
    if (o.takeovers > 0) sfResult.takeoverMs = await attempt(() => runTakeovers(sf, o))
    if (o.backlogTakeovers > 0) sfResult.backlogTakeoverMs = await attempt(() => runBacklogTakeovers(sf, o))
    const columns: Column[] = [{ label: 'sfbroker', result: sfResult }]
    const extra: { label: string; unit: string; better: 'higher' | 'lower'; values: (RowValue | undefined)[] }[] = []
    const json: Record<string, unknown> = {
      startedAt: started.toISOString(),
      machine: { cores: os.cpus().length, memBytes: os.totalmem(), kernel: os.release() },
      options: { ...o, log: undefined, cpuHogs: hogCount },
      sfbroker: sfResult,
    }
    if (amq && amqResult) {
      const amqOpts = { ...o, takeovers: amqTakeovers }
      if (amqTakeovers > 0) amqResult.takeoverMs = await attempt(() => runTakeovers(amq, amqOpts))
      if (o.backlogTakeovers > 0) amqResult.backlogTakeoverMs = await attempt(() => runBacklogTakeovers(amq, o))
      columns.push({ label: 'ActiveMQ 5.17', result: amqResult })
      json.activemq = amqResult
      if (amqTakeovers > 0) {
        const tuned = await attempt(() => runTakeovers(new ActiveMQKind(1000), amqOpts))
        json.activemqTunedTakeoverMs = tuned
        extra.push({
          label: `takeover after kill -9, ActiveMQ with lockAcquireSleepInterval=1000 (median of ${amqTakeovers})`,
          unit: 'ms',
          better: 'lower',
          values: [sfResult.takeoverMs, tuned],
        })
      }
    }
    if (!args.has('no-tls')) {
      const t = await tlsKinds(
        path.resolve(args.str('binary', path.join(root, 'dist/sfbroker'))),
        workDir,
        amq !== null,
      )
      const tlsRows = await runTlsRows(t.kinds, o)
      extra.push(...tlsRows)
      json.tls = tlsRows
    }
    if (!args.has('no-mqtt')) {
      const kinds = await mqttKinds(
        path.resolve(args.str('binary', path.join(root, 'dist/sfbroker'))),
        workDir,
        amq !== null,
      )
      const mqttRows = await runMqttRows(kinds, o, {
        ...DEFAULT_MQTT_ROWS,
        // By default the MQTT rows are as long as the STOMP rows they resemble, so a short run stays short.
        qos0Count: args.int('mqtt-qos0', o.nonPersistentCount),
        qos1Count: args.int('mqtt-qos1', o.p1Count),
        fanOutCount: args.int('mqtt-fanout', Math.max(1, Math.floor(o.windowCount / 10))),
        window: args.int('mqtt-window', DEFAULT_MQTT_ROWS.window),
      })
      extra.push(...mqttRows)
      json.mqtt = mqttRows
    }
    if (!args.has('no-openwire')) {
      const kinds = await openWireKinds(
        path.resolve(args.str('binary', path.join(root, 'dist/sfbroker'))),
        workDir,
        amq !== null,
      )
      const openwireRows = await runOpenWireRows(kinds, o, {
        syncCount: args.int('openwire-sync', o.p1Count),
        asyncCount: args.int('openwire-async', o.windowCount),
        requestReplyCount: args.int('openwire-rr', o.p1Count),
      })
      extra.push(...openwireRows)
      json.openwire = openwireRows
    }
    if (hogs) {
      const still = hogs.running()
      json.cpuHogs = { count: hogCount, runningAtEnd: still }
      if (still < hogCount) console.log(`WARNING: only ${still} of ${hogCount} CPU hogs still ran at the end`)
    }
    const table = formatTable(o, columns, extra)
    const header = `${started.toISOString()} to ${new Date().toISOString()}, ${machine}; load average (1/5/15 min) ${loadStart} at the start, ${loadAvg()} at the end; generator ${o.generator}, warm-up ${o.warmup}${hogCount ? `, ${hogCount} CPU hogs` : ''}`
    json.machine = { ...(json.machine as object), description: machine }
    json.loadAverage = { start: loadStart, end: loadAvg() }
    console.log(`\n${header}`)
    if (hogCount)
      console.log(`\nWith ${hogCount} CPU hogs (busy-loop processes) running beside the brokers for every row.`)
    const notes = columns.flatMap((c) =>
      Object.entries(c.result)
        .filter(([, v]) => v?.note)
        .map(([k, v]) => `${c.label} ${k}: ${v!.note}`),
    )
    console.log(`\n${table}\n`)
    for (const n of notes) console.log(`- ${n}`)
    for (const e of extra)
      for (const [i, c] of columns.entries())
        if (e.values[i]?.note) console.log(`- ${e.label}: ${c.label} ${e.values[i]!.note}`)
    const jsonPath = args.str('json', '')
    if (jsonPath) fs.writeFileSync(jsonPath, JSON.stringify({ ...json, header, table }, null, 2) + '\n')
    return 0
  } finally {
    await hogs?.stop()
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

async function attempt(run: () => Promise<RowValue>): Promise<RowValue> {
  try {
    return await run()
  } catch (e) {
    console.log(`  FAILED: ${(e as Error).message}`)
    return { value: null, error: (e as Error).message.split('\n')[0] }
  }
}

try {
  process.exitCode = await main()
} catch (e) {
  console.error(e instanceof BenchError ? `bench-vs-activemq: ${e.message}` : e)
  process.exitCode = 1
}
