/**
 * Goal: behaviour on filesystems whose locks do not exclude. Two bindfs mounts of one directory without
 * --enable-lock-forwarding behave like OCFS2 / `local_lock` NFS (each mount's locks are local); with it they
 * behave like honest hosts. Checks: probe-lock --peer says NOT SAFE without forwarding and SAFE with it; two
 * electors on the lying mounts both get "the" lock, yet the epoch fence leaves exactly one primary and a
 * deposed primary's assertCurrent() throws ELECTION_FENCED. Method: real bindfs mounts (root + /dev/fuse
 * needed; skipped with the reason otherwise), real processes; mounts are removed in afterAll.
 */
import { test, expect, afterAll, afterEach } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { ElectorProc, freePorts, acceptingPorts, accepts } from './fixtures/election-harness.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'
import { FsSharePort } from '../src/election/fs-share-port.ts'

const hasBindfs = spawnSync('sh', ['-c', 'command -v bindfs && test -c /dev/fuse && test "$(id -u)" = 0']).status === 0
const why = hasBindfs ? '' : 'bindfs, /dev/fuse and root are needed for the lying-locks lab'
if (!hasBindfs) console.log(`skipping election-bindfs: ${why}`)
const scratch = makeTempDir('sfb-bindfs-')
const root = scratch.path
const mounts: string[] = []
let procs: ElectorProc[] = []

function mount(real: string, name: string, forward: boolean): string {
  const m = path.join(root, name)
  fs.mkdirSync(m, { recursive: true })
  const args = forward ? ['--multithreaded', '--enable-lock-forwarding', real, m] : [real, m]
  const r = spawnSync('bindfs', args)
  if (r.status !== 0) throw new Error(`bindfs ${args.join(' ')} failed: ${r.stderr}`)
  mounts.push(m)
  return m
}

afterEach(async () => {
  for (const p of procs) {
    if (p.alive) p.proc.kill('SIGCONT')
    await p.kill('SIGKILL')
  }
  procs = []
})
afterAll(() => {
  for (const m of mounts.reverse()) spawnSync('fusermount', ['-u', '-z', m])
  scratch.remove()
})

function probe(dir: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [path.join(import.meta.dir, 'fixtures', 'election-probe-peer.ts'), dir, 'peer', '600'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (err += d))
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000)
    p.on('exit', () => {
      clearTimeout(t)
      try {
        resolve(JSON.parse(out))
      } catch {
        reject(new Error(`probe output not JSON: ${out.slice(0, 500)} ${err.slice(-500)}`))
      }
    })
  })
}

test.skipIf(!hasBindfs)(
  'probe-lock --peer: NOT SAFE on two mounts without lock forwarding, SAFE with it',
  async () => {
    const real = fs.mkdtempSync(path.join(root, 'real-'))
    const [a, b] = await Promise.all([probe(mount(real, 'nf1', false)), probe(mount(real, 'nf2', false))])
    for (const r of [a, b]) {
      expect(r.peer.peer).not.toBeNull()
      expect(r.peer.kinds.find((k: any) => k.kind === 'flock').verdict).toBe('NOT SAFE')
      expect(r.kinds.find((k: any) => k.kind === 'flock').verdict).toBe('NOT SAFE')
      expect(r.recommended).toBeNull()
    }
    const real2 = fs.mkdtempSync(path.join(root, 'real-'))
    const [c, d] = await Promise.all([probe(mount(real2, 'f1', true)), probe(mount(real2, 'f2', true))])
    for (const r of [c, d]) {
      expect(r.peer.kinds.find((k: any) => k.kind === 'flock').verdict).toBe('SAFE')
      expect(r.kinds.find((k: any) => k.kind === 'flock').verdict).toBe('SAFE')
      expect(r.recommended).toBe('flock')
    }
  },
  120_000,
)

test.skipIf(!hasBindfs)(
  'lying locks: a paused primary is deposed by epoch; its fence throws ELECTION_FENCED; exactly one stays primary',
  async () => {
    const real = fs.mkdtempSync(path.join(root, 'real-'))
    const m1 = mount(real, 'e1', false)
    const m2 = mount(real, 'e2', false)
    const ports = await freePorts(2)
    // Keep-alive 500 ms with a 1000 ms timeout: a loaded 2-core machine can delay timers by a few hundred ms,
    // which must not read as a stale record (that would let a claim epoch 3 for the wrong reason).
    const ka = { keepAliveMs: 500, keepAliveTimeoutMs: 1000, sleepMs: 300 }
    const a = new ElectorProc({ dir: m1, port: ports[0], nodeId: 'a', ...ka })
    procs.push(a)
    await a.waitFor(() => a.listening, 10_000, 'a listening')
    a.proc.kill('SIGSTOP')
    const b = new ElectorProc({ dir: m2, port: ports[1], nodeId: 'b', ...ka })
    procs.push(b)
    // b "gets" the lock at once (locks do not exclude), waits for a's record to go stale, claims epoch 2.
    await b.waitFor(() => b.listening, 15_000, 'b listening')
    expect(b.events.find((e) => e.event === 'listening')?.epoch).toBe(2)
    a.proc.kill('SIGCONT')
    a.send('fence')
    await a.waitFor((evs) => evs.some((e) => e.event === 'fence'), 10_000, 'fence answer')
    expect(a.events.find((e) => e.event === 'fence')).toMatchObject({ ok: false, code: 'ELECTION_FENCED' })
    await a.waitFor((evs) => evs.some((e) => e.event === 'closed'), 10_000, 'a closes')
    // a rejoins, "gets" the lock again, sees b alive and renewing, and yields instead of claiming epoch 3.
    await Bun.sleep(4000)
    expect(a.listening).toBe(false)
    expect(b.listening).toBe(true)
    expect(await acceptingPorts(ports)).toEqual([ports[1]!])
    expect(fs.readdirSync(path.join(real, 'epochs')).sort()).toEqual(['1', '2'])
  },
  60_000,
)

