/**
 * The benchmark rows, run the same way against any BrokerKind, and the comparison table. Every load is bounded in
 * message count and in time (SuiteOptions.loadTimeoutMs per load, per-step start/takeover timeouts); a load that
 * does not finish in time makes its row an error instead of a number. Nothing here asserts a speed: the scripts
 * print what they measured.
 *
 * Rows (ids are stable; docs/benchmarks.md explains each):
 *   startMs         spawn -> first STOMP CONNECTED answered (empty shared dir; median of `startSamples` starts)
 *   replicaReadyMs  spawn of a second process on the same dir -> it registered as a replica (port closed)
 *   idleRssMb       primary's RSS 2 s after start, no clients
 *   syncFloor       the disk's sync floor: one 1 KiB append with O_DSYNC on the brokers' filesystem, p50 (ms),
 *                   measured before and after the load rows (disk-floor.ts); persistent rows are shown as multiples
 *   p1, p4          persistent SENDs, one RECEIPT awaited per message, 1 / 4 producers (msg/s; the cell has the
 *                   receipt latency p50/p99 and p50 as a multiple of the sync floor)
 *   p1js, p4js      the same through @stomp/stompjs (stompjs-worker.ts), a generator neither broker wrote
 *   window          persistent SENDs with up to `window` unreceipted in flight, 1 producer (msg/s)
 *   nonPersistent   non-persistent SENDs without receipts, 1 producer + 1 consumer at once (msg/s consumed)
 *   drain           one auto-ack consumer drains the `windowCount` persistent messages of the window row (msg/s)
 *   peakRssMb       primary's peak RSS over all of the above
 *   backlogRssMb    primary's peak RSS while `backlog` persistent messages are sent (unreceipted, the last one
 *                   receipted) and queued, no consumer (optional row); the note has the RSS 2 s after
 *   takeoverMs      kill -9 of the primary -> the replica answers STOMP CONNECTED (median of `takeovers`)
 *   backlogTakeoverMs  kill -9 of the primary with `takeoverBacklog` persistent messages queued -> the replica
 *                   answers a receipted persistent SEND (median of `backlogTakeovers`; the note has CONNECTED)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { BrokerKind, BrokerProcess } from './brokers.ts'
import { mustLoad, type Generator } from './loads.ts'
import { measureSyncFloor, type SyncFloor } from './disk-floor.ts'
import { BenchError, freePort, rssOf, RssSampler, sleep, stompReceiptedSend, waitUntil } from './proc.ts'
import type { Args } from './args.ts'

export interface SuiteOptions {
  sizeBytes: number
  /** Messages for the 1-producer receipted row. */
  p1Count: number
  /** Messages (in total) for the 4-producer receipted row. */
  p4Count: number
  /** Messages for the windowed row; the drain row then consumes them. */
  windowCount: number
  window: number
  nonPersistentCount: number
  /** Persistent messages queued for the backlog RSS row; 0 skips the row. */
  backlog: number
  /** Kill -9 takeovers to time; 0 skips the row. */
  takeovers: number
  /** Kill -9 takeovers to time with a full store (`takeoverBacklog` messages queued); 0 skips the row. */
  backlogTakeovers: number
  /** Persistent messages queued before the backlog takeovers. */
  takeoverBacklog: number
  /** Starts on a fresh shared dir to time for the start row (median; the last one becomes the measured pair). */
  startSamples: number
  /** Bound of each single load (the row fails past it). */
  loadTimeoutMs: number
  /** Bound of each broker start / takeover wait. */
  startTimeoutMs: number
  /** Directory for brokers' data and logs (a fresh temp dir under it per run). */
  workDir: string
  /** Progress lines go here. */
  log: (line: string) => void
  /** Load generator of the load rows: raw (ours), stompjs (neutral), or both (rows as raw, plus p1js/p4js). */
  generator: Generator | 'both'
  /** Persistent messages sent (and drained) to each broker before the first measured row: JIT warm-up. */
  warmup: number
}

