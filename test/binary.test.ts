/**
 * Goal: `bun build --compile` yields one self-contained `sfbroker` executable that, copied alone into an empty
 * directory (no node_modules, no Bun on PATH), prints help and version and runs a broker that answers a raw STOMP
 * CONNECT with CONNECTED, then stops cleanly (exit 0) on SIGTERM. Method: build with the same flags as
 * `npm run build` into a temp dir, copy the binary into another empty temp dir, spawn it there on a random port
 * (retrying another port if it is taken), speak STOMP over a plain TCP socket. Every child is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import pkg from '../package.json' with { type: 'json' }

const repo = path.resolve(import.meta.dir, '..')
const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-build-'))
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-bin-'))
const binary = path.join(runDir, 'sfbroker')
const children: ChildProcess[] = []
// No node_modules/.bin and no Bun: only the system directories.
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: runDir, NO_COLOR: '1' }

beforeAll(() => {
  const built = path.join(buildDir, 'sfbroker')
  const r = spawnSync(process.execPath, ['build', '--compile', '--minify-syntax', '--sourcemap', path.join(repo, 'src/main.ts'), '--outfile', built], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 240_000,
  })
  if (r.status !== 0) throw new Error(`bun build --compile failed (${r.status}): ${r.stderr}${r.stdout}`)
  fs.copyFileSync(built, binary)
  fs.chmodSync(binary, 0o755)
}, 300_000)

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  fs.rmSync(buildDir, { recursive: true, force: true })
  fs.rmSync(runDir, { recursive: true, force: true })
})

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(binary, args, { cwd: runDir, env, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** Send CONNECT on a fresh socket; resolve with the first frame's command, or null if the port does not answer. */
function stompConnect(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let data = ''
    const done = (v: string | null): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(v)
    }
    const timer = setTimeout(() => done(null), timeoutMs)
    socket.on('connect', () => socket.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0'))
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8')
      const nl = data.indexOf('\n')
      if (nl >= 0) done(data.slice(0, nl).replace(/\r$/, ''))
    })
    socket.on('error', () => done(null))
    socket.on('close', () => done(data === '' ? null : data.split('\n')[0]))
  })
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | string | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    const timer = setTimeout(() => resolve('timeout'), timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve(code ?? signal)
    })
  })
}

describe('compiled sfbroker binary', () => {
  test('sfbroker binary alone in an empty dir prints help and version', () => {
    expect(fs.readdirSync(runDir)).toEqual(['sfbroker'])
    const help = run('--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('Usage:')
    expect(help.out).toContain('run ')
    const version = run('--version')
    expect(version.code).toBe(0)
    expect(version.out.trim()).toBe(`sfbroker ${pkg.version}`)
    expect(run('frobnicate').code).toBe(2)
  })

  test('sfbroker binary run answers STOMP CONNECT with CONNECTED and exits 0 on SIGTERM', async () => {
    let child: ChildProcess | undefined
    let port = 0
    let stderr = ''
    // A port picked at random may be taken by another test on this machine: try a few.
    for (let attempt = 0; attempt < 4 && child === undefined; attempt++) {
      port = 20000 + Math.floor(Math.random() * 40000)
      const c = spawn(binary, ['run', '--data', path.join(runDir, `data-${attempt}`), '--connector', `stomp://127.0.0.1:${port}`], { cwd: runDir, env, stdio: ['ignore', 'pipe', 'pipe'] })
      children.push(c)
      stderr = ''
      c.stderr?.on('data', (d) => (stderr += d.toString()))
      c.stdout?.on('data', (d) => (stderr += d.toString()))
      // Wait (bounded) until it answers, or exits (port taken, startup failure).
      let answer: string | null = null
      for (let i = 0; i < 60 && answer === null && c.exitCode === null; i++) {
        answer = await stompConnect(port, 1000)
        if (answer === null) await Bun.sleep(250)
      }
      if (answer !== null) {
        expect(answer).toBe('CONNECTED')
        child = c
      } else if (c.exitCode === null) {
        c.kill('SIGKILL')
        throw new Error(`broker did not answer on ${port}: ${stderr}`)
      } else if (!/EADDRINUSE|in use/i.test(stderr)) {
        throw new Error(`broker exited with ${c.exitCode} before answering: ${stderr}`)
      }
    }
    expect(child).toBeDefined()
    child!.kill('SIGTERM')
    const code = await exited(child!, 20_000)
    if (code !== 0) console.error(stderr)
    expect(code).toBe(0)
    // Nothing left listening once it has exited.
    expect(await stompConnect(port, 1000)).toBeNull()
  }, 120_000)
})
