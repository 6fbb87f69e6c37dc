/**
 * The load generator behind `sfbroker bench`, usable from scripts: P producer connections and C consumer connections
 * on one destination, each producer sending its share of `count` messages of `sizeBytes`, either waiting for every
 * RECEIPT before the next send (`receipts: 'every'`) or keeping up to `window` sends in flight (`'window'`).
 * Measures producer throughput and receipt latency (send -> RECEIPT), consumer throughput and end-to-end latency
 * (send -> MESSAGE, from a `bench-sent-at` header; producers and consumers share this process's clock). Plain STOMP,
 * so it runs against ActiveMQ as well as sfbroker. Consumers use STOMP auto ack (a message counts as consumed once
 * dispatched) and stop at the expected count, so messages already queued on the destination are consumed and
 * counted: give a bench a destination of its own. A queue expects `count` deliveries in total,
 * a topic `count` per consumer; the run ends when they arrived or when nothing arrived for `idleTimeoutMs`.
 */
import { BrokerError } from '../../lib/errors.ts'
import { connect, isQueue, normalizeDestination, type ConnectOptions, type StompClient } from '../../client/index.ts'
import { LatencyRecorder, type LatencySummary } from './latency.ts'

export interface BenchOptions {
  url: string
  connect?: ConnectOptions
  destination: string
  producers: number
  consumers: number
  /** Messages in total across producers. */
  count: number
  sizeBytes: number
  persistent: boolean
  receipts: 'every' | 'window'
  /** Sends in flight per producer with receipts=window. */
  window: number
  /** Give up when consumers saw nothing new for this long. */
  idleTimeoutMs: number
  onProgress?: (produced: number, consumed: number) => void
}

/** The run's parameters as given, echoed in the result (the connect options and callback are not). */
export interface BenchResult
  extends Pick<
    BenchOptions,
    'url' | 'destination' | 'producers' | 'consumers' | 'count' | 'sizeBytes' | 'persistent' | 'receipts' | 'window'
  > {
  produced: { messages: number; seconds: number; msgsPerSec: number; receiptLatency: LatencySummary }
  consumed: {
    expected: number
    messages: number
    seconds: number
    msgsPerSec: number
    endToEndLatency: LatencySummary
    redelivered: number
    duplicates: number
  }
  reconnects: number
  complete: boolean
}