export const DEFAULT_SUITE: Omit<SuiteOptions, 'workDir' | 'log'> = {
  sizeBytes: 1024,
  p1Count: 5_000,
  p4Count: 10_000,
  windowCount: 100_000,
  window: 1000,
  nonPersistentCount: 100_000,
  backlog: 0,
  takeovers: 5,
  backlogTakeovers: 3,
  takeoverBacklog: 200_000,
  startSamples: 5,
  loadTimeoutMs: 300_000,
  startTimeoutMs: 60_000,
  generator: 'both',
  warmup: 20_000,
}

/** The load-row flags both benchmark scripts take (--p1 --p4 --window-count --window --np --size --load-timeout-ms). */
export const LOAD_ROW_INT_FLAGS = {
  p1: 1,
  p4: 4,
  'window-count': 1,
  window: 1,
  np: 1,
  size: 1,
  'load-timeout-ms': 1000,
  starts: 1,
  warmup: 0,
} as const
/** The load-row string flags (--generator raw|stompjs|both). */
export const LOAD_ROW_STRING_FLAGS = ['generator'] as const
const GENERATORS = ['raw', 'stompjs', 'both'] as const

/** SuiteOptions from the load-row flags; the caller decides backlog and takeovers. */
export function suiteOptionsFromArgs(
  args: Args,
  workDir: string,
  rest: { backlog: number; takeovers: number; backlogTakeovers?: number; takeoverBacklog?: number },
): SuiteOptions {
  return {
    ...DEFAULT_SUITE,
    p1Count: args.int('p1', DEFAULT_SUITE.p1Count),
    p4Count: args.int('p4', DEFAULT_SUITE.p4Count),
    windowCount: args.int('window-count', DEFAULT_SUITE.windowCount),
    window: args.int('window', DEFAULT_SUITE.window),
    nonPersistentCount: args.int('np', DEFAULT_SUITE.nonPersistentCount),
    sizeBytes: args.int('size', DEFAULT_SUITE.sizeBytes),
    loadTimeoutMs: args.int('load-timeout-ms', DEFAULT_SUITE.loadTimeoutMs),
    startSamples: args.int('starts', DEFAULT_SUITE.startSamples),
    warmup: args.int('warmup', DEFAULT_SUITE.warmup),
    generator: generatorFlag(args.str('generator', DEFAULT_SUITE.generator)),
    ...rest,
    workDir,
    log: (l) => console.log(l),
  }
}

function generatorFlag(v: string): SuiteOptions['generator'] {
  if (!(GENERATORS as readonly string[]).includes(v))
    throw new BenchError(`--generator: "${v}" is not one of ${GENERATORS.join(', ')}`)
  return v as SuiteOptions['generator']
}

export type RowId =
  | 'syncFloor'
  | 'startMs'
  | 'replicaReadyMs'
  | 'idleRssMb'
  | 'p1'
  | 'p4'
  | 'p1js'
  | 'p4js'
  | 'window'
  | 'nonPersistent'
  | 'drain'
  | 'peakRssMb'
  | 'backlogRssMb'
  | 'takeoverMs'
  | 'backlogTakeoverMs'

export interface RowValue {
  value: number | null
  /** Extra figures shown beside the value (e.g. p99/max of takeovers). */
  note?: string
  /** Shown in the table cell after the value (receipt latency, multiple of the sync floor). */
  cell?: string
  /** Receipt latency of a receipt-per-message row, ms. */
  receiptMs?: { p50: number; p99: number; max: number }
  error?: string
}

export type SuiteResult = Partial<Record<RowId, RowValue>>

export interface RowSpec {
  id: RowId
  label: (o: SuiteOptions) => string
  unit: string
  better: 'higher' | 'lower'
}

