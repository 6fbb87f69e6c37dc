/**
 * A simulated shared directory for the election simulation: one SimWorld (the lock file's inode and text, epochs,
 * replica heartbeats, takeovers, and the kernel's lock table) seen by each node through its own SimSharePort.
 * Locks live in domains: honest (every node in one domain) or lying (each node its own, as two FUSE mounts without
 * lock forwarding). Every call completes on the calling node's clock after a small latency, so a stopped node makes
 * no progress; a port can be put in a mode: `hung` (calls never complete until the mode ends: a stopped NFS server),
 * `failing` (calls fail with ENOTCONN: the share is gone), `slow` (long latencies, under the keep-alive timeout).
 */
import type { LockHandle, SharePort, ShareFacts } from '../ports.ts'
import { parseHolderRecord, type HolderRecord, type ReplicaRecord, type TakeoverRecord } from '../shared-dir.ts'
import type { NodeClock, SimScheduler } from './sim-scheduler.ts'

export type ShareMode = 'ok' | 'hung' | 'failing' | 'slow'

function errno(code: string, what: string): Error {
  return Object.assign(new Error(`${code}: ${what}`), { code })
}

export class SimWorld {
  lockIno: number | null = null
  readonly texts = new Map<number, string>()
  private nextIno = 100
  /** epoch → who claimed it and when (virtual ms). */
  readonly epochs = new Map<number, { nodeId: string; t: number }>()
  readonly replicas = new Map<string, ReplicaRecord>()
  takeovers: TakeoverRecord[] = []
  /** `${domain}|${ino}` → the handle holding it. */
  readonly locks = new Map<string, number>()
  readonly waiters = new Map<string, { hid: number; grant: () => void }[]>()

  constructor(
    readonly sched: SimScheduler,
    readonly lying: boolean,
  ) {}

  domain(nodeIdx: number): string {
    return this.lying ? `n${nodeIdx}` : 'shared'
  }

  newInode(): number {
    const ino = this.nextIno++
    this.texts.set(ino, '')
    return ino
  }

  maxEpoch(): number {
    let m = 0
    for (const e of this.epochs.keys()) m = Math.max(m, e)
    return m
  }

  deleteLock(): void {
    this.lockIno = null
  }

  replaceLock(): void {
    this.lockIno = this.newInode()
  }

  release(key: string, hid: number): void {
    if (this.locks.get(key) !== hid) return
    this.locks.delete(key)
    const q = this.waiters.get(key)
    const next = q?.shift()
    if (next) {
      this.locks.set(key, next.hid)
      next.grant()
    }
  }
}

let handleIds = 1

export class SimSharePort implements SharePort {
  readonly dir = '/sim'
  readonly lockPath = '/sim/lock'
  mode: ShareMode = 'ok'
  private seq = 0
  private readonly inflight = new Map<number, { start: number; attempt: () => void }>()
  private blocked: (() => void)[] = []
  private readonly handles = new Set<{ key: string; hid: number; closed: boolean; cancelWait: () => void }>()
  dead = false
  /** The lock file was opened at least once through this port (the share worked for this process). */
  worked = false

  constructor(
    private readonly world: SimWorld,
    private readonly nodeIdx: number,
    private readonly clock: NodeClock,
    private readonly random: () => number,
  ) {}

  setMode(m: ShareMode): void {
    this.mode = m
    if (m === 'hung') return
    const b = this.blocked
    this.blocked = []
    for (const attempt of b) this.clock.thread(attempt, this.latency())
  }

  /** kill -9: descriptors close (locks released), calls in flight never answer. */
  kill(): void {
    this.dead = true
    for (const h of this.handles) {
      h.cancelWait()
      if (!h.closed) this.world.release(h.key, h.hid)
      h.closed = true
    }
    this.handles.clear()
    this.inflight.clear()
    this.blocked = []
  }

  private latency(): number {
    return this.mode === 'slow' ? 100 + Math.floor(this.random() * 600) : 1 + Math.floor(this.random() * 3)
  }

  /**
   * One filesystem call, as the share worker makes it: it runs on its own thread (stopped with the process, not
   * starved with its event loop) after a latency, blocks while the share hangs, and only its answer is delivered on
   * the node's event loop (late when the loop is starved). `busy()` sees the call until it returns in the worker.
   */
  private op<T>(compute: () => T): Promise<T> {
    const seq = ++this.seq
    return new Promise<T>((resolve, reject) => {
      const attempt = () => {
        if (this.dead) return
        if (this.mode === 'hung') {
          this.blocked.push(attempt)
          return
        }
        this.inflight.delete(seq)
        let deliver: () => void
        if (this.mode === 'failing') {
          const e = errno('ENOTCONN', 'simulated share gone')
          deliver = () => reject(e)
        } else {
          try {
            const v = compute()
            deliver = () => resolve(v)
          } catch (e) {
            deliver = () => reject(e)
          }
        }
        this.clock.run(deliver)
      }
      this.inflight.set(seq, { start: this.world.sched.now, attempt })
      this.clock.thread(attempt, this.latency())
    })
  }

