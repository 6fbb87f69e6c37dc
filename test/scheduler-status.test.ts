/**
 * `sfbroker status` and the scheduler, over real processes: a primary with schedulerSupport writes the number of
 * scheduled jobs and the next due time into store-summary.json, and status prints them; status warns when the
 * scheduler store (from the holder record) is outside the shared directory, and does not when it is inside
 * (the default `<dataDirectory>/scheduler` with the store directory = dataDirectory).
 * Method: `sfbroker run` with a JSON config, `sfbroker produce --header AMQ_SCHEDULED_DELAY=...` (receipted), then
 * `sfbroker status --json` polled (the summary is rewritten every 2 s). Ports random; children killed in afterAll.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { TestProcesses, runCli, startBroker } from './fixtures/broker-process.ts'
import { pickPort } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

function cli(args: string[], timeoutMs = 60_000): ReturnType<typeof runCli> {
  return runCli(procs, args, { timeoutMs })
}

/** Poll `fn` every 250 ms until it returns non-null (bounded). */
function waitFor<T>(what: string, fn: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  return until(fn, what, timeoutMs, 250) as Promise<T>
}

/** Start a node with `config`, schedule two jobs (due in 10 and 20 min), return the status once it lists them. */
async function scheduleAndStatus(shared: string, config: object) {
  const port = await pickPort()
  const cfgFile = path.join(path.dirname(shared), `broker-${port}.json`)
  fs.writeFileSync(cfgFile, JSON.stringify(config))
  const broker = await startBroker(procs, {
    args: ['--config', cfgFile, '--log-level', 'warn'],
    port,
    waitServing: false,
  })
  const node = broker.child
  const exited = broker.exited
  const url = `tcp://127.0.0.1:${port}`
  const before = Date.now()
  for (const delay of [600_000, 1_200_000]) {
    const p = await waitFor(`produce to a serving node (log: ${broker.log()})`, async () => {
      const r = await cli([
        'produce',
        '--url',
        url,
        '--destination',
        'queue://LATER',
        '--count',
        '1',
        '--message',
        'x',
        '--header',
        `AMQ_SCHEDULED_DELAY=${delay}`,
      ])
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
  return { json, text, before, log: broker.log() }
}

describe('status and the scheduler', () => {
  test('status shows scheduled jobs and next due time, and warns when the scheduler store is outside the shared directory', async () => {
    const root = procs.tempDir('sfbroker-schedstatus-')
    const shared = path.join(root, 'kahadb')
    const outside = path.join(root, 'scheduler')
    const { json, text, before } = await scheduleAndStatus(shared, {
      dataDirectory: root,
      schedulerSupport: true,
      schedulerDirectory: outside,
      persistenceAdapter: { kahaDB: { directory: shared } },
    })
    expect(json.store.scheduler.nextDueAt).toBeGreaterThanOrEqual(before + 600_000)
    expect(json.store.scheduler.nextDueAt).toBeLessThan(before + 1_200_000)
    expect(text).toContain(`scheduler: 2 jobs, next due ${new Date(json.store.scheduler.nextDueAt).toISOString()}`)
    expect(
      json.warnings.filter((w: string) =>
        w.includes(`scheduler directory ${outside} is outside the shared directory ${shared}`),
      ).length,
    ).toBe(1)
    expect(text).toContain(`WARNING: scheduler directory ${outside} is outside the shared directory`)
  }, 180_000)

  test('status gives no scheduler-directory warning for the default layout (scheduler under the shared directory)', async () => {
    const root = procs.tempDir('sfbroker-schedstatus-')
    const { json } = await scheduleAndStatus(root, { dataDirectory: root, schedulerSupport: true })
    expect(json.store.scheduler.jobs).toBe(2)
    expect(json.holder.schedulerDirectory).toBe(path.join(root, 'scheduler'))
    expect(json.warnings.filter((w: string) => /scheduler directory/.test(w))).toEqual([])
  }, 180_000)
})
