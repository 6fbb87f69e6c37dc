/**
 * The load generator process: runs one job (produce, consume, or both at once) against one STOMP port over raw
 * sockets and prints one JSON line with the result. It runs in its own process so that on a 2-core machine the
 * broker gets one core and the load generator the other; loads.ts spawns it.
 *
 *   bun scripts/bench-lib/load-worker.ts '<LoadJob as JSON>'
 *
 * Every wait is bounded by the job's timeoutMs: past it the job stops and reports `complete: false` with what it
 * counted so far. An ERROR frame from the broker fails the job (the result carries its message).
 */
import net from 'node:net'
import tls from 'node:tls'
import { encodeFrame, FrameScanner, SendEncoder, type ScannedFrame } from './stomp-wire.ts'
import { JobFailed, JobGate, runLoadJob, workerMain } from './worker-main.ts'

export interface ProduceJob {
  port: number
  destination: string
  /** Producer connections; the count is split between them. */
  producers: number
  /** Messages in total. */
  count: number
  sizeBytes: number
  persistent: boolean
  /** every: wait for each RECEIPT before the next SEND; window: up to `window` receipted SENDs in flight;
   *  none: SENDs without receipts (socket backpressure respected), the last one receipted to know the broker took all. */
  receipts: 'every' | 'window' | 'none'
  window: number
  /** Connect over TLS (stomp+ssl; the broker's certificate is not verified: a benchmark, 127.0.0.1 only). */
  tls?: boolean
}

export interface ConsumeJob {
  port: number
  destination: string
  /** MESSAGE frames to wait for. */
  count: number
  /** activemq.prefetchSize header, when set (else each broker's default). */
  prefetch?: number
  /** Connect over TLS, as ProduceJob.tls. */
  tls?: boolean
}

export interface LoadJob {
  produce?: ProduceJob
  consume?: ConsumeJob
  timeoutMs: number
}

export interface SideResult {
  messages: number
  seconds: number
  msgsPerSec: number
  /** Receipt latency (SEND written -> its RECEIPT read), ms, when every SEND was receipted one at a time. */
  receiptMs?: { p50: number; p99: number; max: number }
}

/** p50/p99/max of latency samples (ms), or undefined without samples. */
export function latencySummary(samples: number[]): SideResult['receiptMs'] {
  if (samples.length === 0) return undefined
  const s = Float64Array.from(samples).sort()
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
  return { p50: q(0.5), p99: q(0.99), max: s[s.length - 1]! }
}

export interface LoadResult {
  produce?: SideResult
  consume?: SideResult
  complete: boolean
  error?: string
}

const now = (): number => performance.now()

