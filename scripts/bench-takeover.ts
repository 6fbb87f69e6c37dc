/**
 * Takeover benchmark with a backlog (issue #14): two brokers (the compiled binary) on one shared directory holding
 * N persistent messages queued on /queue/BENCH; kill -9 the primary and time, from the kill, until a fresh client
 * gets CONNECTED from the other broker and then the first MESSAGE of the backlog (SUBSCRIBE ack:client-individual,
 * never acked, so the backlog stays). The killed broker is restarted and becomes the (warm) replica again.
 *
 *   bun scripts/bench-takeover.ts --binary /tmp/h12/sfbroker [--sizes 0,200000,1000000] [--kills 10] [--body 256]
 *                                 [--verify]   # at the end: drain and check every queued id arrived (at least once)
 *
 * The backlog is written straight into the store (the kahaDB adapter, epoch 1, batches of 1,000) before any broker
 * starts, since sending 1,000,000 receipted messages over STOMP would take minutes; the stored messages carry the
 * headers the broker writes for a persistent SEND. Prints one row per size: median, p99, min, max of both times,
 * and the replica's RSS before the first kill.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { KahaDbAdapter } from '../src/storage/index.ts'
import { createMessage } from '../src/model/index.ts'

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def
}
const binary = path.resolve(arg('binary', '/tmp/h12/sfbroker'))
const sizes = arg('sizes', '0,200000,1000000').split(',').map(Number)
const kills = Number(arg('kills', '10'))
const bodyBytes = Number(arg('body', '256'))
const verify = process.argv.includes('--verify')
const settleMs = Number(arg('settle-ms', '1500'))

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const p = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return p
}

/** A STOMP client over a raw socket: frames as { command, headers, body }. */
class Wire {
  private buf: Buffer = Buffer.alloc(0)
  private waiters: ((f: Frame | null) => void)[] = []
  private frames: Frame[] = []
  closed = false
  constructor(readonly s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d])
      // Bounded by the bytes received: each turn consumes one frame.
      for (;;) {
        while (this.buf.length > 0 && (this.buf[0] === 10 || this.buf[0] === 13)) this.buf = this.buf.subarray(1)
        const he = this.buf.indexOf('\n\n')
        if (he < 0) return
        const lines = this.buf.subarray(0, he).toString('utf8').split('\n')
        const headers: Record<string, string> = {}
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':')
          if (c > 0 && !(l.slice(0, c) in headers)) headers[l.slice(0, c)] = l.slice(c + 1)
        }
        let end: number
        if (headers['content-length'] !== undefined) {
          end = he + 2 + Number(headers['content-length'])
          if (this.buf.length < end + 1) return
        } else {
          end = this.buf.indexOf(0, he + 2)
          if (end < 0) return
        }
        const f = { command: lines[0]!, headers, body: this.buf.subarray(he + 2, end) }
        this.buf = this.buf.subarray(end + 1)
        const w = this.waiters.shift()
        if (w) w(f)
        else this.frames.push(f)
      }
    })
    const done = () => {
      this.closed = true
      for (const w of this.waiters.splice(0)) w(null)
    }
    s.on('close', done)
    s.on('error', done)
  }
  send(command: string, headers: Record<string, string>, body = '') {
    this.s.write(
      `${command}\n${Object.entries(headers)
        .map(([k, v]) => `${k}:${v}`)
        .join('\n')}\n\n${body}\0`,
    )
  }
  next(timeoutMs: number): Promise<Frame | null> {
    const f = this.frames.shift()
    if (f) return Promise.resolve(f)
    if (this.closed) return Promise.resolve(null)
    return new Promise((r) => {
      const t = setTimeout(() => r(null), timeoutMs)
      this.waiters.push((x) => {
        clearTimeout(t)
        r(x)
      })
    })
  }
}
interface Frame {
  command: string
  headers: Record<string, string>
  body: Buffer
}

function connect(port: number, timeoutMs: number): Promise<Wire | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    const t = setTimeout(() => (s.destroy(), resolve(null)), timeoutMs)
    s.once('error', () => (clearTimeout(t), resolve(null)))
    s.once('connect', async () => {
      const w = new Wire(s)
      w.send('CONNECT', { 'accept-version': '1.2', host: 'localhost' })
      const f = await w.next(timeoutMs)
      clearTimeout(t)
      if (f?.command === 'CONNECTED') resolve(w)
      else s.destroy(), resolve(null)
    })
  })
}