  busy(): { ms: number; seq: number } {
    let oldest: { start: number; seq: number } | null = null
    for (const [seq, e] of this.inflight) if (!oldest || e.start < oldest.start) oldest = { start: e.start, seq }
    return oldest ? { ms: this.world.sched.now - oldest.start, seq: oldest.seq } : { ms: 0, seq: 0 }
  }

  async ensureDir(): Promise<void> {
    await this.op(() => undefined)
  }

  openLock(): Promise<LockHandle> {
    return this.op(() => {
      const w = this.world
      if (w.lockIno === null) w.lockIno = w.newInode()
      this.worked = true
      return this.handle(w.lockIno)
    })
  }

  private handle(ino: number): LockHandle {
    const w = this.world
    const key = `${w.domain(this.nodeIdx)}|${ino}`
    const h = { key, hid: handleIds++, closed: false, cancelWait: () => undefined }
    this.handles.add(h)
    return {
      ino,
      dev: 1,
      tryLock: () => {
        if (this.mode === 'failing') throw errno('ENOTCONN', 'simulated share gone')
        const holder = w.locks.get(key)
        if (holder === undefined || holder === h.hid) {
          w.locks.set(key, h.hid)
          return true
        }
        return false
      },
      waitLock: () => {
        let settled = false
        const done = new Promise<void>((resolve) => {
          const grant = () => this.clock.run(() => !settled && ((settled = true), resolve()))
          if (w.locks.get(key) === undefined) {
            w.locks.set(key, h.hid)
            grant()
            return
          }
          const q = w.waiters.get(key) ?? []
          q.push({ hid: h.hid, grant })
          w.waiters.set(key, q)
          h.cancelWait = () => {
            settled = true
            const i = q.findIndex((x) => x.hid === h.hid)
            if (i >= 0) q.splice(i, 1)
          }
        })
        return { done, cancel: () => h.cancelWait() }
      },
      close: () => {
        if (h.closed) return
        h.closed = true
        h.cancelWait()
        this.handles.delete(h)
        w.release(key, h.hid)
      },
    }
  }

  statLock(): Promise<{ ino: number; dev: number }> {
    return this.op(() => {
      if (this.world.lockIno === null) throw errno('ENOENT', 'lock')
      return { ino: this.world.lockIno, dev: 1 }
    })
  }

  check(withReplicas: boolean): Promise<ShareFacts> {
    return this.op(() => {
      const w = this.world
      const epochs = [...w.epochs.keys()].map(String)
      const replicas = withReplicas ? [...w.replicas.values()].map((r) => JSON.stringify(r)) : null
      if (w.lockIno === null) return { missing: 'ENOENT', pathIno: 0, pathDev: 0, recordText: '', epochs, replicas }
      return { pathIno: w.lockIno, pathDev: 1, recordText: w.texts.get(w.lockIno) ?? '', epochs, replicas }
    })
  }

  writeRecord(ino: number, _dev: number, rec: HolderRecord, renewal: boolean): Promise<void> {
    const text = JSON.stringify(rec)
    return this.op(() => {
      if (this.world.lockIno !== ino) throw errno('EREPLACED', `lock now names inode ${this.world.lockIno}, not ${ino}`)
      if (renewal) {
        const cur = parseHolderRecord(this.world.texts.get(ino) ?? '')
        if (!cur || cur.nodeId !== rec.nodeId || cur.epoch !== rec.epoch)
          throw errno('ENOTOURS', 'the record is not ours any more')
      }
      this.world.texts.set(ino, text)
    })
  }

  readRecord(): Promise<{ rec: HolderRecord | null; ino: number } | null> {
    return this.op(() => {
      const ino = this.world.lockIno
      return ino === null ? null : { rec: parseHolderRecord(this.world.texts.get(ino) ?? ''), ino }
    })
  }

  maxEpoch(): Promise<number> {
    return this.op(() => this.world.maxEpoch())
  }

  epochExists(n: number): Promise<boolean> {
    return this.op(() => this.world.epochs.has(n))
  }

  /** Two calls, as on a real filesystem (list, then exclusive create), so two claimers can race. */
  async claimEpoch(who: { nodeId: string; host: string; pid: number }): Promise<number | null> {
    const n = (await this.op(() => this.world.maxEpoch())) + 1
    return this.op(() => {
      if (this.world.epochs.has(n)) return null
      this.world.epochs.set(n, { nodeId: who.nodeId, t: this.world.sched.now })
      return n
    })
  }

  writeReplica(rec: ReplicaRecord): Promise<void> {
    return this.op(() => void this.world.replicas.set(rec.nodeId, rec))
  }

  removeReplica(nodeId: string): Promise<void> {
    return this.op(() => void this.world.replicas.delete(nodeId))
  }

  readReplicas(): Promise<ReplicaRecord[]> {
    return this.op(() => [...this.world.replicas.values()])
  }

  readTakeovers(): Promise<TakeoverRecord[]> {
    return this.op(() => [...this.world.takeovers])
  }

  appendTakeover(rec: TakeoverRecord): Promise<void> {
    return this.op(() => void (this.world.takeovers = [...this.world.takeovers, rec].slice(-20)))
  }

  pidAlive(): boolean {
    // Every simulated node is on a host of its own: a holder on another host is never checked by pid.
    return true
  }

  shutdown(): void {}
}