export const ROWS: RowSpec[] = [
  { id: 'takeoverMs', label: (o) => `takeover after kill -9 (median of ${o.takeovers})`, unit: 'ms', better: 'lower' },
  {
    id: 'backlogTakeoverMs',
    label: (o) =>
      `takeover after kill -9 with ${o.takeoverBacklog.toLocaleString('en-US')} persistent queued, to a receipted SEND (median of ${o.backlogTakeovers})`,
    unit: 'ms',
    better: 'lower',
  },
  {
    id: 'syncFloor',
    label: () => 'disk sync floor: one 1 KiB O_DSYNC append, p50 (before / after the loads)',
    unit: 'ms',
    better: 'lower',
  },
  {
    id: 'p1',
    label: (o) =>
      `persistent, receipt per message, 1 producer (${o.p1Count})${o.generator === 'stompjs' ? ', stompjs' : ''}`,
    unit: 'msg/s',
    better: 'higher',
  },
  {
    id: 'p1js',
    label: (o) => `persistent, receipt per message, 1 producer (${o.p1Count}), stompjs`,
    unit: 'msg/s',
    better: 'higher',
  },
  {
    id: 'p4',
    label: (o) =>
      `persistent, receipt per message, 4 producers (${o.p4Count})${o.generator === 'stompjs' ? ', stompjs' : ''}`,
    unit: 'msg/s',
    better: 'higher',
  },
  {
    id: 'p4js',
    label: (o) => `persistent, receipt per message, 4 producers (${o.p4Count}), stompjs`,
    unit: 'msg/s',
    better: 'higher',
  },
  {
    id: 'window',
    label: (o) => `persistent, windowed receipts (${o.window} in flight, ${o.windowCount})`,
    unit: 'msg/s',
    better: 'higher',
  },
  {
    id: 'nonPersistent',
    label: (o) => `non-persistent, 1 producer + 1 consumer (${o.nonPersistentCount})`,
    unit: 'msg/s',
    better: 'higher',
  },
  { id: 'drain', label: (o) => `drain of ${o.windowCount} persistent, auto ack`, unit: 'msg/s', better: 'higher' },
  {
    id: 'startMs',
    label: (o) => `start: spawn -> accepting STOMP (median of ${o.startSamples})`,
    unit: 'ms',
    better: 'lower',
  },
  { id: 'replicaReadyMs', label: () => 'start: spawn -> replica ready', unit: 'ms', better: 'lower' },
  { id: 'idleRssMb', label: () => 'idle RSS (primary)', unit: 'MB', better: 'lower' },
  { id: 'peakRssMb', label: () => 'peak RSS over the loads (primary)', unit: 'MB', better: 'lower' },
  { id: 'backlogRssMb', label: (o) => `peak RSS with ${o.backlog} persistent queued`, unit: 'MB', better: 'lower' },
]

const MB = 1024 * 1024

async function record(
  result: SuiteResult,
  id: RowId,
  log: (l: string) => void,
  what: string,
  run: () => Promise<RowValue>,
): Promise<void> {
  try {
    const v = await run()
    result[id] = v
    log(`  ${what}: ${v.value === null ? '-' : fmt(v.value)}${v.note ? ` (${v.note})` : ''}`)
  } catch (e) {
    result[id] = { value: null, error: (e as Error).message.split('\n')[0] }
    log(`  ${what}: FAILED ${(e as Error).message}`)
  }
}

interface Pair {
  kind: BrokerKind
  result: SuiteResult
  dir: string
  port: number
  primary: BrokerProcess | null
  procs: BrokerProcess[]
  sampler: RssSampler | null
}

/**
 * Start, loads and RSS rows for one or more broker kinds, each as a primary and a replica on its own fresh shared
 * directory. With several kinds every row runs against each kind in turn before the next row starts, so that
 * changes in the machine's background load during the run (a shared CI box) hit all kinds alike instead of
 * favouring whichever ran first. Pairs that are not being measured sit idle.
 */