/** One connected STOMP session: CONNECT sent, CONNECTED awaited; frames after that go to `onFrame`. */
async function openSession(
  port: number,
  onFrame: (f: ScannedFrame) => void,
  deadline: number,
  useTls = false,
): Promise<net.Socket> {
  const socket = useTls
    ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }).setNoDelay(true)
    : net.connect({ host: '127.0.0.1', port, noDelay: true })
  const scanner = new FrameScanner()
  let connected = false
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no CONNECTED from 127.0.0.1:${port} in time`)),
      Math.max(1, deadline - now()),
    )
    socket.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    // A broker that accepts and then closes (stepping down, connection limit) must fail the job now, not at its
    // deadline. After CONNECTED the callers watch 'close' themselves.
    socket.once('close', () => {
      clearTimeout(timer)
      if (!connected) reject(new Error(`127.0.0.1:${port} closed the connection before CONNECTED`))
    })
    socket.once(useTls ? 'secureConnect' : 'connect', () =>
      socket.write(encodeFrame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' })),
    )
    socket.on('data', (chunk: Buffer) => {
      try {
        scanner.push(chunk, (f) => {
          if (!connected) {
            clearTimeout(timer)
            if (f.command !== 'CONNECTED')
              return reject(new Error(`CONNECT answered with ${f.command}: ${f.message ?? ''}`))
            connected = true
            resolve()
            return
          }
          onFrame(f)
        })
      } catch (e) {
        socket.destroy(e as Error)
      }
    })
  })
  return socket
}

function failOnError(f: ScannedFrame): void {
  if (f.command === 'ERROR') throw new JobFailed(`broker sent ERROR: ${f.message ?? '(no message header)'}`)
}

/** Writes, waiting for 'drain' when the socket's buffer is full. */
function write(socket: net.Socket, frame: Buffer): Promise<void> | undefined {
  if (socket.write(frame)) return undefined
  return new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      socket.off('close', onClose)
      resolve()
    }
    const onClose = () => {
      socket.off('drain', onDrain)
      reject(new JobFailed('connection closed by the broker'))
    }
    socket.once('drain', onDrain)
    socket.once('close', onClose)
  })
}

async function runProducer(
  job: ProduceJob,
  share: number,
  deadline: number,
  started: Promise<void>,
  latencies: number[],
): Promise<number> {
  const body = Buffer.alloc(job.sizeBytes, 0x61)
  const enc = new SendEncoder(job.destination, job.persistent, body)
  let receipts = 0
  const gate = new JobGate(deadline)
  const socket = await openSession(
    job.port,
    (f) => {
      try {
        failOnError(f)
        if (f.command === 'RECEIPT') receipts++
        gate.wake()
      } catch (e) {
        gate.fail(e as Error)
      }
    },
    deadline,
    job.tls,
  )
  socket.on('close', () => gate.fail(new JobFailed('connection closed by the broker')))
  const waitFor = (cond: () => boolean): Promise<void> => gate.waitFor(cond)
  await started
  let sent = 0
  try {
    if (job.receipts === 'every') {
      while (sent < share) {
        const t0 = now()
        socket.write(enc.frame(String(sent)))
        sent++
        await waitFor(() => receipts >= sent)
        latencies.push(now() - t0)
      }
    } else if (job.receipts === 'window') {
      while (sent < share) {
        socket.cork()
        while (sent < share && sent - receipts < job.window) socket.write(enc.frame(String(sent++)))
        socket.uncork()
        await waitFor(() => sent - receipts < job.window || (sent === share && receipts >= share))
      }
      await waitFor(() => receipts >= share)
    } else {
      while (sent < share) {
        const last = sent === share - 1
        const p = write(socket, enc.frame(last ? 'last' : undefined))
        sent++
        if (p) await p
        if (gate.failure) throw gate.failure
        if (now() > deadline) throw new JobFailed('timeout')
      }
      await waitFor(() => receipts >= 1)
    }
  } finally {
    socket.destroy()
  }
  return share
}

async function runProduce(job: ProduceJob, deadline: number): Promise<SideResult> {
  let go: () => void = () => undefined
  const started = new Promise<void>((r) => (go = r))
  const shares = Array.from(
    { length: job.producers },
    (_, i) => Math.floor(job.count / job.producers) + (i < job.count % job.producers ? 1 : 0),
  )
  const latencies: number[] = []
  const running = shares.map((share) => runProducer(job, share, deadline, started, latencies))
  // All producers connect first; the clock starts when every one of them may send.
  await new Promise((r) => setTimeout(r, 50))
  const t0 = now()
  go()
  const done = await Promise.all(running)
  const seconds = (now() - t0) / 1000
  const messages = done.reduce((a, b) => a + b, 0)
  const receiptMs = latencySummary(latencies)
  return { messages, seconds, msgsPerSec: messages / seconds, ...(receiptMs ? { receiptMs } : {}) }
}

async function runConsume(job: ConsumeJob, deadline: number, subscribed: () => void): Promise<SideResult> {
  let got = 0
  let failure: Error | null = null
  let finish: () => void = () => undefined
  const finished = new Promise<void>((r) => (finish = r))
  const socket = await openSession(
    job.port,
    (f) => {
      try {
        failOnError(f)
      } catch (e) {
        failure = e as Error
        finish()
      }
      if (f.command === 'MESSAGE' && ++got >= job.count) finish()
    },
    deadline,
    job.tls,
  )
  socket.on('close', () => {
    failure ??= new JobFailed('connection closed by the broker')
    finish()
  })
  const headers: Record<string, string | number> = { id: 'bench', destination: job.destination, ack: 'auto' }
  if (job.prefetch !== undefined) headers['activemq.prefetchSize'] = job.prefetch
  const t0 = now()
  socket.write(encodeFrame('SUBSCRIBE', headers))
  subscribed()
  const timer = setTimeout(finish, Math.max(1, deadline - now()))
  await finished
  clearTimeout(timer)
  const seconds = (now() - t0) / 1000
  socket.destroy()
  if (failure) throw failure
  if (got < job.count) throw new JobFailed(`timeout after ${got} of ${job.count} messages`)
  return { messages: got, seconds, msgsPerSec: got / seconds }
}

export function runJob(job: LoadJob): Promise<LoadResult> {
  return runLoadJob(job, { produce: runProduce, consume: runConsume })
}

if (import.meta.main) await workerMain('scripts/bench-lib/load-worker.ts', { produce: runProduce, consume: runConsume })