function now(): number {
  return performance.timeOrigin + performance.now()
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new BrokerError('CLIENT_USAGE', msg)
}

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  check(Number.isInteger(o.producers) && o.producers >= 1, `bench producers=${o.producers}; expected an integer >= 1`)
  check(Number.isInteger(o.consumers) && o.consumers >= 0, `bench consumers=${o.consumers}; expected an integer >= 0`)
  check(Number.isInteger(o.count) && o.count >= 1, `bench count=${o.count}; expected an integer >= 1`)
  check(Number.isInteger(o.window) && o.window >= 1, `bench window=${o.window}; expected an integer >= 1`)
  const destination = normalizeDestination(o.destination)
  const queue = isQueue(destination)
  const expected = o.consumers === 0 ? 0 : queue ? o.count : o.count * o.consumers
  const clients: StompClient[] = []
  const sendLatency = new LatencyRecorder()
  const e2eLatency = new LatencyRecorder()
  let produced = 0
  let consumed = 0
  let redelivered = 0
  let duplicates = 0
  const seen = new Set<string>()
  let lastConsumeAt = now()
  let firstConsumeAt = 0
  let lastDeliveryAt = 0
  let allConsumed: () => void = () => undefined
  const consumedAll = new Promise<void>((r) => (allConsumed = r))
  try {
    for (let i = 0; i < o.consumers; i++) {
      const c = await connect(o.url, o.connect)
      clients.push(c)
      const sub = c.subscribe(destination, (m) => {
        const t = now()
        if (firstConsumeAt === 0) firstConsumeAt = t
        lastConsumeAt = lastDeliveryAt = t
        const sentAt = Number(m.headers['bench-sent-at'])
        if (Number.isFinite(sentAt)) e2eLatency.record(t - sentAt)
        if (m.redelivered) redelivered++
        // A queue delivers each message once in total, a topic once per consumer.
        const benchId = m.headers['bench-id'] ?? m.messageId
        const id = queue ? benchId : `${i}:${benchId}`
        if (seen.has(id)) duplicates++
        else seen.add(id)
        consumed++
        o.onProgress?.(produced, consumed)
        if (consumed - duplicates >= expected) allConsumed()
      })
      await sub.ready
    }
    const producers: StompClient[] = []
    for (let i = 0; i < o.producers; i++) {
      const c = await connect(o.url, o.connect)
      clients.push(c)
      producers.push(c)
    }
    const body = new Uint8Array(o.sizeBytes).fill(0x78)
    const window = o.receipts === 'every' ? 1 : o.window
    const started = now()
    lastConsumeAt = started
    await Promise.all(
      producers.map(async (c, pi) => {
        const share = Math.floor(o.count / o.producers) + (pi < o.count % o.producers ? 1 : 0)
        let inFlight = 0
        let failure: unknown
        let wake: () => void = () => undefined
        for (let n = 0; n < share && failure === undefined; n++) {
          while (inFlight >= window) await new Promise<void>((r) => (wake = r))
          if (failure !== undefined) break
          inFlight++
          const t0 = now()
          const headers: Record<string, string> = { 'bench-sent-at': String(t0), 'bench-id': `${pi}-${n}` }
          if (o.persistent) headers.persistent = 'true'
          c.send(destination, body, headers).then(
            () => {
              sendLatency.record(now() - t0)
              produced++
              o.onProgress?.(produced, consumed)
              inFlight--
              wake()
            },
            (e) => {
              failure = e
              inFlight--
              wake()
            },
          )
        }
        while (inFlight > 0) await new Promise<void>((r) => (wake = r))
        if (failure !== undefined) throw failure
      }),
    )
    const producedAt = now()
    if (expected > 0) {
      // Wait for consumers, bounded by idleness rather than total time: a slow but moving run is not cut short.
      for (;;) {
        const idle = new Promise<'idle'>((r) => setTimeout(() => r('idle'), Math.min(o.idleTimeoutMs, 1000)))
        const r = await Promise.race([consumedAll.then(() => 'done' as const), idle])
        if (r === 'done') break
        if (now() - lastConsumeAt >= o.idleTimeoutMs) break
      }
    }
    const pSecs = (producedAt - started) / 1000
    const cEnd = lastDeliveryAt || now()
    const cSecs = Math.max(0.000001, (cEnd - started) / 1000)
    return {
      url: o.url,
      destination,
      producers: o.producers,
      consumers: o.consumers,
      count: o.count,
      sizeBytes: o.sizeBytes,
      persistent: o.persistent,
      receipts: o.receipts,
      window,
      produced: {
        messages: produced,
        seconds: round(pSecs),
        msgsPerSec: Math.round(produced / Math.max(pSecs, 0.000001)),
        receiptLatency: sendLatency.summary(),
      },
      consumed: {
        expected,
        messages: consumed,
        seconds: round(cSecs),
        msgsPerSec: expected === 0 ? 0 : Math.round(consumed / cSecs),
        endToEndLatency: e2eLatency.summary(),
        redelivered,
        duplicates,
      },
      reconnects: clients.reduce((n, c) => n + c.stats.reconnects, 0),
      complete: produced === o.count && consumed - duplicates >= expected,
    }
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}

/** The human-readable report printed by `sfbroker bench` without --json. */
export function formatBench(r: BenchResult): string {
  const l = (s: LatencySummary) =>
    `p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms, max ${s.maxMs.toFixed(2)} ms`
  const lines = [
    `bench ${r.url} ${r.destination}: ${r.count} msgs x ${r.sizeBytes} B, ${r.producers} producer(s), ${r.consumers} consumer(s), ${r.persistent ? 'persistent' : 'non-persistent'}, receipts=${r.receipts}${r.receipts === 'window' ? `(${r.window})` : ''}`,
    `produced ${r.produced.messages} in ${r.produced.seconds.toFixed(2)} s: ${r.produced.msgsPerSec} msg/s; receipt latency ${l(r.produced.receiptLatency)}`,
  ]
  if (r.consumers > 0) {
    lines.push(
      `consumed ${r.consumed.messages}/${r.consumed.expected} in ${r.consumed.seconds.toFixed(2)} s: ${r.consumed.msgsPerSec} msg/s; end-to-end latency ${l(r.consumed.endToEndLatency)}` +
        (r.consumed.redelivered || r.consumed.duplicates
          ? `; ${r.consumed.redelivered} redelivered, ${r.consumed.duplicates} duplicate(s)`
          : ''),
    )
  }
  if (r.reconnects > 0) lines.push(`reconnects: ${r.reconnects}`)
  if (!r.complete) lines.push('INCOMPLETE: not every message was produced and consumed (see counts above)')
  return lines.join('\n')
}
