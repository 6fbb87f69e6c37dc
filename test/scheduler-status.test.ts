/**
 * `sfbroker status` and the scheduler, over real processes: a primary with schedulerSupport writes the number of
 * scheduled jobs and the next due time into store-summary.json, and status prints them; status warns when the
 * scheduler store (from the holder record) is outside the shared directory, and does not when it is inside
 * (the default `<dataDirectory>/scheduler` with the store directory = dataDirectory).
 * Method: `sfbroker run` with a JSON config, `sfbroker produce --header AMQ_SCHEDULED_DELAY=...` (receipted), then
 * `sfbroker status --json` polled (the summary is rewritten every 2 s). Ports random; children killed in afterAll.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dir, '..')
const BUN = path.join(ROOT, 'node_modules', '.bin', 'bun')
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

function cli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(BUN, ['src/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let out = ''
    let err = ''
    child.stdout!.on('data', (d) => (out += d))
    child.stderr!.on('data', (d) => (err += d))
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(t)
      children.delete(child)
      resolve({ code, out, err })
    })
  })
}

async function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v !== null) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(250)
  }
}

/** Start a node with `config`, schedule two jobs (due in 10 and 20 min), return the status once it lists them. */
async function scheduleAndStatus(shared: string, config: object) {
  const port = await pickPort()
  const cfgFile = path.join(path.dirname(shared), `broker-${port}.json`)
  fs.writeFileSync(cfgFile, JSON.stringify(config))
  const node = spawn(BUN, ['src/main.ts', 'run', '--config', cfgFile, '--connector', `stomp://127.0.0.1:${port}`, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(node)
  let log = ''
  node.stderr!.on('data', (d) => (log += d))
  const exited = new Promise((r) => node.on('exit', r))
  const url = `tcp://127.0.0.1:${port}`
  const before = Date.now()
  for (const delay of [600_000, 1_200_000]) {
    const p = await waitFor(`produce to a serving node (log: ${log})`, async () => {
      const r = await cli(['produce', '--url', url, '--destination', 'queue://LATER', '--count', '1', '--message', 'x', '--header', `AMQ_SCHEDULED_DELAY=${delay}`])
      return r.code === 0 ? r : null
    })
    expect(p.code).toBe(0)
  }
  const json = await waitFor('status listing 2 scheduled jobs', async () => {
    const r = JSON.parse((await cli(['status', shared, '--json'])).out)
    return r.store?.scheduler?.jobs === 2 ? r : null
  })
  const text = (await cli(['status', shared])).out
  node.kill('SIGTERM')
  await exited
  return { json, text, before, log }
}

describe('status and the scheduler', () => {
  test('status shows scheduled jobs and next due time, and warns when the scheduler store is outside the shared directory', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-schedstatus-'))
    dirs.push(root)
    const shared = path.join(root, 'kahadb')
    const outside = path.join(root, 'scheduler')
    const { json, text, before } = await scheduleAndStatus(shared, {
      dataDirectory: root, schedulerSupport: true, schedulerDirectory: outside, persistenceAdapter: { kahaDB: { directory: shared } },
    })
    expect(json.store.scheduler.nextDueAt).toBeGreaterThanOrEqual(before + 600_000)
    expect(json.store.scheduler.nextDueAt).toBeLessThan(before + 1_200_000)
    expect(text).toContain(`scheduler: 2 jobs, next due ${new Date(json.store.scheduler.nextDueAt).toISOString()}`)
    expect(json.warnings.filter((w: string) => w.includes(`scheduler directory ${outside} is outside the shared directory ${shared}`)).length).toBe(1)
    expect(text).toContain(`WARNING: scheduler directory ${outside} is outside the shared directory`)
  }, 180_000)

  test('status gives no scheduler-directory warning for the default layout (scheduler under the shared directory)', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sfbroker-schedstatus-'))
    dirs.push(root)
    const { json } = await scheduleAndStatus(root, { dataDirectory: root, schedulerSupport: true })
    expect(json.store.scheduler.jobs).toBe(2)
    expect(json.holder.schedulerDirectory).toBe(path.join(root, 'scheduler'))
    expect(json.warnings.filter((w: string) => /scheduler directory/.test(w))).toEqual([])
  }, 180_000)
})
