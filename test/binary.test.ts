/**
 * Goal: `bun build --compile` yields one self-contained `sfbroker` executable that, copied alone into an empty
 * directory (no node_modules, no Bun on PATH), prints help and version and runs a broker that answers a raw STOMP
 * CONNECT with CONNECTED, then stops cleanly (exit 0) on SIGTERM. Method: build with the same flags as
 * `npm run build` into a temp dir, copy the binary into another empty temp dir, spawn it there on a random port
 * (retrying another port if it is taken), speak STOMP over a plain TCP socket. Every child is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, exitOf, runCli } from './fixtures/broker-process.ts'
import { stompFirstCommand } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
const runDir = procs.tempDir('sfbroker-bin-')
const binary = path.join(runDir, 'sfbroker')
// No node_modules/.bin and no Bun: only the system directories.
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: runDir, NO_COLOR: '1' }

beforeAll(() => {
  fs.copyFileSync(compiledBinary(), binary)
  fs.chmodSync(binary, 0o755)
}, 300_000)

afterAll(() => procs.cleanup())

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(binary, args, { cwd: runDir, env, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe('compiled sfbroker binary', () => {
  test('sfbroker binary alone in an empty dir prints help and version', () => {
    expect(fs.readdirSync(runDir)).toEqual(['sfbroker'])
    const help = run('--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('Usage:')
    expect(help.out).toContain('run ')
    expect(help.out).not.toContain('__lock-child')
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
      const c = procs.spawn(
        [binary, 'run', '--data', path.join(runDir, `data-${attempt}`), '--connector', `stomp://127.0.0.1:${port}`],
        { cwd: runDir, env },
      )
      stderr = ''
      c.stderr?.on('data', (d) => (stderr += d.toString()))
      c.stdout?.on('data', (d) => (stderr += d.toString()))
      // Wait (bounded) until it answers, or exits (port taken, startup failure).
      let answer: string | null = null
      for (let i = 0; i < 60 && answer === null && c.exitCode === null; i++) {
        answer = await stompFirstCommand(port, 1000)
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
    // `run` re-executed itself in place (same pid, same arguments) with mimalloc's purge delay set
    // (src/cli/allocator-env.ts); the environment had none.
    expect(fs.readFileSync(`/proc/${child!.pid}/environ`, 'utf8').split('\0')).toContain('MIMALLOC_PURGE_DELAY=1000')
    expect(fs.readFileSync(`/proc/${child!.pid}/cmdline`, 'utf8').split('\0').slice(1, 3)).toEqual(['run', '--data'])
    child!.kill('SIGTERM')
    const code = await exitOf(child!, 20_000)
    if (code !== 0) console.error(stderr)
    expect(code).toBe(0)
    // Nothing left listening once it has exited.
    expect(await stompFirstCommand(port, 1000)).toBeNull()
  }, 120_000)
})

// `status` and `probe-lock` from the compiled binary (issue 3 "Done when"): the probe's child processes are the
// binary itself (`sfbroker __lock-child`), and status reads /proc/locks and the shared dir without Bun around.
describe('compiled sfbroker binary: status and probe-lock', () => {
  function runAsync(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
    return runCli(procs, args, { command: [binary], cwd: runDir, env, timeoutMs })
  }
  function statusJson(dir: string): { code: number | null; json: any } {
    const r = run('status', dir, '--json')
    let json: any = null
    try {
      json = JSON.parse(r.out)
    } catch {
      json = null
    }
    return { code: r.code, json }
  }

  test('sfbroker binary run keeps a MIMALLOC_PURGE_DELAY the user set, and SFBROKER_ALLOCATOR_REEXEC=0 sets none', async () => {
    const start = (name: string, extra: Record<string, string>) => {
      const dir = path.join(runDir, `alloc-${name}`)
      const c = procs.spawn([binary, 'run', '--data', dir, '--connector', 'stomp://127.0.0.1:0'], {
        cwd: runDir,
        env: { ...env, ...extra },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      c.stderr!.resume()
      return { c, dir }
    }
    const userSet = start('user', { MIMALLOC_PURGE_DELAY: '-1' })
    const off = start('off', { SFBROKER_ALLOCATOR_REEXEC: '0' })
    for (const b of [userSet, off]) {
      // Serving (the program runs after any re-exec): the holder record names this pid.
      await until(() => statusJson(b.dir).json?.holder?.pid === b.c.pid, `${b.dir} primary`, 60_000, 200)
    }
    const environ = (pid: number | undefined) =>
      fs
        .readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter((e) => e.startsWith('MIMALLOC_'))
    expect(environ(userSet.c.pid)).toEqual(['MIMALLOC_PURGE_DELAY=-1'])
    expect(environ(off.c.pid)).toEqual([])
    for (const b of [userSet, off]) {
      b.c.kill('SIGTERM')
      expect(await exitOf(b.c, 20_000)).toBe(0)
    }
  }, 120_000)

  test('sfbroker binary status: 4 for a non-broker dir, 0 naming the primary and its replica, 3 once both stopped', async () => {
    const shared = path.join(runDir, 'shared-status')
    expect(run('status', path.join(runDir, 'no-such-dir')).code).toBe(4)
    fs.mkdirSync(shared)
    const notBroker = run('status', shared)
    expect(notBroker.code).toBe(4)
    // The report goes to stdout; the error line `sfbroker: ELECTION_NOT_BROKER_DIR: …` to stderr.
    expect(notBroker.out + notBroker.err).toContain('not a broker shared directory')
    expect(run('status').code).toBe(2)

    const broker = (name: string) => {
      const c = procs.spawn(
        [binary, 'run', '--data', shared, '--connector', 'stomp://127.0.0.1:0', '--broker-name', name],
        { cwd: runDir, env, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      c.stderr!.resume()
      return c
    }
    const a = broker('bin-a')
    await until(
      () => {
        const s = statusJson(shared)
        return s.code === 0 && s.json?.holder?.pid === a.pid && s.json.lastTakeover?.connectorsOpenMs != null
      },
      'a primary',
      60_000,
      200,
    )
    const b = broker('bin-b')
    const s1 = await until(
      () => {
        const s = statusJson(shared)
        return s.json?.replicas?.some((r: any) => r.pid === b.pid) ? s : null
      },
      'b registered as replica',
      60_000,
      200,
    )
    expect(s1.code).toBe(0)
    expect(s1.json.primary).toBe(true)
    expect(s1.json.holder.brokerName).toBe('bin-a')
    expect(s1.json.currentEpoch).toBe(1)
    expect(s1.json.lastTakeover.epoch).toBe(1)
    const human = run('status', shared)
    expect(human.code).toBe(0)
    expect(human.out).toContain('primary: YES')
    expect(human.out).toContain(`broker bin-a on ${os.hostname()} pid ${a.pid}, epoch 1`)
    expect(human.out).toContain(`pid ${b.pid}: waiting since`)
    expect(human.out).toContain('last takeover:')

    // SIGTERM on the primary releases the lock at once: b takes over, and is no longer listed as a replica.
    a.kill('SIGTERM')
    expect(await exitOf(a, 30_000)).toBe(0)
    const s2 = await until(
      () => {
        const s = statusJson(shared)
        return s.code === 0 && s.json?.holder?.pid === b.pid && s.json.lastTakeover?.epoch === 2 ? s : null
      },
      'b primary',
      60_000,
      200,
    )
    expect(s2.json.currentEpoch).toBe(2)
    await until(
      () => statusJson(shared).json?.replicas?.length === 0,
      'no replica listed once b is primary',
      30_000,
      200,
    )

    b.kill('SIGTERM')
    expect(await exitOf(b, 30_000)).toBe(0)
    const s3 = statusJson(shared)
    expect(s3.code).toBe(3)
    expect(s3.json.primary).toBe(false)
    expect(s3.json.holder.pid).toBe(b.pid)
    expect(run('status', shared).out).toContain('primary: NONE')
  }, 180_000)

  test('sfbroker binary probe-lock: flock and fcntl SAFE on a local disk, under both names, --json and text', async () => {
    const dir = path.join(runDir, 'probe')
    const r = await runAsync(['probe-lock', dir, '--json'], 90_000)
    if (r.code !== 0) console.error(r.err)
    expect(r.code).toBe(0)
    const rep = JSON.parse(r.out)
    expect(rep.binding).toBe('bun:ffi')
    for (const kind of ['flock', 'fcntl']) {
      const k = rep.kinds.find((x: any) => x.kind === kind)
      expect(k.verdict).toBe('SAFE')
      expect(k.checks.map((c: any) => c.name)).toEqual(['lock', 'exclusion', 'kill -9 release', 'blocking wait'])
      expect(k.checks.every((c: any) => c.ok)).toBe(true)
      expect(typeof k.checks.find((c: any) => c.name === 'kill -9 release').ms).toBe('number')
    }
    expect(rep.sameProcess.ok).toBe(true)
    expect(rep.filesystem.fsType).toBeString()
    expect(rep.recommended).toBe('flock')
    expect(rep.safe).toBe(true)
    // The probe's own files are gone.
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.probe-lock'))).toEqual([])

    const text = await runAsync(['lock-probe', dir], 90_000)
    expect(text.code).toBe(0)
    expect(text.out).toContain('flock: SAFE')
    expect(text.out).toContain('fcntl: SAFE')
    expect(text.out).toContain('recommendation: use lock type flock')
  }, 200_000)

  // Two bindfs mounts of one directory stand in for two hosts: with lock forwarding they share the kernel's
  // locks (an honest cluster filesystem), without it each mount's locks are local (OCFS2 flock, NFS local_lock).
  const hasBindfs =
    spawnSync('sh', ['-c', 'command -v bindfs && test -c /dev/fuse && test "$(id -u)" = 0']).status === 0
  test.skipIf(!hasBindfs)(
    'sfbroker binary probe-lock --peer on two bindfs mounts: SAFE with lock forwarding, NOT SAFE (exit 1) without',
    async () => {
      const mounts: string[] = []
      const mount = (real: string, name: string, forward: boolean): string => {
        const m = path.join(runDir, name)
        fs.mkdirSync(m)
        const args = forward ? ['--multithreaded', '--enable-lock-forwarding', real, m] : [real, m]
        const r = spawnSync('bindfs', args, { encoding: 'utf8' })
        if (r.status !== 0) throw new Error(`bindfs ${args.join(' ')}: ${r.stderr}`)
        mounts.push(m)
        return m
      }
      try {
        const peerArgs = ['--peer', '--json', '--hold-ms', '600', '--peer-timeout-ms', '60000']
        const real = path.join(runDir, 'peer-real-fwd')
        fs.mkdirSync(real)
        const [a, b] = await Promise.all([
          runAsync(['probe-lock', mount(real, 'peer-f1', true), ...peerArgs], 150_000),
          runAsync(['probe-lock', mount(real, 'peer-f2', true), ...peerArgs], 150_000),
        ])
        for (const r of [a, b]) {
          if (r.code !== 0) console.error(`probe-lock --peer (forwarding) exit ${r.code}\n${r.out}\n${r.err}`)
          expect(r.code).toBe(0)
          const rep = JSON.parse(r.out)
          expect(rep.peer.peer).not.toBeNull()
          expect(rep.peer.kinds.map((k: any) => k.verdict)).toEqual(['SAFE', 'SAFE'])
          expect(rep.recommended).toBe('flock')
        }
        const real2 = path.join(runDir, 'peer-real-nofwd')
        fs.mkdirSync(real2)
        const [c, d] = await Promise.all([
          runAsync(['probe-lock', mount(real2, 'peer-n1', false), ...peerArgs], 150_000),
          runAsync(['probe-lock', mount(real2, 'peer-n2', false), ...peerArgs], 150_000),
        ])
        for (const r of [c, d]) {
          if (r.code !== 1) console.error(`probe-lock --peer (no forwarding) exit ${r.code}\n${r.out}\n${r.err}`)
          expect(r.code).toBe(1)
          const rep = JSON.parse(r.out)
          expect(rep.peer.kinds.find((k: any) => k.kind === 'flock').verdict).toBe('NOT SAFE')
          expect(rep.recommended).toBeNull()
        }
      } finally {
        for (const m of mounts.reverse()) spawnSync('fusermount', ['-u', '-z', m])
      }
    },
    300_000,
  )
})
