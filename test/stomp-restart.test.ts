/**
 * Durability through the STOMP connector over real processes: `sfbroker run` (bun src/main.ts) on a temp data
 * dir, python3-stomp clients put persistent messages on a queue and on a durable topic subscription (each SEND
 * receipted, i.e. durable), the broker is killed with SIGKILL and started again on the same dir, and every
 * receipted message must come back to the queue consumer and the durable subscriber. Ports are random in
 * 20000-60000 (retried on a clash); every child is killed in afterAll and the temp dir removed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dir, '..')
const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun')
const PY = '/usr/bin/python3'
const FIXTURE = path.join(import.meta.dir, 'fixtures', 'stomp-client.py')
const children = new Set<ChildProcess>()
const dirs: string[] = []

afterAll(() => {
  for (const c of children) c.kill('SIGKILL')
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
})


function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen({ host: '127.0.0.1', port }, () => s.close(() => resolve(true)))
  })
}

async function pickPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = 20000 + Math.floor(Math.random() * 40000)
    if (await portFree(p)) return p
  }
  throw new Error('no free port found in 20 tries')
}

/** Start `sfbroker run` and wait until it answers a STOMP CONNECT (bounded). */
async function startNode(dataDir: string, port: number): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(BUN, ['src/main.ts', 'run', '--data', dataDir, '--connector', `stomp://127.0.0.1:${port}`, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  child.on('exit', () => children.delete(child))
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sfbroker run exited ${child.exitCode}: ${out}`)
    if (await stompAnswers(port)) return { child, log: () => out }
    await Bun.sleep(100)
  }
  throw new Error(`sfbroker run did not serve STOMP on ${port} within 20 s: ${out}`)
}

function stompAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const t = setTimeout(() => done(false), 1000)
    const done = (ok: boolean) => {
      clearTimeout(t)
      s.destroy()
      resolve(ok)
    }
    s.on('error', () => done(false))
    s.on('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:x\n\n\0'))
    s.on('data', (b) => done(b.toString().startsWith('CONNECTED')))
  })
}

function runPython(port: number, scenario: string, args: string[], timeoutMs = 20_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(PY, [FIXTURE, String(port), scenario, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (err += d))
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(t)
      children.delete(child)
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').pop()!))
      else reject(new Error(`stomp-client.py ${scenario} exited ${code ?? signal}: ${err.trim().split('\n').slice(-5).join(' | ')}`))
    })
  })
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

describe('STOMP durability across kill -9', () => {
  test('receipted persistent queue messages and a durable subscription survive kill -9 and restart', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-stomp-restart-'))
    dirs.push(dataDir)
    const port = await pickPort()
    const first = await startNode(dataDir, port)
    await runPython(port, 'durable-subscribe', ['/topic/restart', 'py-restart', 'sub-a'])
    await runPython(port, 'send', ['/queue/restart', '5'])
    await runPython(port, 'send', ['/topic/restart', '3'])
    await killed(first.child)

    const second = await startNode(dataDir, port)
    const dur = await runPython(port, 'durable-receive', ['/topic/restart', 'py-restart', 'sub-a', '3'])
    expect(dur.bodies).toEqual(['py-0', 'py-1', 'py-2'])
    const q = await runPython(port, 'drain', ['/queue/restart', '5'])
    expect(q.bodies).toEqual(['py-0', 'py-1', 'py-2', 'py-3', 'py-4'])
    expect(q.extra).toBe(null)
    await killed(second.child)
  }, 90_000)
})
