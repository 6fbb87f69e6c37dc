#!/usr/bin/env bun
/**
 * Soak under CPU starvation (issue #12, observation 1): two compiled brokers on one shared directory, N busy-loop
 * processes beside them for the whole run, and a persistent 4-producer / 4-consumer load through a failover URI
 * listing both brokers. It measures how often the primary steps down although nothing took its lock away, what each
 * step-down costs the clients (takeovers, reconnects, resends, duplicate deliveries) and whether any receipted
 * message is lost. It prints a table and one JSON line; it asserts nothing about speed.
 *
 *   bun scripts/soak-starvation.ts [--seconds 300] [--cpu-hogs 4] [--binary path] [--label text] [--json file]
 *       [--producers 4] [--consumers 4] [--queues 2] [--window 100] [--size 1024] [--prefetch N]
 *       [--keep-alive-ms N] [--hard-limit-s N] [--drain-s 120]
 *
 * Brokers: `sfbroker run --config <json> --log-format json` (chaos/broker-proc.ts), default configuration
 * (keep-alive 1000 ms) except the STOMP connector and the admin endpoint on 127.0.0.1 (`admin.listen` in the JSON,
 * the same as `--admin`), and `lockKeepAlivePeriod` when --keep-alive-ms is given. Without --binary the script builds
 * one with the `npm run build` flags into a temp dir. Each broker's JSON log is kept in the output dir printed at the
 * end; the shared store directory is removed.
 *
 * Clients: @stomp/stompjs (the npm client, not sfbroker's own) over plain TCP (src/protocol/stomp/testing/
 * stompjs-tcp.ts). stompjs has no failover transport, so each client is given the failover URI and, on every
 * reconnect, connects to the next endpoint of it (a replica refuses the TCP connect, so a client settles on the
 * primary within one round). Producers send `persistent:true` SENDs, every one with a receipt, keeping at most
 * --window unreceipted per producer; after a reconnect they resend every unreceipted message (at-least-once, as
 * a JMS client would). Consumers subscribe with `ack:client-individual` and ack each message. Every message carries
 * `soak-id: p<producer>-<seq>`, so the ledger counts duplicates (ids delivered more than once) and, after a final
 * drain, losses (ids receipted but never delivered).
 *
 * Bounds: the load runs --seconds; then producers get 60 s to have their last window receipted and consumers
 * --drain-s to receive every receipted message; the whole run is killed at --hard-limit-s (default seconds + 360).
 * Everything listens on 127.0.0.1. Every broker and hog is killed at the end, on error and on Ctrl-C.
 *
 * Exit code: 0 when no receipted message was lost, no broker exited on its own and the run ended in time; else 1.
 * Step-downs are reported, not judged (issue #12's goal is 0).
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs'
import { Args } from './bench-lib/args.ts'
import { CpuHogs } from './bench-lib/cpu-hogs.ts'
import { BenchError, RssSampler, sleep } from './bench-lib/proc.ts'
import { BrokerProc, pickPorts, type RoleEvent } from './chaos/broker-proc.ts'
import { tcpStompSocket } from '../src/protocol/stomp/testing/stompjs-tcp.ts'
import { parseJsonLine } from '../src/lib/line-reader.ts'

const ROOT = path.resolve(import.meta.dir, '..')
const USAGE = `usage: bun scripts/soak-starvation.ts [--seconds 300] [--cpu-hogs 4] [--binary path] [--label text] [--json file]
    [--producers 4] [--consumers 4] [--queues 2] [--window 100] [--size 1024] [--prefetch N] [--keep-alive-ms N]
    [--hard-limit-s N] [--drain-s 120] [--out-dir dir]`

const args = new Args(process.argv.slice(2), {
  ints: {
    seconds: 1,
    'cpu-hogs': 0,
    producers: 1,
    consumers: 1,
    queues: 1,
    window: 1,
    size: 64,
    prefetch: 1,
    'keep-alive-ms': 1,
    'hard-limit-s': 10,
    'drain-s': 1,
  },
  strings: ['binary', 'label', 'json', 'out-dir'],
  bools: [],
})
if (args.has('help')) {
  console.log(USAGE)
  process.exit(0)
}

const seconds = args.int('seconds', 300)
const hogCount = args.int('cpu-hogs', 4)
const producerCount = args.int('producers', 4)
const consumerCount = args.int('consumers', 4)
const queueCount = args.int('queues', 2)
const windowSize = args.int('window', 100)
const sizeBytes = args.int('size', 1024)
const prefetch = args.int('prefetch', 0) || undefined
const keepAliveMs = args.int('keep-alive-ms', 0) || undefined
const drainMs = args.int('drain-s', 120) * 1000
const hardLimitMs = args.int('hard-limit-s', seconds + 360) * 1000
/** Time the producers get after the load to have their last window receipted (they may be failing over). */
const SETTLE_RECEIPTS_MS = 60_000
/** Bound of a broker start (primary or replica) on a starved machine. */
const START_TIMEOUT_MS = 60_000
const PROGRESS_EVERY_MS = 30_000

