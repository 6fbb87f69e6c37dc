/**
 * Goal: the admin endpoint behaves as a readiness probe and a Prometheus target should. /health answers 200 on
 * the serving primary and 503 (with the role) on the replica, and the two flip after kill -9 of the primary;
 * /metrics parses as Prometheus text (with a real parser, not substring checks) and its counters move with
 * traffic; /status carries the shared directory's view plus the node's own.
 * Method: two real `sfbroker run` processes (from source) on one temp dir, each with `--admin`, raw STOMP.
 */
import { test, expect, afterAll } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
// @ts-expect-error the package ships no type declarations
import parsePrometheus from 'parse-prometheus-text-format'
import { freePorts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'

const MAIN = path.join(import.meta.dir, '..', 'src', 'main.ts')
const scratch = makeTempDir('sfb-admin-')
const dir = scratch.path
const procs: ChildProcess[] = []
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  await Bun.sleep(100)
  scratch.remove()
})

function run(stompPort: number, adminPort: number): ChildProcess {
  const p = spawn(
    process.execPath,
    [
      MAIN,
      'run',
      '--data',
      dir,
      '--connector',
      `stomp://127.0.0.1:${stompPort}`,
      '--admin',
      `127.0.0.1:${adminPort}`,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  p.stderr!.resume()
  procs.push(p)
  return p
}

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${p}`)
    return { status: r.status, body: await r.text() }
  } catch {
    return { status: 0, body: '' }
  }
}

/** Send `n` persistent messages with receipts, then consume them with auto ack, over one raw STOMP 1.2 connection. */
function traffic(port: number, dest: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    let receipts = 0
    let messages = 0
    const t = setTimeout(() => {
      s.destroy()
      reject(new Error(`traffic: ${receipts} receipts, ${messages} messages after 20 s`))
    }, 20_000)
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0'))
    s.on('data', (d) => {
      buf += d.toString('utf8')
      let i: number
      while ((i = buf.indexOf('\0')) >= 0) {
        const frame = buf.slice(0, i).replace(/^\n+/, '')
        buf = buf.slice(i + 1)
        if (frame.startsWith('CONNECTED')) {
          for (let k = 0; k < n; k++)
            s.write(`SEND\ndestination:${dest}\npersistent:true\nreceipt:r${k}\n\nbody ${k}\0`)
        } else if (frame.startsWith('RECEIPT')) {
          if (++receipts === n) s.write(`SUBSCRIBE\nid:s1\ndestination:${dest}\nack:auto\n\n\0`)
        } else if (frame.startsWith('MESSAGE')) {
          if (++messages === n) {
            clearTimeout(t)
            s.end('DISCONNECT\n\n\0')
            resolve()
          }
        } else if (frame.startsWith('ERROR')) {
          clearTimeout(t)
          reject(new Error(frame))
        }
      }
    })
    s.once('error', reject)
  })
}

type Family = {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }[]
}
function metric(fams: Family[], name: string, labels: Record<string, string> = {}): number {
  const f = fams.find((x) => x.name === name)
  if (!f) throw new Error(`no metric family ${name}`)
  const m = f.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
  if (!m) throw new Error(`no ${name} sample with ${JSON.stringify(labels)}`)
  return Number(m.value)
}

test('admin: /health 200 on the primary, 503 on the replica; they flip after kill -9; /metrics and /status', async () => {
  const [s1, s2, a1, a2] = await freePorts(4)
  const p1 = run(s1, a1)
  await until(async () => (await get(a1, '/health')).status === 200 || null, 'broker 1 healthy', 20_000, 20)
  const p2 = run(s2, a2)
  const replicaHealth = await until(
    async () => {
      const r = await get(a2, '/health')
      return r.status === 503 && JSON.parse(r.body).role === 'replica' ? r : null
    },
    'broker 2 answering 503 as replica',
    20_000,
    20,
  )
  expect(JSON.parse(replicaHealth.body).status).toBe('not-serving')
  const primaryHealth = JSON.parse((await get(a1, '/health')).body)
  expect(primaryHealth.role).toBe('primary')
  expect(primaryHealth.epoch).toBe(1)

  // Metrics parse, and the per-destination counters move with traffic.
  const before = parsePrometheus((await get(a1, '/metrics')).body) as Family[]
  expect(metric(before, 'sfbroker_role', { role: 'primary' })).toBe(1)
  expect(metric(before, 'sfbroker_epoch')).toBe(1)
  await traffic(s1, '/queue/admin.test', 25)
  const after = parsePrometheus((await get(a1, '/metrics')).body) as Family[]
  const dl = { destination: '/queue/admin.test' }
  expect(metric(after, 'sfbroker_destination_enqueued_total', dl)).toBe(25)
  expect(metric(after, 'sfbroker_destination_dequeued_total', dl)).toBe(25)
  expect(metric(after, 'sfbroker_destination_depth', dl)).toBe(0)
  expect(metric(after, 'sfbroker_store_syncs_total')).toBeGreaterThan(metric(before, 'sfbroker_store_syncs_total'))
  const fsync = after.find((f) => f.name === 'sfbroker_store_fsync_latency_ms')
  expect(fsync?.type).toBe('HISTOGRAM')
  const replicaMetrics = parsePrometheus((await get(a2, '/metrics')).body) as Family[]
  expect(metric(replicaMetrics, 'sfbroker_role', { role: 'replica' })).toBe(1)

  // /status: the shared directory's view (holder = broker 1) plus the node's own.
  const st = JSON.parse((await get(a2, '/status')).body)
  expect(st.node.role).toBe('replica')
  expect(JSON.stringify(st)).toContain(`${s1}`)

  // kill -9 the primary: broker 2 becomes healthy, broker 1's endpoint is gone.
  p1.kill('SIGKILL')
  const flipped = await until(
    async () => {
      const r = await get(a2, '/health')
      return r.status === 200 ? JSON.parse(r.body) : null
    },
    'broker 2 healthy after kill -9',
    20_000,
    20,
  )
  expect(flipped.role).toBe('primary')
  expect(flipped.epoch).toBe(2)
  expect((await get(a1, '/health')).status).toBe(0)
  const m2 = parsePrometheus((await get(a2, '/metrics')).body) as Family[]
  expect(metric(m2, 'sfbroker_takeovers_total')).toBe(1)
  expect(metric(m2, 'sfbroker_last_takeover_ms')).toBeGreaterThanOrEqual(0)
  // The keep-alive latency appears once the new primary ran its first check (every lockKeepAlivePeriod).
  const latency = await until(
    async () => {
      const v = metric(
        parsePrometheus((await get(a2, '/metrics')).body) as Family[],
        'sfbroker_lock_keepalive_latency_ms',
      )
      return v >= 0 ? { v } : null
    },
    'a keep-alive latency sample',
    10_000,
    20,
  )
  expect(latency.v).toBeLessThan(10_000)
  p2.kill('SIGTERM')
}, 90_000)