interface Node {
  port: number
  proc: ChildProcess | null
  log: string
}

function startNode(n: Node, dir: string): void {
  const args = [
    'run',
    '--data',
    dir,
    '--connector',
    `stomp://127.0.0.1:${n.port}`,
    '--log-level',
    'info',
    '--log-format',
    'json',
  ]
  n.proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  n.log = ''
  const keep = (d: Buffer) => {
    n.log += d.toString()
    if (n.log.length > 200_000) n.log = n.log.slice(-100_000)
  }
  n.proc.stdout!.on('data', keep)
  n.proc.stderr!.on('data', keep)
}

/** How many warm opens (store taken over from the replica's standby reader) a node's log shows. */
function warmOpens(log: string): number {
  return (log.match(/warm from a standby reader/g) ?? []).length
}

async function kill9(n: Node): Promise<void> {
  const p = n.proc
  if (!p || p.exitCode !== null || p.signalCode !== null) return
  const gone = new Promise<void>((r) => p.once('exit', () => r()))
  p.kill('SIGKILL')
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))])
}

async function waitServing(n: Node, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const w = await connect(n.port, 300)
    if (w) return (w.s.destroy(), true)
    await new Promise((r) => setTimeout(r, 5))
  }
  return false
}

async function waitReplica(dir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if (fs.readdirSync(path.join(dir, 'replicas')).filter((f) => f.endsWith('.json')).length >= 1) return true
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Math.round(Number(m[1]) / 1024) : NaN
  } catch {
    return NaN
  }
}

async function prefill(dir: string, n: number) {
  if (n === 0) return
  const a = new KahaDbAdapter()
  await a.open({ directory: dir, epoch: 1, syncPolicy: 'never', checkpointIntervalMs: 0, cleanupIntervalMs: 0 })
  const body = new Uint8Array(bodyBytes).fill(120)
  const now = Date.now()
  for (let i = 0; i < n; i += 1000) {
    const ops = []
    for (let k = i; k < Math.min(n, i + 1000); k++) {
      const id = `ID:bench-${k}`
      ops.push({
        op: 'add' as const,
        destination: 'queue://BENCH',
        // What a persistent STOMP SEND with content-length to /queue/BENCH is stored as.
        message: createMessage({
          messageId: id,
          destination: { kind: 'queue', name: 'BENCH' },
          timestamp: now,
          persistent: true,
          bodyKind: 'bytes',
          body,
          origin: { protocol: 'stomp' },
        }),
      })
    }
    await a.write(ops)
  }
  await a.checkpoint()
  await a.close()
}

/** kill -9 the primary; time until a fresh client has CONNECTED and the first MESSAGE. */
async function takeover(
  victim: Node,
  next: Node,
  expectMessage: boolean,
): Promise<{ connected: number; message: number }> {
  const t0 = performance.now()
  victim.proc!.kill('SIGKILL')
  const deadline = Date.now() + 60_000
  let w: Wire | null = null
  while (!w && Date.now() < deadline) {
    w = await connect(next.port, 1000)
    if (!w) await new Promise((r) => setTimeout(r, 2))
  }
  if (!w) throw new Error('no takeover within 60 s')
  const connected = performance.now() - t0
  let message = connected
  if (expectMessage) {
    w.send('SUBSCRIBE', { id: '1', destination: '/queue/BENCH', ack: 'client-individual' })
    const f = await w.next(30_000)
    if (f?.command !== 'MESSAGE')
      throw new Error(`expected the first backlog MESSAGE, got ${f?.command ?? 'nothing'} ${f?.body.toString() ?? ''}`)
    message = performance.now() - t0
  }
  w.s.destroy()
  return { connected, message }
}