const log = (line: string): void => console.error(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}`)

// ---------------------------------------------------------------------------------------------------------------
// The ledger: per producer, one slot per sequence number (typed arrays, so 10^6 messages cost a few MB).

class Ledger {
  sent = 0
  resends = 0
  receipted = 0
  deliveries = 0
  private readonly receiptedFlags: Uint8Array[] = []
  private readonly deliveredCounts: Uint16Array[] = []
  private readonly maxSeq: number[] = []

  constructor(producers: number) {
    for (let p = 0; p < producers; p++) {
      this.receiptedFlags.push(new Uint8Array(1 << 16))
      this.deliveredCounts.push(new Uint16Array(1 << 16))
      this.maxSeq.push(0)
    }
  }

  private ensure(p: number, seq: number): void {
    let cap = this.receiptedFlags[p]!.length
    if (seq < cap) return
    while (cap <= seq) cap *= 2
    const r = new Uint8Array(cap)
    r.set(this.receiptedFlags[p]!)
    this.receiptedFlags[p] = r
    const d = new Uint16Array(cap)
    d.set(this.deliveredCounts[p]!)
    this.deliveredCounts[p] = d
  }

  onSent(p: number, seq: number): void {
    this.ensure(p, seq)
    this.sent++
    if (seq > this.maxSeq[p]!) this.maxSeq[p] = seq
  }

  onReceipt(p: number, seq: number): void {
    this.ensure(p, seq)
    if (this.receiptedFlags[p]![seq]) return
    this.receiptedFlags[p]![seq] = 1
    this.receipted++
  }

  /** Records one delivery of `id`; false when the id is not one of ours. */
  onDelivery(id: string | undefined): boolean {
    const m = id === undefined ? null : /^p(\d+)-(\d+)$/.exec(id)
    if (!m) return false
    const p = Number(m[1])
    const seq = Number(m[2])
    if (p >= this.deliveredCounts.length) return false
    this.ensure(p, seq)
    const d = this.deliveredCounts[p]!
    if (d[seq]! < 0xffff) d[seq]!++
    this.deliveries++
    return true
  }

  /** Receipted ids not delivered yet. */
  missing(): number {
    let n = 0
    for (let p = 0; p < this.maxSeq.length; p++) {
      const r = this.receiptedFlags[p]!
      const d = this.deliveredCounts[p]!
      for (let s = 1; s <= this.maxSeq[p]!; s++) if (r[s] && d[s] === 0) n++
    }
    return n
  }

  summary(): {
    uniqueDelivered: number
    duplicateIds: number
    extraDeliveries: number
    lost: number
    lostSamples: string[]
    deliveredUnreceipted: number
  } {
    let uniqueDelivered = 0
    let duplicateIds = 0
    let extraDeliveries = 0
    let lost = 0
    let deliveredUnreceipted = 0
    const lostSamples: string[] = []
    for (let p = 0; p < this.maxSeq.length; p++) {
      const r = this.receiptedFlags[p]!
      const d = this.deliveredCounts[p]!
      for (let s = 1; s <= this.maxSeq[p]!; s++) {
        const n = d[s]!
        if (n > 0) uniqueDelivered++
        if (n > 1) {
          duplicateIds++
          extraDeliveries += n - 1
        }
        if (r[s] && n === 0) {
          lost++
          if (lostSamples.length < 20) lostSamples.push(`p${p}-${s}`)
        }
        if (!r[s] && n > 0) deliveredUnreceipted++
      }
    }
    return { uniqueDelivered, duplicateIds, extraDeliveries, lost, lostSamples, deliveredUnreceipted }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A stompjs client that follows the failover URI: each (re)connect goes to the next endpoint.

interface EndpointList {
  uri: string
  endpoints: { host: string; port: number }[]
}

/** `failover:(stomp://h:p,tcp://h:p)?...` (or one plain URI) -> its endpoints. Options are ignored. */
function parseFailoverUri(uri: string): EndpointList {
  const m = /^failover:\(([^)]*)\)/.exec(uri) ?? /^failover:([^?]*)/.exec(uri)
  const list = (m ? m[1]! : uri)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const endpoints = list.map((e) => {
    const u = /^(?:stomp|tcp):\/\/([^:/]+):(\d+)/.exec(e)
    if (!u) throw new BenchError(`failover URI ${uri}: endpoint "${e}" is not stomp://host:port`)
    return { host: u[1]!, port: Number(u[2]) }
  })
  if (endpoints.length === 0) throw new BenchError(`failover URI ${uri}: no endpoint`)
  return { uri, endpoints }
}

