/**
 * Failover benchmark: two real brokers on one shared temp directory; repeatedly kill -9 the primary and time
 * until the other answers a STOMP CONNECT with CONNECTED; restart the killed one (it becomes the replica).
 * Prints each takeover and the median / p99 / min / max.
 *
 *   bun scripts/bench-failover.ts [--kills 20] [--binary dist/sfbroker] [--lock-type flock|fcntl] [--dir DIR]
 *
 * Without --binary the brokers run from source (`bun src/main.ts run`). The clock starts right before the
 * kill -9 is sent and stops when the CONNECTED frame is read, probing every 2 ms.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def
}
const kills = Number(arg('kills', '20'))
const binary = arg('binary', '')
const lockType = arg('lock-type', 'flock')
const root = path.resolve(import.meta.dir, '..')
const dir = arg('dir', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-bench-failover-'))
const ownDir = !process.argv.includes('--dir')
if (!Number.isInteger(kills) || kills < 1) throw new Error(`--kills: "${arg('kills', '')}" is not a positive integer`)

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const p = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return p
}

/** One STOMP CONNECT attempt: true when a CONNECTED frame came back within timeoutMs. */
function stompConnected(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    const done = (v: boolean) => {
      clearTimeout(t)
      s.destroy()
      resolve(v)
    }
    const t = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0'))
    s.on('data', (d) => {
      buf += d.toString('latin1')
      if (buf.startsWith('CONNECTED')) done(true)
      else if (buf.includes('\0')) done(false)
    })
    s.once('error', () => done(false))
    s.once('close', () => done(false))
  })
}

interface Node {
  port: number
  proc: ChildProcess | null
}

function startNode(n: Node): void {
  const args = [
    'run',
    '--data',
    dir,
    '--connector',
    `stomp://127.0.0.1:${n.port}`,
    '--lock-type',
    lockType,
    '--log-level',
    'warn',
  ]
  const cmd = binary ? [path.resolve(binary), ...args] : [process.execPath, path.join(root, 'src/main.ts'), ...args]
  n.proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
  n.proc.stderr!.resume()
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
    if (await stompConnected(n.port, 300)) return true
    await new Promise((r) => setTimeout(r, 2))
  }
  return false
}

async function waitReplica(nodeCount: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      if (fs.readdirSync(path.join(dir, 'replicas')).filter((f) => f.endsWith('.json')).length >= nodeCount) return true
    } catch {
      // not there yet
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

const nodes: Node[] = [
  { port: await freePort(), proc: null },
  { port: await freePort(), proc: null },
]
const results: number[] = []
try {
  startNode(nodes[0]!)
  if (!(await waitServing(nodes[0]!, 20_000))) throw new Error('the first broker did not serve within 20 s')
  startNode(nodes[1]!)
  if (!(await waitReplica(1, 20_000))) throw new Error('the second broker did not register as a replica within 20 s')
  let primary = 0
  for (let i = 0; i < kills; i++) {
    const victim = nodes[primary]!
    const next = nodes[1 - primary]!
    const t0 = performance.now()
    victim.proc!.kill('SIGKILL')
    const ok = await waitServing(next, 30_000)
    const ms = performance.now() - t0
    if (!ok) throw new Error(`kill ${i + 1}: no takeover within 30 s`)
    results.push(ms)
    console.log(`kill ${String(i + 1).padStart(2)}: takeover ${ms.toFixed(1)} ms`)
    await kill9(victim)
    startNode(victim)
    if (!(await waitReplica(1, 20_000))) throw new Error(`kill ${i + 1}: restarted broker did not become a replica`)
    await new Promise((r) => setTimeout(r, 200))
    primary = 1 - primary
  }
} finally {
  for (const n of nodes) await kill9(n)
  if (ownDir) fs.rmSync(dir, { recursive: true, force: true })
}
const sorted = [...results].sort((a, b) => a - b)
const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!
console.log(`takeovers: ${sorted.length}, lock ${lockType}, ${binary ? `binary ${binary}` : 'from source'}`)
console.log(
  `median ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, min ${sorted[0]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
)