export async function runLoadRows(kinds: BrokerKind[], o: SuiteOptions): Promise<SuiteResult[]> {
  const pairs: Pair[] = []
  try {
    for (const kind of kinds) {
      const dir = fs.mkdtempSync(path.join(o.workDir, 'shared-'))
      const pair: Pair = { kind, result: {}, dir, port: await freePort(), primary: null, procs: [], sampler: null }
      pairs.push(pair)
      o.log(`${kind.label}: primary + replica on ${dir}`)
      // Start samples: one start is one sample of cold files and fsyncs on a fresh directory, so time several
      // (each on its own fresh dir, then stopped) and keep the last one running as the measured pair's primary.
      const startTimes: number[] = []
      for (let i = 1; i < o.startSamples; i++) {
        const sampleDir = fs.mkdtempSync(path.join(o.workDir, 'start-'))
        const sample = await kind.start({
          dataDir: sampleDir,
          port: await freePort(),
          role: 'primary',
          timeoutMs: o.startTimeoutMs,
        })
        startTimes.push(sample.readyMs)
        await sample.proc.stop()
        fs.rmSync(sampleDir, { recursive: true, force: true })
      }
      const first = await kind.start({ dataDir: dir, port: pair.port, role: 'primary', timeoutMs: o.startTimeoutMs })
      pair.procs.push(first.proc)
      pair.primary = first.proc
      startTimes.push(first.readyMs)
      pair.result.startMs = medianRow(startTimes)
      o.log(
        `  start -> accepting STOMP: ${startTimes.map((t) => fmt(t)).join(', ')} ms (median ${fmt(pair.result.startMs.value!)})`,
      )
      const second = await kind.start({
        dataDir: dir,
        port: await freePort(),
        role: 'replica',
        timeoutMs: o.startTimeoutMs,
      })
      pair.procs.push(second.proc)
      pair.result.replicaReadyMs = { value: second.readyMs }
      o.log(`  start -> replica ready: ${fmt(second.readyMs)} ms`)
    }
    await sleep(2000)
    for (const pair of pairs) {
      const idle = rssOf(pair.primary!.pid)
      pair.result.idleRssMb = idle
        ? {
            value: idle.rssBytes / MB,
            note: `${fmt(idle.anonBytes / MB)} MB anonymous, the rest file-backed (executable, libraries)`,
          }
        : { value: null, error: 'process gone' }
      o.log(`${pair.kind.label}: idle RSS ${fmt(pair.result.idleRssMb.value ?? NaN)} MB`)
      pair.sampler = new RssSampler(pair.primary!.pid)
    }
    const timeoutMs = o.loadTimeoutMs
    // JIT warm-up, not measured: a deployed broker (a JVM above all) runs warm, and the first row must not pay for
    // compiling the send path. Receipted persistent SENDs, then windowed ones, then drained, per broker. ActiveMQ's
    // receipted send keeps getting faster for ~20,000 of them (p50 0.91 -> 0.33 ms on a quiet box), hence half.
    if (o.warmup > 0) {
      for (const pair of pairs) {
        const w = Math.max(1, Math.floor(o.warmup / 2))
        const dest = '/queue/bench.warmup'
        await mustLoad('warm-up', {
          timeoutMs,
          produce: { ...base(pair), destination: dest, producers: 1, count: w, persistent: true, receipts: 'every' },
        })
        await mustLoad('warm-up', {
          timeoutMs,
          produce: {
            ...base(pair),
            destination: dest,
            producers: 1,
            count: o.warmup - w + 1,
            persistent: true,
            receipts: 'window',
          },
        })
        await mustLoad('warm-up drain', {
          timeoutMs,
          consume: { port: pair.port, destination: dest, count: o.warmup + 1 },
        })
        o.log(`${pair.kind.label}: warmed up with ${o.warmup + 1} persistent messages (not measured)`)
      }
    }
    const floorBefore = measureSyncFloor(o.workDir)
    o.log(
      `disk sync floor (1 KiB O_DSYNC append on ${o.workDir}): p50 ${fmt(floorBefore.p50Ms)} ms, p99 ${fmt(floorBefore.p99Ms)} ms, ${fmt(floorBefore.syncsPerSec)} serial syncs/s`,
    )
    const gen: Generator = o.generator === 'stompjs' ? 'stompjs' : 'raw'
    /** A receipt-per-message row: msg/s, receipt p50/p99, and p50 over the sync floor measured just before it. */
    const receiptRow = async (
      pr: Pair,
      what: string,
      destination: string,
      producers: number,
      count: number,
      g: Generator,
    ): Promise<RowValue> => {
      const floor = measureSyncFloor(o.workDir, 500, 2000)
      const r = (
        await mustLoad(
          what,
          { timeoutMs, produce: { ...base(pr), destination, producers, count, persistent: true, receipts: 'every' } },
          g,
        )
      ).produce!
      const l = r.receiptMs!
      const perMsgMs = 1000 / r.msgsPerSec
      return {
        value: r.msgsPerSec,
        receiptMs: l,
        cell: `(p50 ${fmt(l.p50)} / p99 ${fmt(l.p99)} ms; p50 ${fmt(l.p50 / floor.p50Ms)}× floor)`,
        note: `receipt p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms; ${fmt(perMsgMs)} ms per message; sync floor just before: p50 ${fmt(floor.p50Ms)} ms (${fmt(floor.syncsPerSec)} serial syncs/s), so p50 is ${fmt(l.p50 / floor.p50Ms)}× and the time per message ${fmt(perMsgMs / floor.p50Ms)}× the floor`,
      }
    }
    const rows: { id: RowId; what: string; run: (pair: Pair) => Promise<RowValue> }[] = [
      {
        id: 'p1',
        what: 'persistent, receipt each, 1 producer',
        run: (pr) => receiptRow(pr, 'p1', '/queue/bench.p1', 1, o.p1Count, gen),
      },
      ...(o.generator === 'both'
        ? [
            {
              id: 'p1js' as const,
              what: 'persistent, receipt each, 1 producer, stompjs',
              run: (pr: Pair) => receiptRow(pr, 'p1js', '/queue/bench.p1js', 1, o.p1Count, 'stompjs'),
            },
          ]
        : []),
      {
        id: 'p4',
        what: 'persistent, receipt each, 4 producers',
        run: (pr) => receiptRow(pr, 'p4', '/queue/bench.p4', 4, o.p4Count, gen),
      },
      ...(o.generator === 'both'
        ? [
            {
              id: 'p4js' as const,
              what: 'persistent, receipt each, 4 producers, stompjs',
              run: (pr: Pair) => receiptRow(pr, 'p4js', '/queue/bench.p4js', 4, o.p4Count, 'stompjs'),
            },
          ]
        : []),
      {
        id: 'window',
        what: 'persistent, windowed receipts',
        run: async (pr) => ({
          value: (
            await mustLoad(
              'window',
              {
                timeoutMs,
                produce: {
                  ...base(pr),
                  destination: '/queue/bench.drain',
                  producers: 1,
                  count: o.windowCount,
                  persistent: true,
                  receipts: 'window',
                },
              },
              gen,
            )
          ).produce!.msgsPerSec,
        }),
      },
      {
        id: 'drain',
        what: `drain of ${o.windowCount} persistent`,
        run: async (pr) => {
          if (pr.result.window?.value == null)
            throw new BenchError('skipped: the window row, which fills the queue, failed')
          return {
            value: (
              await mustLoad(
                'drain',
                { timeoutMs, consume: { port: pr.port, destination: '/queue/bench.drain', count: o.windowCount } },
                gen,
              )
            ).consume!.msgsPerSec,
          }
        },
      },
      {
        id: 'nonPersistent',
        what: 'non-persistent, producer + consumer',
        run: async (pr) => {
          const r = await mustLoad(
            'nonPersistent',
            {
              timeoutMs,
              consume: { port: pr.port, destination: '/queue/bench.np', count: o.nonPersistentCount },
              produce: {
                ...base(pr),
                destination: '/queue/bench.np',
                producers: 1,
                count: o.nonPersistentCount,
                persistent: false,
                receipts: 'none',
              },
            },
            gen,
          )
          return { value: r.consume!.msgsPerSec, note: `producer ${fmt(r.produce!.msgsPerSec)} msg/s` }
        },
      },
    ]
    function base(pr: Pair) {
      return { port: pr.port, sizeBytes: o.sizeBytes, window: o.window }
    }
    // The drain follows the window row that fills its queue. The non-persistent row runs last, after the optional
    // backlog row, so that a broker failing it (the heaviest load on the broker's event loop) does not take the
    // persistent rows down with it. The peak-RSS sampler does not run during the backlog row (its own row).
    const npRow = rows.find((r) => r.id === 'nonPersistent')!
    for (const row of rows) {
      if (row === npRow) continue
      for (const pair of pairs)
        await record(pair.result, row.id, o.log, `${pair.kind.label}: ${row.what}`, () => row.run(pair))
    }
    const peakBefore = pairs.map((pair) => pair.sampler!.stop())
    if (o.backlog > 0) {
      for (const pair of pairs) {
        await record(
          pair.result,
          'backlogRssMb',
          o.log,
          `${pair.kind.label}: RSS with ${o.backlog} persistent queued`,
          async () => {
            const s = new RssSampler(pair.primary!.pid, 250)
            try {
              // Filled without per-message receipts (one on the last message confirms the broker took them all): the
              // row is about memory with a deep queue, and ActiveMQ's one-sync-per-receipted-send would take 10+ min.
              const r = await mustLoad('backlog', {
                timeoutMs: Math.max(timeoutMs, o.backlog),
                produce: {
                  ...base(pair),
                  destination: '/queue/bench.backlog',
                  producers: 1,
                  count: o.backlog,
                  persistent: true,
                  receipts: 'none',
                },
              })
              await sleep(2000)
              const now = rssOf(pair.primary!.pid)
              return {
                value: s.stop() / MB,
                note: `${fmt(r.produce!.msgsPerSec)} msg/s while filling, ${now ? fmt(now.rssBytes / MB) : '?'} MB after`,
              }
            } finally {
              // A failed load must not leave the sampling interval holding the process open.
              s.stop()
            }
          },
        )
      }
    }
    // VmHWM would now report the backlog row's peak: sample only.
    for (const pair of pairs) pair.sampler = new RssSampler(pair.primary!.pid, 100, o.backlog === 0)
    for (const pair of pairs)
      await record(pair.result, npRow.id, o.log, `${pair.kind.label}: ${npRow.what}`, () => npRow.run(pair))
    pairs.forEach((pair, i) => {
      pair.result.peakRssMb = { value: Math.max(peakBefore[i]!, pair.sampler!.stop()) / MB }
      o.log(`${pair.kind.label}: peak RSS ${fmt(pair.result.peakRssMb.value!)} MB`)
    })
    const floorAfter = measureSyncFloor(o.workDir)
    o.log(
      `disk sync floor after the loads: p50 ${fmt(floorAfter.p50Ms)} ms, p99 ${fmt(floorAfter.p99Ms)} ms, ${fmt(floorAfter.syncsPerSec)} serial syncs/s`,
    )
    // A property of the machine, not of a broker: shown in the first column only.
    if (pairs[0]) pairs[0].result.syncFloor = syncFloorRow(floorBefore, floorAfter)
  } finally {
    for (const pair of pairs) {
      pair.sampler?.stop()
      for (const p of pair.procs.reverse()) await p.stop()
      fs.rmSync(pair.dir, { recursive: true, force: true })
    }
  }
  return pairs.map((p) => p.result)
}