interface ClientStats {
  connects: number
  /** Connections lost after CONNECTED while the soak ran (each one is followed by a reconnect). */
  drops: number
  stompErrors: number
  /** ERROR frame `message` headers, first few. */
  errorMessages: string[]
}

class FailoverStomp {
  readonly client: Client
  readonly stats: ClientStats = { connects: 0, drops: 0, stompErrors: 0, errorMessages: [] }
  /** Bumped at every CONNECTED: frames of an older connection are not acked. */
  generation = 0
  private next = 0
  private wasConnected = false
  stopping = false

  constructor(
    readonly name: string,
    list: EndpointList,
    onConnected: (gen: number) => void,
  ) {
    this.client = new Client({
      reconnectDelay: 50,
      connectionTimeout: 5000,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      debug: () => undefined,
      connectHeaders: { host: 'localhost' },
      webSocketFactory: () => {
        const ep = list.endpoints[this.next % list.endpoints.length]!
        const ws = tcpStompSocket(ep.host, ep.port)
        // A forced disconnect (connection timeout, deactivate) must close at once, not half-close and wait for the
        // broker's FIN.
        const raw = ws as unknown as { close: () => void; terminate: () => void }
        raw.close = () => raw.terminate()
        return ws as IStompSocket
      },
    })
    this.client.onConnect = () => {
      this.stats.connects++
      this.generation++
      this.wasConnected = true
      onConnected(this.generation)
    }
    this.client.onStompError = (f) => {
      this.stats.stompErrors++
      const msg = f.headers.message ?? '(no message header)'
      if (this.stats.errorMessages.length < 5 && !this.stats.errorMessages.includes(msg))
        this.stats.errorMessages.push(msg)
    }
    this.client.onWebSocketClose = () => {
      if (this.wasConnected && !this.stopping) this.stats.drops++
      this.wasConnected = false
      // Refused, timed out or dropped: the next attempt goes to the next endpoint of the list.
      this.next++
    }
  }

  start(): void {
    this.client.activate()
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.race([this.client.deactivate({ force: true }), sleep(3000)])
  }
}

class Producer {
  readonly stomp: FailoverStomp
  /** seq -> unreceipted, in send order. */
  private readonly outstanding = new Set<number>()
  private seq = 0
  private running = true
  private readonly pad: string

