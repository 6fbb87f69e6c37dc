/**
 * Goal: the lock module really excludes other processes, wakes a blocked waiter on release, keeps a lock
 * taken in the waiting Worker after the Worker ends, drops a late lock after cancel, and refuses a second
 * lock on one file from one process. Method: real child processes (lock-child.ts) on a temp file, for both
 * flock and fcntl OFD locks.
 */
import { describe, test, expect, afterAll } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { LockFile, loadLibc } from './index.ts'
import { LockChildProcess } from '../probe/lock-child-process.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { makeTempDir } from '../../testing/temp-dir.ts'

const scratch = makeTempDir('sfb-lock-')
const dir = scratch.path
const children: LockChildProcess[] = []
afterAll(async () => {
  for (const c of children) await c.kill9()
  scratch.remove()
})
function child(file: string, kind: 'flock' | 'fcntl', mode: 'try' | 'wait' | 'shtry'): LockChildProcess {
  const c = new LockChildProcess(file, kind, mode)
  children.push(c)
  return c
}

for (const kind of ['flock', 'fcntl'] as const) {
  describe(`LockFile ${kind}`, () => {
    test(`LockFile ${kind} excludes another process and is free after kill -9`, async () => {
      const file = path.join(dir, `${kind}-excl`)
      const holder = child(file, kind, 'try')
      expect((await holder.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('locked')
      const lf = await LockFile.open(file, kind)
      try {
        expect(lf.tryLock()).toBe(false)
        if (kind === 'fcntl') expect((await loadLibc()).fcntlGetLock(lf.fd, 'ex')?.type).toBe('ex')
        await holder.kill9()
        let got = false
        for (let i = 0; i < 200 && !got; i++) {
          got = lf.tryLock()
          if (!got) await Bun.sleep(10)
        }
        expect(got).toBe(true)
        const other = child(file, kind, 'try')
        expect((await other.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('busy')
      } finally {
        lf.close()
      }
    })

    test(`LockFile ${kind} blocking waiter wakes on release and keeps the lock after the worker ends`, async () => {
      const file = path.join(dir, `${kind}-wait`)
      const holder = child(file, kind, 'try')
      expect((await holder.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('locked')
      const lf = await LockFile.open(file, kind)
      try {
        const w = lf.waitLock()
        let woke = false
        void w.done.then(() => (woke = true))
        await Bun.sleep(200)
        expect(woke).toBe(false)
        await holder.kill9()
        await w.done
        expect(lf.isHeld).toBe(true)
        await Bun.sleep(100) // the worker has exited by now; the lock must stay with our descriptor
        const other = child(file, kind, 'try')
        expect((await other.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('busy')
        await other.kill9()
      } finally {
        lf.close()
      }
      const after = child(file, kind, 'try')
      expect((await after.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('locked')
      await after.kill9()
    })

    test(`LockFile ${kind} cancelled wait leaves no lock behind`, async () => {
      const file = path.join(dir, `${kind}-cancel`)
      const holder = child(file, kind, 'try')
      expect((await holder.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('locked')
      const lf = await LockFile.open(file, kind)
      const w = lf.waitLock()
      await Bun.sleep(100)
      w.cancel()
      lf.close()
      await holder.kill9()
      await Bun.sleep(100)
      const other = child(file, kind, 'try')
      expect((await other.next(['locked', 'busy', 'error'], 10_000))?.event).toBe('locked')
      await other.kill9()
    })
  })
}

test('LockFile refuses a second lock on the same file from one process, whatever the type', async () => {
  const file = path.join(dir, 'double')
  const a = await LockFile.open(file, 'flock')
  try {
    expect(a.tryLock()).toBe(true)
    for (const kind of ['flock', 'fcntl'] as const) {
      let err: unknown
      try {
        await LockFile.open(file, kind)
      } catch (e) {
        err = e
      }
      expect(isBrokerError(err, 'ELECTION_LOCK_HELD')).toBe(true)
    }
    fs.symlinkSync(file, path.join(dir, 'double-link'))
    await expect(LockFile.open(path.join(dir, 'double-link'), 'fcntl')).rejects.toMatchObject({
      code: 'ELECTION_LOCK_HELD',
    })
  } finally {
    a.close()
  }
  const b = await LockFile.open(file, 'fcntl')
  expect(b.tryLock()).toBe(true)
  b.close()
})
