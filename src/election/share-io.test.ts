/**
 * Goal: ShareIO tells a hung filesystem call from a late event loop (issue #12). Method: a FIFO opened for reading
 * blocks in the worker until a writer appears — a call that hangs on demand, no FUSE needed; a busy loop on the main
 * thread stands in for CPU starvation. Assertions are on the worker's own stamp, with wide margins.
 */
import { expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { ShareIO } from './share-io.ts'
import { deposalBackoffMs, DEPOSAL_BACKOFF_MAX_MS } from './backoff.ts'
import { until } from '../testing/until.ts'
import { tempDir } from '../testing/temp-dir.ts'

const dir = tempDir('sfb-shareio-')

function fifo(name: string): string {
  const p = path.join(dir, name)
  expect(spawnSync('mkfifo', [p]).status).toBe(0)
  return p
}

/** Let a reader blocked on the FIFO through (a non-blocking writer open succeeds once a reader waits). */
function unblock(p: string): void {
  const fd = fs.openSync(p, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
  fs.closeSync(fd)
}

test('ShareIO busyForMs is the age of the call in progress in the worker, and 0 once it returns', async () => {
  const io = new ShareIO(60_000)
  const p = fifo('hang-1')
  const opened = io.open(p, fs.constants.O_RDONLY)
  await until(() => io.busy().ms >= 300, 'the blocked open counted as in progress', 10_000, 20)
  expect(io.busy().ms).toBeGreaterThanOrEqual(300)
  await until(
    () => {
      try {
        unblock(p)
        return true
      } catch {
        return false
      }
    },
    'writer opened',
    10_000,
    20,
  )
  const f = await opened
  io.closeFd(f.fd)
  await until(() => io.busy().ms === 0, 'idle after the call returned', 10_000, 20)
  io.shutdown()
}, 30_000)

test('ShareIO: a stalled event loop does not read as a hung call (the call finished in the worker meanwhile)', async () => {
  const io = new ShareIO(60_000)
  const file = path.join(dir, 'plain')
  fs.writeFileSync(file, 'x')
  const st = io.stat(file)
  // 1.5 s of busy loop on the main thread: the worker's stat finishes long before it ends.
  const end = Date.now() + 1500
  while (Date.now() < end) {
    // starved
  }
  expect(io.busy().ms).toBe(0)
  expect((await st).ino).toBe(fs.statSync(file).ino)
  io.shutdown()
}, 30_000)

test('ShareIO abandons a worker stuck in a call: the next call runs in a fresh worker', async () => {
  const io = new ShareIO(200)
  const p = fifo('hang-2')
  void io.open(p, fs.constants.O_RDONLY).then(
    (f) => io.closeFd(f.fd),
    () => undefined,
  )
  await until(() => io.busy().ms > 250, 'the first worker stuck', 10_000, 20)
  const file = path.join(dir, 'plain2')
  fs.writeFileSync(file, 'y')
  expect((await io.stat(file)).ino).toBe(fs.statSync(file).ino)
  expect(io.abandonedWorkers).toBe(1)
  unblock(p)
  io.shutdown()
}, 30_000)

test('deposalBackoffMs doubles per deposal in a row from lockAcquireSleepInterval, capped, with ±25 % jitter', () => {
  expect(deposalBackoffMs(1000, 0, 0.5)).toBe(1000)
  expect(deposalBackoffMs(1000, 1, 0.5)).toBe(1000)
  expect(deposalBackoffMs(1000, 2, 0.5)).toBe(2000)
  expect(deposalBackoffMs(1000, 3, 0.5)).toBe(4000)
  expect(deposalBackoffMs(1000, 4, 0)).toBe(6000)
  expect(deposalBackoffMs(1000, 4, 0.999)).toBeLessThanOrEqual(10_000)
  expect(deposalBackoffMs(1000, 50, 0.5)).toBe(DEPOSAL_BACKOFF_MAX_MS)
})