async function drainCheck(port: number, n: number): Promise<{ distinct: number; duplicates: number }> {
  const w = await connect(port, 5000)
  if (!w) throw new Error('verify: no connection')
  w.send('SUBSCRIBE', {
    id: '1',
    destination: '/queue/BENCH',
    ack: 'client-individual',
    'activemq.prefetchSize': '1000',
  })
  const seen = new Set<string>()
  let dups = 0
  // Bounded: stops after n distinct ids or 10 s without a message.
  while (seen.size < n) {
    const f = await w.next(10_000)
    if (!f || f.command !== 'MESSAGE') break
    const id = f.headers['message-id']!
    if (seen.has(id)) dups++
    seen.add(id)
    w.send('ACK', { id: f.headers.ack! })
  }
  w.s.destroy()
  return { distinct: seen.size, duplicates: dups }
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!
}

console.log(
  `bench-takeover: ${binary}, ${kills} kills per size, ${bodyBytes}-byte bodies, ${os.cpus().length} CPUs, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, ${new Date().toISOString()}`,
)
const rows: string[] = []
for (const size of sizes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-bench-takeover-'))
  const nodes: Node[] = [
    { port: await freePort(), proc: null, log: '' },
    { port: await freePort(), proc: null, log: '' },
  ]
  const conn: number[] = []
  const first: number[] = []
  let rss = NaN
  try {
    const tf = performance.now()
    await prefill(dir, size)
    if (size > 0) console.log(`  ${size} messages written to the store in ${Math.round(performance.now() - tf)} ms`)
    startNode(nodes[0]!, dir)
    if (!(await waitServing(nodes[0]!, 120_000)))
      throw new Error(`first broker did not serve: ${nodes[0]!.log.slice(-2000)}`)
    startNode(nodes[1]!, dir)
    if (!(await waitReplica(dir, 30_000))) throw new Error('second broker did not register as a replica')
    let primary = 0
    let warm = 0
    for (let i = 0; i < kills; i++) {
      const victim = nodes[primary]!
      const next = nodes[1 - primary]!
      // Let the replica's standby catch up (its first poll builds the index; later ones read the tail).
      await new Promise((r) => setTimeout(r, settleMs + (i === 0 ? size / 500 : 0)))
      if (i === 0) rss = rssMiB(next.proc!.pid!)
      const warmBefore = warmOpens(next.log)
      const r = await takeover(victim, next, size > 0)
      conn.push(r.connected)
      first.push(r.message)
      console.log(
        `  ${size} queued, kill ${i + 1}: CONNECTED ${r.connected.toFixed(1)} ms, first message ${r.message.toFixed(1)} ms`,
      )
      if (process.argv.includes('--show-log')) {
        await new Promise((r) => setTimeout(r, 300))
        for (const l of next.log.split('\n'))
          if (/takeover|recovered|warm|standby|role/.test(l)) console.log(`    ${l.slice(0, 400)}`)
      }
      // Counted per takeover: a restarted node's log starts afresh, so counting at the end missed earlier ones.
      const until = Date.now() + 2000
      while (warmOpens(next.log) === warmBefore && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
      if (warmOpens(next.log) > warmBefore) warm++
      await kill9(victim)
      startNode(victim, dir)
      if (!(await waitReplica(dir, 30_000))) throw new Error('restarted broker did not become a replica')
      primary = 1 - primary
    }
    if (verify && size > 0) {
      const v = await drainCheck(nodes[primary]!.port, size)
      console.log(
        `  verify: ${v.distinct}/${size} distinct ids delivered, ${v.duplicates} duplicates (redeliveries of unacked ones are expected)`,
      )
      if (v.distinct !== size) throw new Error(`verify: ${size - v.distinct} message(s) lost`)
    }
    const row = `| ${size.toLocaleString('en-US')} | ${q(conn, 0.5).toFixed(1)} / ${q(conn, 0.99).toFixed(1)} | ${q(first, 0.5).toFixed(1)} / ${q(first, 0.99).toFixed(1)} | ${Math.min(...first).toFixed(1)}–${Math.max(...first).toFixed(1)} | ${rss} MiB | ${warm}/${kills} |`
    rows.push(row)
  } finally {
    for (const n of nodes) await kill9(n)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
console.log(
  '\n| queued | CONNECTED median / p99 (ms) | first message median / p99 (ms) | first message min–max | replica RSS before kill | warm opens |',
)
console.log('|---|---|---|---|---|---|')
for (const r of rows) console.log(r)