test.skipIf(!hasBindfs)(
  'lying locks: two electors started together end with exactly one primary',
  async () => {
    const real = fs.mkdtempSync(path.join(root, 'real-'))
    const m1 = mount(real, 's1', false)
    const m2 = mount(real, 's2', false)
    const ports = await freePorts(2)
    const a = new ElectorProc({ dir: m1, port: ports[0], nodeId: 'a', keepAliveMs: 200, sleepMs: 300 })
    const b = new ElectorProc({ dir: m2, port: ports[1], nodeId: 'b', keepAliveMs: 200, sleepMs: 300 })
    procs.push(a, b)
    const deadline = Date.now() + 20_000
    let stable = 0
    while (Date.now() < deadline && stable < 10) {
      const n = [a, b].filter((p) => p.listening).length
      stable = n === 1 ? stable + 1 : 0
      await Bun.sleep(100)
    }
    expect(stable).toBe(10)
    expect((await acceptingPorts(ports)).length).toBe(1)
  },
  60_000,
)

test.skipIf(!hasBindfs)(
  'hung filesystem: keep-alive that cannot finish counts as loss and closes the connectors',
  async () => {
    const real = fs.mkdtempSync(path.join(root, 'real-'))
    const m = path.join(root, 'hang')
    fs.mkdirSync(m, { recursive: true })
    // Foreground bindfs, so we know the daemon's pid and can freeze it: every call on the mount then hangs.
    const daemon = spawn('bindfs', ['-f', real, m], { stdio: 'ignore' })
    mounts.push(m)
    const mounted = async () => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${m} `)
    for (let i = 0; i < 100 && !(await mounted()); i++) await Bun.sleep(50)
    expect(await mounted()).toBe(true)
    const [port] = await freePorts(1)
    const a = new ElectorProc({ dir: m, port, nodeId: 'hung', keepAliveMs: 200, keepAliveTimeoutMs: 300 })
    procs.push(a)
    try {
      await a.waitFor(() => a.listening, 10_000, 'listening')
      await Bun.sleep(300)
      const frozenAt = Date.now()
      daemon.kill('SIGSTOP')
      await a.waitFor(
        (evs) => evs.some((e) => e.event === 'closed'),
        10_000,
        'connectors closed while the filesystem hangs',
      )
      const closed = a.events.find((e) => e.event === 'closed')!
      console.log(`hung filesystem: connectors closed ${closed.t - frozenAt} ms after the freeze (${closed.reason})`)
      expect(String(closed.reason)).toContain('made no progress')
      expect(closed.t - frozenAt).toBeLessThan(2000)
      expect(await accepts(port!)).toBe(false)
    } finally {
      daemon.kill('SIGCONT')
      await a.kill('SIGKILL')
      spawnSync('fusermount', ['-u', '-z', m])
      daemon.kill('SIGKILL')
    }
  },
  60_000,
)

test.skipIf(!hasBindfs)(
  'FsSharePort refuses to create its lock file in a share path that is no longer mounted, and opens it again once re-mounted',
  async () => {
    const real = path.join(root, 'real-unmount')
    fs.mkdirSync(real, { recursive: true })
    const m = mount(real, 'host-unmount', true)
    const dir = path.join(m, 'broker')
    const port = new FsSharePort(dir, 'flock', 1000)
    try {
      await port.ensureDir()
      const first = await port.openLock()
      await first.close()
      expect(spawnSync('fusermount', ['-u', '-z', m]).status).toBe(0)
      // The path is a bare local directory now: a lock there would exclude nobody.
      fs.mkdirSync(dir, { recursive: true })
      const refused = await port.openLock().then(
        () => null,
        (e: NodeJS.ErrnoException) => e,
      )
      expect(refused?.code).toBe('ENOTCONN')
      expect(fs.existsSync(path.join(dir, 'lock'))).toBe(false)
      fs.rmSync(dir, { recursive: true })
      const r = spawnSync('bindfs', ['--multithreaded', '--enable-lock-forwarding', real, m])
      expect(r.status).toBe(0)
      const again = await port.openLock()
      await again.close()
      expect(fs.existsSync(path.join(real, 'broker', 'lock'))).toBe(true)
    } finally {
      port.shutdown()
    }
  },
)