  constructor(
    readonly index: number,
    private readonly destination: string,
    list: EndpointList,
    private readonly ledger: Ledger,
  ) {
    this.pad = 'x'.repeat(Math.max(0, sizeBytes - 24))
    this.stomp = new FailoverStomp(`p${index}`, list, () => this.onConnected())
    this.stomp.client.onUnhandledReceipt = (f) => this.onReceipt(f.headers['receipt-id'])
  }

  get unreceipted(): number {
    return this.outstanding.size
  }

  private publish(seq: number): void {
    const id = `p${this.index}-${seq}`
    this.stomp.client.publish({
      destination: this.destination,
      headers: { persistent: 'true', receipt: id, 'soak-id': id },
      body: `${id} ${this.pad}`,
    })
  }

  private onConnected(): void {
    // At-least-once: whatever the broker did not receipt on the lost connection is sent again.
    for (const seq of this.outstanding) {
      this.publish(seq)
      this.ledger.resends++
    }
    this.pump()
  }

  private onReceipt(id: string | undefined): void {
    const m = id === undefined ? null : /^p\d+-(\d+)$/.exec(id)
    if (!m) return
    const seq = Number(m[1])
    if (!this.outstanding.delete(seq)) return
    this.ledger.onReceipt(this.index, seq)
    this.pump()
  }

  private pump(): void {
    while (this.running && this.stomp.client.connected && this.outstanding.size < windowSize) {
      const seq = ++this.seq
      this.outstanding.add(seq)
      this.ledger.onSent(this.index, seq)
      this.publish(seq)
    }
  }

  /** No new messages from now on; the unreceipted ones are still resent after a reconnect. */
  stopSending(): void {
    this.running = false
  }
}

class Consumer {
  readonly stomp: FailoverStomp
  foreign = 0

  constructor(
    readonly index: number,
    private readonly destination: string,
    list: EndpointList,
    private readonly ledger: Ledger,
  ) {
    this.stomp = new FailoverStomp(`c${index}`, list, (gen) => this.onConnected(gen))
  }

  private onConnected(gen: number): void {
    const headers: Record<string, string> = { ack: 'client-individual', id: `soak-${this.index}` }
    if (prefetch !== undefined) headers['activemq.prefetchSize'] = String(prefetch)
    this.stomp.client.subscribe(this.destination, (m) => this.onMessage(m, gen), headers)
  }

  private onMessage(m: IMessage, gen: number): void {
    if (!this.ledger.onDelivery(m.headers['soak-id'])) this.foreign++
    // A message of a connection that is gone cannot be acked (the broker redelivers it): only ack on the live one.
    if (gen === this.stomp.generation && this.stomp.client.connected) m.ack()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Brokers, build, logs.

function gitDescribe(): string {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' })
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' })
  const r = rev.stdout.trim() || 'unknown'
  return dirty.stdout.trim() ? `${r} + uncommitted src changes` : r
}

function buildBinary(dir: string): string {
  const out = path.join(dir, 'sfbroker')
  const bun = path.join(ROOT, 'node_modules', '.bin', 'bun')
  log(`building ${out} ...`)
  const r = spawnSync(
    bun,
    [
      'build',
      '--compile',
      '--bytecode',
      '--format',
      'esm',
      '--minify-syntax',
      '--sourcemap',
      'src/main.ts',
      '--outfile',
      out,
    ],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    },
  )
  if (r.status !== 0)
    throw new BenchError(`bun build --compile failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`)
  return out
}

function writeConfig(file: string, sharedDir: string, port: number, adminPort: number, i: number): void {
  const cfg: Record<string, unknown> = {
    brokerName: 'soak',
    nodeId: `b${i}`,
    dataDirectory: sharedDir,
    transportConnectors: [{ name: 'stomp', uri: `stomp://127.0.0.1:${port}` }],
    admin: { listen: `127.0.0.1:${adminPort}` },
  }
  if (keepAliveMs !== undefined)
    cfg.persistenceAdapter = { kahaDB: { directory: sharedDir, lockKeepAlivePeriod: keepAliveMs } }
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2))
}

