/**
 * The neutral load generator: the same LoadJob as load-worker.ts, driven through @stomp/stompjs (the npm STOMP
 * client, written by neither broker's authors) over plain TCP, in its own process. It exists to check the project's
 * raw-socket generator: a row both generators measure alike is a property of the broker, not of our client.
 *
 *   bun scripts/bench-lib/stompjs-worker.ts '<LoadJob as JSON>'
 *
 * What it does per SEND is what an application using stompjs does: `client.publish()` with a Uint8Array body
 * (stompjs adds content-length), `persistent:true|false`, and a `receipt` header watched with `watchForReceipt`.
 * Receipt modes as load-worker.ts: every (await each RECEIPT), window, none (only the last SEND receipted; stompjs
 * has no socket back-pressure, so the generator yields to the event loop every 64 SENDs and waits for the socket
 * to drain). Every wait is bounded by timeoutMs; an ERROR frame fails the job. Prints one JSON line (LoadResult).
 */
import net from 'node:net'
import { Client, type IFrame } from '@stomp/stompjs'
import {
  latencySummary,
  type ConsumeJob,
  type LoadJob,
  type LoadResult,
  type ProduceJob,
  type SideResult,
} from './load-worker.ts'
import { JobFailed, JobGate, runLoadJob, workerMain } from './worker-main.ts'
import { tcpStompTransport } from '../../src/protocol/stomp/testing/stompjs-tcp.ts'

const now = (): number => performance.now()

interface Session {
  client: Client
  socket: net.Socket
  /** Set when the broker sent ERROR or closed; every wait checks it. */
  failure: () => Error | null
  /** Resolves when the condition holds, rejects on failure or deadline. */
  waitFor: (cond: () => boolean) => Promise<void>
  /** Wakes waitFor (call after any event that may change a condition). */
  poke: () => void
}

async function connect(port: number, deadline: number): Promise<Session> {
  let socket!: net.Socket
  const gate = new JobGate(deadline)
  const client = new Client({
    webSocketFactory: () => {
      const t = tcpStompTransport('127.0.0.1', port)
      socket = t.socket
      return t.ws
    },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    connectHeaders: { host: 'localhost' },
    debug: () => undefined,
  })
  let connected = false
  client.onStompError = (f: IFrame) =>
    gate.fail(new JobFailed(`broker sent ERROR: ${f.headers.message ?? '(no message header)'}`))
  client.onWebSocketClose = () =>
    gate.fail(
      new JobFailed(
        connected ? 'connection closed by the broker' : `127.0.0.1:${port} closed the connection before CONNECTED`,
      ),
    )
  client.onConnect = () => {
    connected = true
    gate.wake()
  }
  client.activate()
  await gate.waitFor(() => connected)
  return { client, socket, failure: () => gate.failure, waitFor: (cond) => gate.waitFor(cond), poke: () => gate.wake() }
}

async function runProducer(
  job: ProduceJob,
  share: number,
  deadline: number,
  started: Promise<void>,
  latencies: number[],
  tag: string,
): Promise<number> {
  const s = await connect(job.port, deadline)
  const body = new Uint8Array(job.sizeBytes).fill(0x61)
  const persistent = String(job.persistent)
  let receipts = 0
  const publish = (receipt: string | null) => {
    const headers: Record<string, string> = { persistent }
    if (receipt !== null) {
      headers.receipt = receipt
      s.client.watchForReceipt(receipt, () => {
        receipts++
        s.poke()
      })
    }
    s.client.publish({ destination: job.destination, headers, binaryBody: body })
  }
  await started
  let sent = 0
  try {
    if (job.receipts === 'every') {
      while (sent < share) {
        const t0 = now()
        publish(`${tag}-${sent}`)
        sent++
        await s.waitFor(() => receipts >= sent)
        latencies.push(now() - t0)
      }
    } else if (job.receipts === 'window') {
      while (sent < share) {
        while (sent < share && sent - receipts < job.window) publish(`${tag}-${sent++}`)
        await s.waitFor(() => sent - receipts < job.window || (sent === share && receipts >= share))
      }
      await s.waitFor(() => receipts >= share)
    } else {
      while (sent < share) {
        publish(sent === share - 1 ? `${tag}-last` : null)
        sent++
        if (sent % 64 === 0 && s.socket.writableNeedDrain) {
          let drained = false
          s.socket.once('drain', () => {
            drained = true
            s.poke()
          })
          await s.waitFor(() => drained)
        }
        if (s.failure()) throw s.failure()
        if (now() > deadline) throw new JobFailed('timeout')
      }
      await s.waitFor(() => receipts >= 1)
    }
  } finally {
    s.socket.destroy()
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
  const running = shares.map((share, i) => runProducer(job, share, deadline, started, latencies, `p${i}`))
  // As load-worker.ts: all producers connect first; the clock starts when every one of them may send.
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
  const s = await connect(job.port, deadline)
  let got = 0
  const headers: Record<string, string> = { ack: 'auto' }
  if (job.prefetch !== undefined) headers['activemq.prefetchSize'] = String(job.prefetch)
  const t0 = now()
  s.client.subscribe(
    job.destination,
    () => {
      if (++got >= job.count) s.poke()
    },
    headers,
  )
  subscribed()
  try {
    await s.waitFor(() => got >= job.count)
  } catch (e) {
    if ((e as Error).message === 'timeout') throw new JobFailed(`timeout after ${got} of ${job.count} messages`)
    throw e
  } finally {
    s.socket.destroy()
  }
  const seconds = (now() - t0) / 1000
  return { messages: got, seconds, msgsPerSec: got / seconds }
}

export function runJob(job: LoadJob): Promise<LoadResult> {
  return runLoadJob(job, { produce: runProduce, consume: runConsume })
}

if (import.meta.main)
  await workerMain('scripts/bench-lib/stompjs-worker.ts', { produce: runProduce, consume: runConsume })