/** kill -9 the primary `takeovers` times; time until the replica answers STOMP; restart the victim as the replica. */
export async function runTakeovers(kind: BrokerKind, o: SuiteOptions): Promise<RowValue> {
  const dir = fs.mkdtempSync(path.join(o.workDir, 'takeover-'))
  const procs: BrokerProcess[] = []
  o.log(`${kind.label}: ${o.takeovers} takeovers on ${dir}`)
  const times: number[] = []
  try {
    const ports = [await freePort(), await freePort()]
    let primary = (await kind.start({ dataDir: dir, port: ports[0]!, role: 'primary', timeoutMs: o.startTimeoutMs }))
      .proc
    let replica = (await kind.start({ dataDir: dir, port: ports[1]!, role: 'replica', timeoutMs: o.startTimeoutMs }))
      .proc
    procs.push(primary, replica)
    for (let i = 0; i < o.takeovers; i++) {
      // Let the replica settle into its lock wait, as it would in production; then kill at a random moment of its
      // lock-retry cycle. A fixed delay would always hit the same phase of a polling replica (ActiveMQ retries every
      // lockAcquireSleepInterval) and report its worst or best case instead of a typical one.
      await sleep(1000 + Math.random() * kind.lockPollMs)
      const t0 = performance.now()
      const killed = primary.kill9()
      await kind.serving(replica, o.startTimeoutMs)
      const ms = performance.now() - t0
      await killed
      times.push(ms)
      o.log(`  kill ${i + 1}: takeover ${fmt(ms)} ms`)
      const victimPort = primary.port
      primary = replica
      replica = (await kind.start({ dataDir: dir, port: victimPort, role: 'replica', timeoutMs: o.startTimeoutMs }))
        .proc
      procs.push(replica)
    }
  } finally {
    for (const p of procs.reverse()) await p.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return medianRow(times)
}

/**
 * Takeover with a full store: a fresh pair, `takeoverBacklog` persistent messages queued (sent without per-message
 * receipts, the last one receipted, as the backlog row does: ActiveMQ's one sync per receipted send would take many
 * minutes), then `backlogTakeovers` kill -9s of the primary, each timed until the replica has answered a receipted
 * persistent SEND (it recovered the store and serves), with the time to CONNECTED in the note. The queue keeps its
 * backlog through every takeover (nothing consumes it); the victim is restarted as the replica each time.
 */
export async function runBacklogTakeovers(kind: BrokerKind, o: SuiteOptions): Promise<RowValue> {
  const dir = fs.mkdtempSync(path.join(o.workDir, 'takeover-backlog-'))
  const procs: BrokerProcess[] = []
  o.log(`${kind.label}: ${o.backlogTakeovers} takeovers with ${o.takeoverBacklog} persistent queued, on ${dir}`)
  const sendTimes: number[] = []
  const connectTimes: number[] = []
  let fillNote = ''
  try {
    const ports = [await freePort(), await freePort()]
    let primary = (await kind.start({ dataDir: dir, port: ports[0]!, role: 'primary', timeoutMs: o.startTimeoutMs }))
      .proc
    procs.push(primary)
    const fill = await mustLoad('takeover backlog fill', {
      timeoutMs: Math.max(o.loadTimeoutMs, o.takeoverBacklog),
      produce: {
        port: primary.port,
        destination: '/queue/bench.takeover-backlog',
        producers: 1,
        count: o.takeoverBacklog,
        persistent: true,
        receipts: 'none',
        sizeBytes: o.sizeBytes,
        window: o.window,
      },
    })
    fillNote = `filled at ${fmt(fill.produce!.msgsPerSec)} msg/s`
    o.log(`  ${o.takeoverBacklog} persistent queued (${fillNote})`)
    let replica = (await kind.start({ dataDir: dir, port: ports[1]!, role: 'replica', timeoutMs: o.startTimeoutMs }))
      .proc
    procs.push(replica)
    for (let i = 0; i < o.backlogTakeovers; i++) {
      // As in runTakeovers: kill at a random moment of a polling replica's lock-retry cycle.
      await sleep(1000 + Math.random() * kind.lockPollMs)
      const t0 = performance.now()
      const killed = primary.kill9()
      let connectedAt: number | null = null
      const target = replica
      await waitUntil(
        `${kind.label} on port ${target.port} answering a receipted persistent SEND after the takeover`,
        async () => {
          const p0 = performance.now()
          const r = await stompReceiptedSend(target.port, '/queue/bench.takeover-probe', 2000)
          if (r.connectedMs !== null && connectedAt === null) connectedAt = p0 + r.connectedMs
          return r.receiptMs !== null
        },
        Math.max(o.startTimeoutMs, 120_000),
        1,
        () => target.alive(),
      )
      const ms = performance.now() - t0
      await killed
      sendTimes.push(ms)
      const cMs = connectedAt === null ? ms : (connectedAt as number) - t0
      connectTimes.push(cMs)
      o.log(`  kill ${i + 1}: CONNECTED after ${fmt(cMs)} ms, receipted SEND after ${fmt(ms)} ms`)
      const victimPort = primary.port
      primary = replica
      replica = (await kind.start({ dataDir: dir, port: victimPort, role: 'replica', timeoutMs: o.startTimeoutMs }))
        .proc
      procs.push(replica)
    }
  } finally {
    for (const p of procs.reverse()) await p.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  const row = medianRow(sendTimes)
  const c = medianRow(connectTimes)
  return { value: row.value, note: `${row.note}; CONNECTED median ${fmt(c.value!)} ms; ${fillNote}` }
}

function syncFloorRow(before: SyncFloor, after: SyncFloor): RowValue {
  return {
    value: before.p50Ms,
    cell: `/ ${fmt(after.p50Ms)} (${fmt(before.syncsPerSec)} / ${fmt(after.syncsPerSec)} serial syncs/s)`,
    note: `before: p50 ${fmt(before.p50Ms)} ms, p99 ${fmt(before.p99Ms)} ms, ${fmt(before.syncsPerSec)} syncs/s; after: p50 ${fmt(after.p50Ms)} ms, p99 ${fmt(after.p99Ms)} ms, ${fmt(after.syncsPerSec)} syncs/s`,
  }
}

/** Median of timed samples, with min / p99 / max as the note. */
function medianRow(times: number[]): RowValue {
  const s = [...times].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
  return { value: q(0.5), note: `min ${fmt(s[0]!)}, p99 ${fmt(q(0.99))}, max ${fmt(s.at(-1)!)} ms` }
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-'
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US')
  if (Math.abs(v) >= 10) return v.toFixed(1)
  return v.toFixed(2)
}

/** The work directory for one script run (removed by the caller). */
export function makeWorkDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

export interface Column {
  label: string
  result: SuiteResult
}

/**
 * A Markdown table: one row per RowSpec with a value in any column; with two or more columns, a ratio column per
 * extra column saying how many times better the first column is (>1 = first is better, whichever the direction).
 */
export function formatTable(
  o: SuiteOptions,
  columns: Column[],
  extraRows: { label: string; unit: string; better: 'higher' | 'lower'; values: (RowValue | undefined)[] }[] = [],
): string {
  const head = ['row', 'unit', ...columns.map((c) => c.label)]
  const ratioCols = columns.slice(1).map((c) => `${columns[0]!.label} vs ${c.label}`)
  head.push(...ratioCols)
  const lines: string[][] = []
  const cell = (v: RowValue | undefined) =>
    v === undefined
      ? ''
      : v.value === null
        ? `failed: ${v.error ?? '?'}`
        : v.cell
          ? `${fmt(v.value)} ${v.cell}`
          : fmt(v.value)
  const ratio = (a: RowValue | undefined, b: RowValue | undefined, better: 'higher' | 'lower') => {
    if (!a || !b || a.value === null || b.value === null || a.value <= 0 || b.value <= 0) return ''
    return `${fmt(better === 'higher' ? a.value / b.value : b.value / a.value)}×`
  }
  const all = [
    ...ROWS.map((r) => ({
      label: r.label(o),
      unit: r.unit,
      better: r.better,
      values: columns.map((c) => c.result[r.id]),
    })),
    ...extraRows,
  ]
  for (const r of all) {
    if (r.values.every((v) => v === undefined)) continue
    lines.push([
      r.label,
      r.unit,
      ...r.values.map(cell),
      ...r.values.slice(1).map((v) => ratio(r.values[0], v, r.better)),
    ])
  }
  const out = [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...lines.map((l) => `| ${l.join(' | ')} |`),
  ]
  return out.join('\n')
}