async function waitRole(b: BrokerProc, role: string, timeoutMs: number): Promise<void> {
  const t0 = Date.now()
  while (b.role !== role) {
    if (!b.alive)
      throw new BenchError(`${b.name} exited before reaching role ${role}: ${JSON.stringify(b.exits.at(-1))}`)
    if (Date.now() - t0 > timeoutMs)
      throw new BenchError(`${b.name} not ${role} within ${timeoutMs} ms (role ${b.role ?? 'none'}); log ${b.logFile}`)
    await sleep(20)
  }
}

interface LogScan {
  levels: Record<string, number>
  /** warn/error messages with digits folded, most frequent first. */
  notable: { level: string; msg: string; count: number; first: string }[]
}

function scanLog(file: string): LogScan {
  const levels: Record<string, number> = {}
  const notable = new Map<string, { level: string; msg: string; count: number; first: string }>()
  let text = ''
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return { levels, notable: [] }
  }
  for (const line of text.split('\n')) {
    const o = parseJsonLine<Record<string, unknown>>(line)
    if (!o) continue
    const level = String(o.level ?? '?')
    levels[level] = (levels[level] ?? 0) + 1
    if (level !== 'warn' && level !== 'error' && level !== 'fatal') continue
    const msg = String(o.msg ?? '')
    const key = `${level} ${msg.replace(/\d+/g, 'N')}`
    const e = notable.get(key)
    if (e) e.count++
    else notable.set(key, { level, msg: msg.replace(/\d+/g, 'N').slice(0, 200), count: 1, first: msg.slice(0, 300) })
  }
  return { levels, notable: [...notable.values()].sort((a, b) => b.count - a.count).slice(0, 12) }
}

// ---------------------------------------------------------------------------------------------------------------

interface StepDown {
  broker: string
  atS: number
  reason: string
  /** ms from this step-down to the next `-> primary` of any broker (null: none followed). */
  servingAgainMs: number | null
}

