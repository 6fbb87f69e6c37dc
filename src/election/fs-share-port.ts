/**
 * FsSharePort: the election's ports over a real shared directory. Calls that touch the lock file, the holder
 * record and the epochs run in the ShareIO worker (a hung mount never holds the event loop, and a hang is measured
 * where the call runs); replica heartbeats and takeover records go through the fs thread pool (never in the
 * election's critical path). The lock calls themselves (flock/fcntl) go through the libc binding (lock/).
 */
import fs from 'node:fs'
import path from 'node:path'
import { mountOf } from './mountinfo.ts'
import fsp from 'node:fs/promises'
import { LockFile } from './lock/index.ts'
import type { LockType } from '../config/index.ts'
import { ShareIO, sharesDescriptors } from './share-io.ts'
import type { LockHandle, SharePort, ShareFacts } from './ports.ts'
import {
  sharedPaths,
  encodeRecord,
  parseHolderRecord,
  maxEpoch,
  readReplicas,
  replicaFile,
  writeJsonAtomicAsync,
  TAKEOVERS_KEPT,
  parseTakeovers,
  type HolderRecord,
  type ReplicaRecord,
  type TakeoverRecord,
} from './shared-dir.ts'

export class FsSharePort implements SharePort {
  readonly lockPath: string
  private readonly paths: ReturnType<typeof sharedPaths>
  private readonly io: ShareIO

  constructor(
    readonly dir: string,
    private readonly lockType: LockType,
    abandonAfterMs: number,
  ) {
    this.paths = sharedPaths(dir)
    this.lockPath = this.paths.lock
    this.io = new ShareIO(abandonAfterMs)
  }

  async ensureDir(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true })
  }

  /**
   * The mount point the shared directory lives on when it is not the root filesystem's (found at the first lock
   * open, when the share works); null: on `/` or unknown, nothing to check. undefined: not looked up yet.
   */
  private mountPoint: string | null | undefined

  /**
   * Refuse to open (and so create) the lock file when the share's mount point is no longer a mount point: its
   * path is then a bare local directory (the share was unmounted), and a lock taken there would exclude nobody
   * while an empty local store got served. Fails like a share that is gone (ENOTCONN): the elector retries until
   * the share is mounted again. A re-mount passes (another device number, but a mount point again).
   */
  private async assertShareMounted(): Promise<void> {
    if (this.mountPoint === undefined) {
      const m = mountOf(this.dir)
      this.mountPoint = m && m.mountPoint !== path.sep ? m.mountPoint : null
    }
    const mp = this.mountPoint
    if (mp === null) return
    const [at, above] = await Promise.all([this.io.stat(mp), this.io.stat(path.dirname(mp))])
    if (at.dev === above.dev) {
      const e = new Error(`${mp} is no longer a mount point (the share of ${this.dir} is not mounted)`)
      ;(e as NodeJS.ErrnoException).code = 'ENOTCONN'
      throw e
    }
  }

  async openLock(): Promise<LockHandle> {
    await this.assertShareMounted()
    // The worker opens and closes where descriptors are process-wide (Bun); Deno's are per thread.
    const opener = sharesDescriptors ? this.io : undefined
    const lf = await LockFile.open(this.lockPath, this.lockType, opener)
    return {
      ino: lf.ino,
      dev: lf.dev,
      tryLock: () => lf.tryLock(),
      waitLock: () => lf.waitLock(),
      close: () => lf.close(opener),
    }
  }

  statLock(): Promise<{ ino: number; dev: number }> {
    return this.io.stat(this.lockPath)
  }

  check(withReplicas: boolean): Promise<ShareFacts> {
    return this.io.check({
      lockPath: this.lockPath,
      epochsDir: this.paths.epochs,
      replicasDir: withReplicas ? this.paths.replicas : undefined,
    })
  }

  busy(): { ms: number; seq: number } {
    return this.io.busy()
  }

  writeRecord(ino: number, dev: number, rec: HolderRecord, renewal: boolean): Promise<void> {
    return this.io.write(
      this.lockPath,
      ino,
      dev,
      encodeRecord(rec).toString('utf8'),
      renewal ? { nodeId: rec.nodeId, epoch: rec.epoch } : undefined,
    )
  }

  async readRecord(): Promise<{ rec: HolderRecord | null; ino: number } | null> {
    const r = await this.io.readAt(this.lockPath)
    return r ? { rec: parseHolderRecord(r.text), ino: r.ino } : null
  }

  maxEpoch(): Promise<number> {
    // A listing of epochs/ only (the keep-alive's `check` would also stat and read the lock file).
    return maxEpoch(this.dir)
  }

  epochExists(n: number): Promise<boolean> {
    // The store's fence calls this after every group commit: the thread pool, not the election's worker, so a
    // busy store never makes a keep-alive call wait in the worker's queue.
    return fsp.stat(`${this.paths.epochs}/${n}`).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false
        throw e
      },
    )
  }

  claimEpoch(who: { nodeId: string; host: string; pid: number }): Promise<number | null> {
    return this.io.claim(this.paths.epochs, this.paths.currentEpoch, who)
  }

  writeReplica(rec: ReplicaRecord): Promise<void> {
    return writeJsonAtomicAsync(replicaFile(this.dir, rec.nodeId), rec)
  }

  async removeReplica(nodeId: string): Promise<void> {
    await fsp.rm(replicaFile(this.dir, nodeId), { force: true })
  }

  readReplicas(): Promise<ReplicaRecord[]> {
    return readReplicas(this.dir)
  }

  async readTakeovers(): Promise<TakeoverRecord[]> {
    return parseTakeovers(await fsp.readFile(this.paths.takeovers, 'utf8').catch(() => ''))
  }

  async appendTakeover(rec: TakeoverRecord): Promise<void> {
    const all = await this.readTakeovers()
    all.push(rec)
    await writeJsonAtomicAsync(this.paths.takeovers, all.slice(-TAKEOVERS_KEPT))
  }

  pidAlive(pid: number): boolean {
    return pidAlive(pid)
  }

  shutdown(): void {
    this.io.shutdown()
  }
}

/** Whether a process of this host is alive: exists and is not a zombie (killed, not yet reaped by its parent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return true // no /proc: trust kill(0)
  }
}
