/**
 * Goal: the CLI runs under Deno too (the design asks for a Deno/Bun-compatible CLI): `deno run -A src/main.ts
 * --help` prints the same help and exits 0, and a usage error exits 2. Method: run the Deno binary from the npm
 * `deno` package as a child process. Then the broker itself: two `deno run … run` processes on one directory
 * elect a primary through the Deno.dlopen lock binding and hand over on kill -9. And the election's share I/O
 * worker ends cleanly on shutdown under Deno (its quit once threw in the worker: Deno's parentPort has no close()).
 * MQTT, WebSocket and OpenWire under Deno: deno-connectors.test.ts.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { freePorts, stompFirstCommand } from '../src/testing/net-probe.ts'
import { cameTrue } from '../src/testing/until.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'

const repo = path.resolve(import.meta.dir, '..')
const deno = path.join(repo, 'node_modules/.bin/deno')

function denoRun(...args: string[]): { code: number | null; out: string; err: string } {
  // --no-lock: do not write deno.lock into the working tree; --quiet: no download/check chatter on stderr.
  const r = spawnSync(deno, ['run', '-A', '--quiet', '--no-lock', path.join(repo, 'src/main.ts'), ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe('sfbroker under Deno', () => {
  test('deno run src/main.ts --help prints the help and exits 0', () => {
    expect(fs.existsSync(deno)).toBe(true)
    const r = denoRun('--help')
    if (r.code !== 0) console.error(r.err)
    expect(r.code).toBe(0)
    expect(r.out).toContain('Usage:')
    expect(r.out).toContain('$ sfbroker <command> [options]')
    expect(r.out).toContain('run ')
    expect(r.out).toContain('--log-format')
  })

  test('deno run src/main.ts run --help and a usage error behave as under Bun', () => {
    const help = denoRun('run', '--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('--config <file>')
    const bad = denoRun('rn')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('unknown command "rn"')
  })
})

// ShareIO runs the election's filesystem calls in an eval'd worker_threads worker; `shutdown()` posts a quit that
// must end that worker under Deno as under Bun, without an uncaught error (printed to stderr at every broker stop).
describe('ShareIO under Deno', () => {
  test('ShareIO worker exits on shutdown under Deno without an uncaught error', () => {
    const scratch = makeTempDir('sfb-deno-shareio-')
    try {
      const script = path.join(scratch.path, 'share-io-quit.ts')
      fs.writeFileSync(
        script,
        `import { ShareIO } from ${JSON.stringify(path.join(repo, 'src/election/share-io.ts'))}
const dir = ${JSON.stringify(scratch.path)}
const io = new ShareIO(10_000)
await io.check({ lockPath: dir + '/lock', epochsDir: dir + '/epochs' })
// The worker is private: reach it only to wait for its exit.
const w = (io as unknown as { current: { worker: import('node:worker_threads').Worker } }).current.worker
let timer: ReturnType<typeof setTimeout> | undefined
const bound = new Promise((r) => (timer = setTimeout(() => r('worker still running'), 20_000)))
const exited = new Promise((r) => w.once('exit', (code) => r('worker exit ' + code)))
io.shutdown()
console.log(await Promise.race([exited, bound]))
clearTimeout(timer)
`,
      )
      const r = spawnSync(deno, ['run', '-A', '--quiet', '--no-lock', script], {
        cwd: repo,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, NO_COLOR: '1' },
      })
      expect(r.stderr).toBe('')
      expect(r.stdout.trim()).toBe('worker exit 0')
      expect(r.status).toBe(0)
    } finally {
      scratch.remove()
    }
  }, 90_000)
})

// The broker itself under Deno: the lock binding is Deno.dlopen (src/election/lock/libc-deno.ts), the replica's
// blocking wait runs in a worker. Two Deno brokers on one directory: one answers CONNECTED, the other refuses;
// kill -9 of the primary → the replica answers CONNECTED and takes epoch 2.
describe('sfbroker broker under Deno', () => {
  const kids: import('node:child_process').ChildProcess[] = []
  const scratch = makeTempDir('sfb-deno-')
  const dir = scratch.path
  afterAll(async () => {
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL')
    await Bun.sleep(200)
    scratch.remove()
  })

  function broker(port: number): import('node:child_process').ChildProcess {
    const c = spawn(
      deno,
      [
        'run',
        '-A',
        '--quiet',
        '--no-lock',
        path.join(repo, 'src/main.ts'),
        'run',
        '--data',
        dir,
        '--connector',
        `stomp://127.0.0.1:${port}`,
        '--log-level',
        'warn',
      ],
      {
        cwd: repo,
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    c.stderr!.resume()
    kids.push(c)
    return c
  }

  /** First line of the answer to a STOMP CONNECT, or null when the port refuses or stays silent. */
  const connectAnswer = (port: number): Promise<string | null> => stompFirstCommand(port, 2000)

  test('deno run src/main.ts run: one broker serves STOMP, the other is a replica; kill -9 → the replica serves', async () => {
    const [pa, pb] = (await freePorts(2)) as [number, number]
    const a = broker(pa)
    expect(await cameTrue(async () => (await connectAnswer(pa)) === 'CONNECTED', 90_000)).toBe(true)
    const b = broker(pb)
    expect(
      await cameTrue(
        async () =>
          fs.existsSync(path.join(dir, 'replicas')) &&
          fs.readdirSync(path.join(dir, 'replicas')).some((n) => n.endsWith('.json')),
        90_000,
      ),
    ).toBe(true)
    expect(await connectAnswer(pb)).toBeNull()

    a.kill('SIGKILL')
    expect(await cameTrue(async () => (await connectAnswer(pb)) === 'CONNECTED', 60_000)).toBe(true)
    expect(fs.readdirSync(path.join(dir, 'epochs')).sort()).toEqual(['1', '2'])
    b.kill('SIGTERM')
    expect(await cameTrue(async () => b.exitCode !== null, 30_000)).toBe(true)
    expect(b.exitCode).toBe(0)
  }, 240_000)
})
