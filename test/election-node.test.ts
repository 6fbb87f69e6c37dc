/**
 * Goal: the election through the real broker (`sfbroker run` from source) and the `status` command: one of two
 * brokers on a shared directory answers STOMP CONNECTED, the other refuses connections; `status` exits 0 with a
 * live primary and names it, kill -9 hands over to the other, and `status` exits 3 once every broker stopped
 * and 4 for a directory that is not a broker directory. Method: real processes, raw STOMP CONNECT over TCP.
 */
import { test, expect, afterAll } from 'bun:test'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { freePorts, accepts } from './fixtures/election-harness.ts'
import { stompConnected as connected } from '../src/testing/net-probe.ts'
import { cameTrue } from '../src/testing/until.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'

const MAIN = path.join(import.meta.dir, '..', 'src', 'main.ts')
const scratch = makeTempDir('sfb-elect-node-')
const dir = scratch.path
const procs: ChildProcess[] = []
afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  await Bun.sleep(100)
  scratch.remove()
})

function run(port: number): ChildProcess {
  const p = spawn(
    process.execPath,
    [MAIN, 'run', '--data', dir, '--connector', `stomp://127.0.0.1:${port}`, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  p.stderr!.resume()
  procs.push(p)
  return p
}

function status(d: string): { code: number | null; json: any } {
  const r = spawnSync(process.execPath, [MAIN, 'status', d, '--json'], { encoding: 'utf8', timeout: 30_000 })
  let json: any = null
  try {
    json = JSON.parse(r.stdout)
  } catch {
    json = null
  }
  return { code: r.status, json }
}

test('election through sfbroker run: one serves STOMP, kill -9 hands over, status reports it', async () => {
  const [pa, pb] = await freePorts(2)
  const a = run(pa!)
  expect(await cameTrue(() => connected(pa!), 30_000)).toBe(true)
  const b = run(pb!)
  expect(
    await cameTrue(
      async () => fs.existsSync(path.join(dir, 'replicas')) && fs.readdirSync(path.join(dir, 'replicas')).length > 0,
      30_000,
    ),
  ).toBe(true)
  expect(await accepts(pb!)).toBe(false)

  const s1 = status(dir)
  expect(s1.code).toBe(0)
  expect(s1.json.primary).toBe(true)
  expect(s1.json.holder.pid).toBe(a.pid)
  expect(s1.json.replicas.length).toBe(1)

  const t0 = Date.now()
  a.kill('SIGKILL')
  expect(await cameTrue(() => connected(pb!), 30_000)).toBe(true)
  console.log(`sfbroker run: kill -9 → CONNECTED from the replica in ${Date.now() - t0} ms`)
  const s2 = status(dir)
  expect(s2.code).toBe(0)
  expect(s2.json.holder.pid).toBe(b.pid)
  expect(s2.json.currentEpoch).toBe(2)
  expect(s2.json.lastTakeover.epoch).toBe(2)

  b.kill('SIGTERM')
  expect(await cameTrue(async () => b.exitCode !== null, 30_000)).toBe(true)
  expect(b.exitCode).toBe(0)
  const s3 = status(dir)
  expect(s3.code).toBe(3)
  expect(s3.json.primary).toBe(false)

  const empty = makeTempDir('sfb-not-broker-')
  expect(status(empty.path).code).toBe(4)
  empty.remove()
}, 120_000)
