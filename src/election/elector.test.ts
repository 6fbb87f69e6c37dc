/**
 * Goal: Elector behaviours that need one real lock holder but not a whole broker: the replica heartbeat file
 * (`<dir>/replicas/<node>.json`) goes away for good when the replica becomes primary, even when a heartbeat
 * write was in flight at the moment of takeover (before the fix, the late rename re-created the file, so
 * `status` listed the primary as a replica forever and, a few seconds later, warned that it was "gone without
 * a clean stop"). Method: an in-process Elector; the lock is held by a lock child process (probe-lock's) that
 * is killed with -9; the heartbeat's rename is held at a gate through the fs/promises module object that
 * shared-dir.ts calls, so the race is hit every run instead of by chance.
 */
import { afterAll, expect, test } from 'bun:test'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import { Elector } from './elector.ts'
import type { Role } from './types.ts'
import { parseHolderRecord, replicaFile } from './shared-dir.ts'
import { inspectSharedDir } from './status-report.ts'
import { LockChildProcess } from './probe/lock-child-process.ts'
import { makeTempDir, type TempDir } from '../testing/temp-dir.ts'
import { until } from '../testing/until.ts'

const dirs: TempDir[] = []
const kids: LockChildProcess[] = []
const realRename = fsp.rename
afterAll(async () => {
  ;(fsp as { rename: typeof fsp.rename }).rename = realRename
  for (const k of kids) await k.kill9()
  for (const d of dirs) d.remove()
})

/** Lock settings for an in-process Elector: fast keep-alive, blocking wait, no stall watchdog. */
const FAST_LOCK = {
  useLock: true,
  type: 'flock',
  lockKeepAlivePeriod: 200,
  keepAliveTimeout: 200,
  lockAcquireSleepInterval: 200,
  blockingWait: true,
  failIfLocked: false,
  restartAllowed: true,
  failback: false,
  eventLoopStallMax: 0,
} as const

test('Elector removes its replica heartbeat file on takeover even when a heartbeat write was in flight', async () => {
  const scratch = makeTempDir('sfb-elector-')
  dirs.push(scratch)
  const dir = scratch.path
  const holder = new LockChildProcess(path.join(dir, 'lock'), 'flock', 'try')
  kids.push(holder)
  expect((await holder.next(['locked', 'busy', 'error'], 20_000))?.event).toBe('locked')

  const nodeId = 'hb-race'
  const mine = replicaFile(dir, nodeId)
  // Gate: when armed, the next rename onto our heartbeat file waits until released.
  let armed = false
  let entered = false
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  let gatedDone: Promise<void> | null = null
  ;(fsp as { rename: typeof fsp.rename }).rename = ((from: fs.PathLike, to: fs.PathLike) => {
    if (armed && String(to) === mine) {
      armed = false
      entered = true
      gatedDone = gate.then(() => realRename(from, to))
      return gatedDone
    }
    return realRename(from, to)
  }) as typeof fsp.rename

  const roles: Role[] = []
  const elector = new Elector({
    sharedDir: dir,
    brokerName: 'test',
    nodeId,
    connectors: [],
    lock: FAST_LOCK,
    hooks: {
      async activate(ctx) {
        ctx.mark('storeRecovered')
        ctx.mark('connectorsOpen')
      },
      async deactivate() {},
      onRole(role) {
        roles.push(role)
      },
    },
  })
  try {
    await elector.start()
    await until(
      () => elector.status().role === 'replica' && fs.existsSync(mine),
      'replica with a heartbeat file',
      20_000,
      10,
    )
    armed = true
    await until(() => entered, 'a heartbeat write held at the gate', 10_000, 10)

    await holder.kill9()
    await until(() => elector.status().role === 'primary', 'takeover after kill -9 of the holder', 20_000, 10)
    // Removed asynchronously (a hung share must not hold the event loop).
    await until(() => !fs.existsSync(mine), 'the heartbeat file removed on takeover', 5000, 10)

    // The held heartbeat write now lands after the takeover removed the file.
    release()
    await gatedDone
    await until(() => !fs.existsSync(mine), 'the late heartbeat file removed again', 5000, 10)
    const st = await inspectSharedDir(dir)
    expect(st.primary).toBe(true)
    expect(st.replicas.map((r) => r.nodeId)).not.toContain(nodeId)
    expect(roles).toContain('replica')
  } finally {
    release()
    await elector.stop()
  }
}, 60_000)

test('Elector puts the connector addresses the node actually bound (port 0 resolved) into the holder record', async () => {
  const scratch = makeTempDir('sfb-elector-')
  dirs.push(scratch)
  const dir = scratch.path
  const elector = new Elector({
    sharedDir: dir,
    brokerName: 'test',
    nodeId: 'bound-ports',
    connectors: ['stomp://127.0.0.1:0'],
    lock: FAST_LOCK,
    hooks: {
      async activate(ctx) {
        ctx.mark('storeRecovered')
        ctx.mark('connectorsOpen', ['stomp://127.0.0.1:4242'])
      },
      async deactivate() {},
      onRole() {},
    },
  })
  try {
    await elector.start()
    await until(() => elector.status().role === 'primary', 'primary', 20_000, 10)
    const onDisk = () => parseHolderRecord(fs.readFileSync(path.join(dir, 'lock'), 'utf8'))?.connectors ?? []
    await until(() => onDisk()[0] === 'stomp://127.0.0.1:4242', 'the bound address in the record on disk', 10_000, 10)
    const st = await inspectSharedDir(dir)
    expect(st.holder?.connectors).toEqual(['stomp://127.0.0.1:4242'])
  } finally {
    await elector.stop()
  }
}, 60_000)