async function main(): Promise<number> {
  const started = Date.now()
  const outDir = args.str('out-dir', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-soak-starvation-'))
  fs.mkdirSync(outDir, { recursive: true })
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-soak-shared-'))
  let buildDir: string | null = null
  let binary = args.str('binary', '')
  let label = args.str('label', '')
  if (!binary) {
    buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-soak-build-'))
    label ||= gitDescribe()
    binary = buildBinary(buildDir)
  } else {
    if (!fs.existsSync(binary)) throw new BenchError(`--binary ${binary}: no such file`)
    binary = path.resolve(binary)
    label ||= path.basename(binary)
  }

  const brokers: BrokerProc[] = []
  let hogs: CpuHogs | null = null
  const clients: FailoverStomp[] = []
  let hardLimitHit = false

  // Ctrl-C / SIGTERM: kill everything we started, synchronously, and leave.
  const onSignal = (sig: NodeJS.Signals) => {
    for (const b of brokers) {
      b.signal('SIGCONT')
      b.signal('SIGKILL')
    }
    for (const pid of hogs?.pids ?? []) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    fs.rmSync(sharedDir, { recursive: true, force: true })
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true })
    log(`${sig}: brokers and hogs killed; logs in ${outDir}`)
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const hardTimer = setTimeout(() => {
    hardLimitHit = true
    log(`hard limit of ${hardLimitMs / 1000} s reached: stopping`)
  }, hardLimitMs)
  hardTimer.unref()
  const overHardLimit = () => hardLimitHit
  // Final safety net: if even the orderly stop hangs, exit anyway 30 s after the hard limit.
  setTimeout(() => onSignal('SIGTERM'), hardLimitMs + 30_000).unref()

  const ledger = new Ledger(producerCount)
  const loadSamples: number[] = []
  let loadTimer: ReturnType<typeof setInterval> | null = null
  const samplers: RssSampler[] = []
  let rss: number[] = []
  let loadStart = 0
  let loadEnd = 0
  let drainEnd = 0
  let settled = false
  let drained = false
  const producers: Producer[] = []
  const consumers: Consumer[] = []

  try {
    // CPU hogs first: the whole run, brokers' starts included, happens on a busy box.
    if (hogCount > 0) hogs = new CpuHogs(hogCount, hardLimitMs + 60_000)
    log(`${hogCount} CPU hog(s) running; binary ${binary} (${label}); out dir ${outDir}`)

    const ports = await pickPorts(4, Math.random)
    for (let i = 0; i < 2; i++) {
      const cfg = path.join(outDir, `b${i}.json`)
      writeConfig(cfg, sharedDir, ports[i]!, ports[i + 2]!, i)
      brokers.push(new BrokerProc(i, ports[i]!, cfg, [binary], path.join(outDir, `b${i}.log`)))
    }
    brokers[0]!.start()
    await waitRole(brokers[0]!, 'primary', START_TIMEOUT_MS)
    brokers[1]!.start()
    await waitRole(brokers[1]!, 'replica', START_TIMEOUT_MS)
    log(`b0 primary on ${ports[0]} (admin ${ports[2]}), b1 replica on ${ports[1]} (admin ${ports[3]})`)
    for (const b of brokers) samplers.push(new RssSampler(b.pid!, 500))

    const list = parseFailoverUri(`failover:(stomp://127.0.0.1:${ports[0]},stomp://127.0.0.1:${ports[1]})`)
    const queue = (k: number) => `/queue/soak.starvation.${k % queueCount}`
    for (let c = 0; c < consumerCount; c++) consumers.push(new Consumer(c, queue(c), list, ledger))
    for (let p = 0; p < producerCount; p++) producers.push(new Producer(p, queue(p), list, ledger))
    for (const c of consumers) clients.push(c.stomp)
    for (const p of producers) clients.push(p.stomp)

    loadSamples.push(os.loadavg()[0]!)
    loadTimer = setInterval(() => loadSamples.push(os.loadavg()[0]!), 1000)
    for (const c of consumers) c.stomp.start()
    const t0 = Date.now()
    while (consumers.some((c) => c.stomp.stats.connects === 0)) {
      if (Date.now() - t0 > START_TIMEOUT_MS) throw new BenchError('consumers not all connected within 60 s')
      await sleep(20)
    }
    await sleep(200) // SUBSCRIBE frames processed before the first SEND
    loadStart = Date.now()
    for (const p of producers) p.stomp.start()
    log(
      `load: ${producerCount} producers (window ${windowSize}) and ${consumerCount} consumers on ${queueCount} queue(s), ${seconds} s, via ${list.uri}`,
    )

    let nextProgress = loadStart + PROGRESS_EVERY_MS
    while (Date.now() - loadStart < seconds * 1000 && !overHardLimit()) {
      await sleep(250)
      if (Date.now() >= nextProgress) {
        nextProgress += PROGRESS_EVERY_MS
        const downs = brokers
          .flatMap((b) => b.roles)
          .filter((r) => r.from === 'primary' && r.role === 'stepping-down').length
        const drops = clients.reduce((a, c) => a + c.stats.drops, 0)
        log(
          `t=${Math.round((Date.now() - loadStart) / 1000)} s: receipted ${ledger.receipted}, delivered ${ledger.deliveries}, step-downs ${downs}, ` +
            `client reconnects ${drops}, load1 ${os.loadavg()[0]!.toFixed(2)}`,
        )
      }
    }
    for (const p of producers) p.stopSending()
    loadEnd = Date.now()
    log(
      `load stopped after ${((loadEnd - loadStart) / 1000).toFixed(1)} s; waiting for the last receipts and the drain`,
    )

    const tSettle = Date.now()
    while (
      !(settled = producers.every((p) => p.unreceipted === 0)) &&
      Date.now() - tSettle < SETTLE_RECEIPTS_MS &&
      !overHardLimit()
    )
      await sleep(100)
    const tDrain = Date.now()
    while (!(drained = ledger.missing() === 0) && Date.now() - tDrain < drainMs && !overHardLimit()) await sleep(250)
    // A little longer, so that redeliveries already on their way are counted as the duplicates they are.
    if (drained) await sleep(2000)
    drainEnd = Date.now()
  } finally {
    if (loadTimer) clearInterval(loadTimer)
    // RSS first: a broker being stopped can read as NaN (its /proc status loses VmRSS while it exits).
    rss = samplers.map((s) => s.stop())
    await Promise.all(clients.map((c) => c.stop()))
    for (const b of brokers) await b.terminate(15_000)
    for (const b of brokers) b.close()
    await hogs?.stop()
    clearTimeout(hardTimer)
    fs.rmSync(sharedDir, { recursive: true, force: true })
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true })
  }

  // -------------------------------------------------------------------------------------------------------------
  // Report.
  const loadSeconds = (loadEnd - loadStart) / 1000
  const s = ledger.summary()
  const allRoles: (RoleEvent & { broker: string })[] = brokers
    .flatMap((b) => b.roles.map((r) => ({ ...r, broker: b.name })))
    .sort((a, b) => a.at - b.at)
  const primaries = allRoles.filter((r) => r.role === 'primary')
  const stepDowns: StepDown[] = allRoles
    .filter((r) => r.from === 'primary' && r.role === 'stepping-down' && !r.stopAsked)
    .map((r) => {
      const next = primaries.find((p) => p.at > r.at)
      return {
        broker: r.broker,
        atS: Math.round((r.at - loadStart) / 100) / 10,
        reason: r.reason,
        servingAgainMs: next ? next.at - r.at : null,
      }
    })
  const reasons = new Map<string, number>()
  for (const d of stepDowns) {
    const k = d.reason.replace(/\d+/g, 'N')
    reasons.set(k, (reasons.get(k) ?? 0) + 1)
  }
  const takeovers = primaries.filter((r) => !r.stopAsked).length - 1
  const selfExits = brokers.flatMap((b) =>
    b.exits.filter((e) => e.cause === 'self').map((e) => ({ broker: b.name, ...e })),
  )
  const sumStat = (k: 'connects' | 'drops' | 'stompErrors') => clients.reduce((a, c) => a + c.stats[k], 0)
  const errorMessages = [...new Set(clients.flatMap((c) => c.stats.errorMessages))]
  const logs = brokers.map((b) => ({ broker: b.name, file: b.logFile, ...scanLog(b.logFile) }))
  const avgLoad = loadSamples.length ? loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length : 0
  const maxLoad = loadSamples.length ? Math.max(...loadSamples) : 0
  const gaps = stepDowns.map((d) => d.servingAgainMs).filter((x): x is number => x !== null)

  const result = {
    label,
    binary,
    date: new Date(started).toISOString(),
    machine: { cpus: os.cpus().length, host: os.hostname() },
    options: {
      seconds,
      cpuHogs: hogCount,
      producers: producerCount,
      consumers: consumerCount,
      queues: queueCount,
      window: windowSize,
      sizeBytes,
      prefetch: prefetch ?? null,
      keepAliveMs: keepAliveMs ?? 'default',
    },
    durationS: Math.round(loadSeconds * 10) / 10,
    totalS: Math.round((Date.now() - started) / 1000),
    sent: ledger.sent,
    resends: ledger.resends,
    receipted: ledger.receipted,
    deliveries: ledger.deliveries,
    uniqueDelivered: s.uniqueDelivered,
    receiptedPerS: Math.round(ledger.receipted / loadSeconds),
    stepDowns: stepDowns.length,
    stepDownReasons: Object.fromEntries(reasons),
    stepDownList: stepDowns,
    servingAgainMsMax: gaps.length ? Math.max(...gaps) : null,
    takeovers,
    clientReconnects: sumStat('drops'),
    clientErrorFrames: sumStat('stompErrors'),
    clientErrorMessages: errorMessages,
    duplicateIds: s.duplicateIds,
    extraDeliveries: s.extraDeliveries,
    lost: s.lost,
    lostSamples: s.lostSamples,
    deliveredUnreceipted: s.deliveredUnreceipted,
    foreignMessages: consumers.reduce((a, c) => a + c.foreign, 0),
    receiptsSettled: settled,
    drained,
    drainS: Math.round((drainEnd - loadEnd) / 100) / 10,
    loadAvg1: {
      max: Math.round(maxLoad * 100) / 100,
      avg: Math.round(avgLoad * 100) / 100,
      samples: loadSamples.length,
    },
    peakRssMb: Object.fromEntries(brokers.map((b, i) => [b.name, Math.round((rss[i] ?? 0) / 1048576)])),
    selfExits,
    hardLimitHit,
    logs: logs.map((l) => ({ broker: l.broker, file: l.file, levels: l.levels, notable: l.notable })),
  }

  const rows: [string, string][] = [
    ['binary', `${label} (${binary})`],
    [
      'machine',
      `${os.cpus().length} cores, ${hogCount} CPU hogs, load1 max ${result.loadAvg1.max} avg ${result.loadAvg1.avg}`,
    ],
    ['load duration', `${result.durationS} s (+ ${result.drainS} s settle/drain)`],
    ['messages sent / resent', `${ledger.sent} / ${ledger.resends}`],
    ['receipted', `${ledger.receipted} (${result.receiptedPerS} msg/s)`],
    ['delivered (frames / unique ids)', `${ledger.deliveries} / ${s.uniqueDelivered}`],
    ['step-downs (primary -> stepping-down)', String(stepDowns.length)],
    ...[...reasons].map(([k, n]): [string, string] => [`  reason x${n}`, k.length > 110 ? k.slice(0, 110) + '…' : k]),
    ['takeovers (new primary terms)', String(takeovers)],
    [
      'serving again after a step-down (max)',
      result.servingAgainMsMax === null ? '-' : `${result.servingAgainMsMax} ms`,
    ],
    ['client reconnects / ERROR frames', `${result.clientReconnects} / ${result.clientErrorFrames}`],
    ['duplicates (ids delivered >1 / extra deliveries)', `${s.duplicateIds} / ${s.extraDeliveries}`],
    ['lost (receipted, never delivered)', `${s.lost}${s.lost ? ` e.g. ${s.lostSamples.slice(0, 5).join(' ')}` : ''}`],
    ['receipts settled / drained', `${settled} / ${drained}`],
    ['peak RSS', brokers.map((b, i) => `${b.name} ${Math.round((rss[i] ?? 0) / 1048576)} MB`).join(', ')],
    [
      'broker self exits',
      selfExits.length
        ? selfExits.map((e) => `${e.broker} code=${e.code} signal=${e.signal} (${e.why})`).join('; ')
        : '0',
    ],
    ['log lines by level', logs.map((l) => `${l.broker} ${JSON.stringify(l.levels)}`).join(', ')],
  ]
  const w = Math.max(...rows.map((r) => r[0].length))
  console.log(`\nSoak under CPU starvation: ${label}, ${new Date(started).toISOString()}`)
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`)
  if (stepDowns.length) {
    console.log('  step-downs:')
    for (const d of stepDowns)
      console.log(`    t=${d.atS}s ${d.broker}: ${d.reason} (serving again after ${d.servingAgainMs ?? '-'} ms)`)
  }
  for (const l of logs) {
    if (!l.notable.length) continue
    console.log(`  ${l.broker} warn/error lines (${l.file}):`)
    for (const n of l.notable) console.log(`    ${n.count}x ${n.level}: ${n.first}`)
  }
  if (errorMessages.length) console.log(`  ERROR frames seen by clients: ${errorMessages.join(' | ')}`)
  console.log(JSON.stringify({ soakStarvation: result }))
  const jsonFile = args.str('json', '')
  if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(result, null, 2) + '\n')
  log(`broker logs and configs kept in ${outDir}`)
  return s.lost > 0 || selfExits.length > 0 || hardLimitHit || !drained ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof BenchError ? `soak-starvation: ${e.message}` : e)
    process.exit(1)
  },
)
