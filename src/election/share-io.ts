/**
 * ShareIO: the election's filesystem calls on the shared directory, run in a worker thread so that (1) a call that
 * hangs (NFS server gone, FUSE daemon stopped) never holds the event loop, and (2) "hung" is measured where the call
 * runs. The worker stamps `busySince` in shared memory when a call starts and clears it when the call returns, so
 * `busy()` gives the age of the call in progress *in the worker*, whatever the event loop is doing. A starved or
 * paused event loop that wakes late sees the call already finished (busySince 0): lateness alone is never taken for
 * a hang (issue #12: a late timer is not evidence that the lock is lost).
 *
 * A worker stuck in a call is abandoned, not waited for: `call()` on a worker busy for longer than
 * `abandonAfterMs` starts a fresh worker, and the stuck one finishes (or not) on its own. `closeFd()` hands a
 * descriptor to a worker and does not wait: closing a file on a hung FUSE mount blocks in FLUSH.
 *
 * Plain CommonJS source run with `eval: true`, so it works from source and inside the compiled binary; `node:` APIs
 * only, so Deno runs it too. Descriptors: under Bun they are process-wide, so `open`/`closeFd` may hand one to the
 * main thread; Deno's are per thread, so there the lock file is opened and closed on the main thread
 * (`sharesDescriptors`), and `check`/`write` never take a descriptor. Not promised: cancellation of a call in
 * progress (no portable way exists).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads'
import type { ShareFacts } from './ports.ts'

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const fs = require('node:fs')
const path = require('node:path')
const state = new BigInt64Array(workerData.sab)
// Stamp the start of every system call, so busySince is the age of the call in progress, not of the whole op.
const stamp = () => {
  Atomics.add(state, 1, 1n)
  Atomics.store(state, 0, BigInt(Date.now()))
}
const S = {}
for (const name of ['statSync', 'fstatSync', 'openSync', 'readSync', 'closeSync', 'readdirSync', 'writeSync', 'ftruncateSync', 'fsyncSync', 'mkdirSync', 'realpathSync', 'writeFileSync', 'renameSync']) {
  S[name] = (...a) => {
    stamp()
    return fs[name](...a)
  }
}
function readText(file) {
  const fd = S.openSync(file, 'r')
  try {
    const size = S.fstatSync(fd).size
    const buf = Buffer.alloc(Math.min(size, 1 << 20))
    const n = size > 0 ? S.readSync(fd, buf, 0, buf.length, 0) : 0
    return buf.subarray(0, n).toString('utf8')
  } finally {
    S.closeSync(fd)
  }
}
const ops = {
  check(a) {
    let st
    try {
      st = S.statSync(a.lockPath)
    } catch (e) {
      return { missing: e.code || String(e) }
    }
    const recordText = readText(a.lockPath)
    let epochs = []
    try {
      epochs = S.readdirSync(a.epochsDir)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
    }
    let replicas = null
    if (a.replicasDir) {
      replicas = []
      let names = []
      try {
        names = S.readdirSync(a.replicasDir)
      } catch (e) {
        if (e.code !== 'ENOENT') throw e
      }
      for (const n of names) {
        if (!n.endsWith('.json')) continue
        try {
          replicas.push(readText(path.join(a.replicasDir, n)))
        } catch (e) {}
      }
    }
    return { pathIno: st.ino, pathDev: st.dev, recordText, epochs, replicas }
  },
  // Through a descriptor of its own (a worker cannot use the main thread's under Deno), on the same inode only.
  // Closing it releases nothing: flock and OFD locks belong to the main thread's open file description.
  write(a) {
    const fd = S.openSync(a.path, a.expect ? fs.constants.O_RDWR : fs.constants.O_WRONLY)
    try {
      const st = S.fstatSync(fd)
      if (st.ino !== a.ino || st.dev !== a.dev) {
        const e = new Error(a.path + ' now names inode ' + st.ino + ', not the locked ' + a.ino)
        e.code = 'EREPLACED'
        throw e
      }
      if (a.expect) {
        // A renewal rewrites only our own record: one delayed by a hung share must not overwrite the record of
        // the primary that took over meanwhile (it would depose it).
        const cur = Buffer.alloc(Math.min(st.size, 1 << 20))
        const n = cur.length > 0 ? S.readSync(fd, cur, 0, cur.length, 0) : 0
        let rec = null
        try {
          rec = JSON.parse(cur.subarray(0, n).toString('utf8'))
        } catch (e) {}
        if (!rec || rec.nodeId !== a.expect.nodeId || rec.epoch !== a.expect.epoch) {
          const e = new Error(a.path + ' now holds the record of ' + (rec ? rec.nodeId + ' epoch ' + rec.epoch : 'nobody') + ', not ours')
          e.code = 'ENOTOURS'
          throw e
        }
      }
      const b = Buffer.from(a.text)
      S.writeSync(fd, b, 0, b.length, 0)
      S.ftruncateSync(fd, b.length)
      S.fsyncSync(fd)
      return true
    } finally {
      S.closeSync(fd)
    }
  },
  open(a) {
    S.mkdirSync(path.dirname(a.path), { recursive: true })
    const fd = S.openSync(a.path, a.flags, 0o644)
    try {
      const st = S.fstatSync(fd)
      return { fd, dev: st.dev, ino: st.ino, real: S.realpathSync(a.path) }
    } catch (e) {
      S.closeSync(fd)
      throw e
    }
  },
  stat(a) {
    const st = S.statSync(a.path)
    return { dev: st.dev, ino: st.ino }
  },
  // The file the path names now, read afresh (close-to-open: only an open revalidates cached pages on NFS/FUSE).
  readAt(a) {
    let fd
    try {
      fd = S.openSync(a.path, 'r')
    } catch (e) {
      if (e.code === 'ENOENT') return null
      throw e
    }
    try {
      const st = S.fstatSync(fd)
      const buf = Buffer.alloc(Math.min(st.size, 1 << 20))
      const n = buf.length > 0 ? S.readSync(fd, buf, 0, buf.length, 0) : 0
      return { ino: st.ino, text: buf.subarray(0, n).toString('utf8') }
    } finally {
      S.closeSync(fd)
    }
  },
  // Claim epoch max+1 by exclusive create (atomic on local filesystems and NFSv3+), durable before it counts.
  claim(a) {
    S.mkdirSync(a.epochsDir, { recursive: true })
    let max = 0
    for (const n of S.readdirSync(a.epochsDir)) if (/^[1-9][0-9]*$/.test(n)) max = Math.max(max, Number(n))
    const n = max + 1
    let fd
    try {
      fd = S.openSync(path.join(a.epochsDir, String(n)), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644)
    } catch (e) {
      if (e.code === 'EEXIST') return null
      throw e
    }
    try {
      S.writeSync(fd, JSON.stringify(Object.assign({ epoch: n }, a.who, { claimedAt: Date.now() })) + '\\n')
      S.fsyncSync(fd)
    } finally {
      S.closeSync(fd)
    }
    const dfd = S.openSync(a.epochsDir, 'r')
    try {
      S.fsyncSync(dfd)
    } catch (e) {
      // Some filesystems (and FUSE mounts) refuse fsync on directories; the create is still atomic.
      if (!['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM', 'EBADF', 'ENOSYS'].includes(e.code)) throw e
    } finally {
      S.closeSync(dfd)
    }
    try {
      const tmp = a.currentEpoch + '.' + process.pid + '.tmp'
      S.writeFileSync(tmp, n + '\\n')
      S.renameSync(tmp, a.currentEpoch)
    } catch (e) {
      // currentEpoch is only a hint for readers; epochs/ is the truth
    }
    return n
  },
  close(a) {
    S.closeSync(a.fd)
    return true
  },
}
parentPort.on('message', (m) => {
  // Quit after every call queued before it (a close handed over just before the stop must still happen). Node and
  // Bun end the worker by closing parentPort; Deno's parentPort has no close() (its workers are web workers, which
  // end themselves with close()).
  if (m.op === 'quit') return typeof parentPort.close === 'function' ? parentPort.close() : globalThis.close()
  stamp()
  let reply
  try {
    reply = { id: m.id, ok: ops[m.op](m.args) }
  } catch (e) {
    reply = { id: m.id, error: { code: e && e.code, message: e && e.message ? e.message : String(e) } }
  }
  Atomics.store(state, 0, 0n)
  parentPort.postMessage(reply)
})
`

export interface OpenedFile {
  fd: number
  dev: number
  ino: number
  real: string
}

/** An error from a call in the worker, with the errno code (ENOTCONN, EIO, ...) kept. */
export class ShareIOError extends Error {
  constructor(
    readonly op: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(`${op}: ${message}`)
  }
}

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
}

class ShareWorker {
  readonly state = new BigInt64Array(new SharedArrayBuffer(16))
  readonly worker: Worker
  readonly pending = new Map<number, Pending>()
  inFlight = 0

  constructor() {
    // smol: Bun gives the worker JavaScriptCore's small heap (its jobs are a few file calls each): about 0.5 MB
    // less anonymous memory at idle. Node and Deno ignore the option.
    const options: WorkerOptions & { smol: boolean } = {
      eval: true,
      workerData: { sab: this.state.buffer },
      smol: true,
    }
    this.worker = new Worker(WORKER_SOURCE, options)
    this.worker.unref()
    this.worker.on('message', (m: { id: number; ok?: unknown; error?: { code?: string; message: string } }) => {
      const p = this.pending.get(m.id)
      if (!p) return
      this.pending.delete(m.id)
      this.inFlight--
      if (m.error) p.reject(new ShareIOError('share', m.error.code, m.error.message))
      else p.resolve(m.ok)
    })
    const failAll = (e: Error) => {
      for (const p of this.pending.values()) p.reject(e)
      this.pending.clear()
      this.inFlight = 0
    }
    this.worker.on('error', failAll)
    this.worker.on('exit', () => failAll(new Error('share I/O worker exited')))
  }

  /** How long the call now running in the worker has been running (0 when idle). */
  busyForMs(): number {
    const since = Number(Atomics.load(this.state, 0))
    return since === 0 ? 0 : Math.max(0, Date.now() - since)
  }

  /** Which call that is: a counter bumped at the start of every call. */
  callSeq(): number {
    return Number(Atomics.load(this.state, 1))
  }
}

/** Whether a descriptor opened in a worker is valid on the main thread (Bun: yes; Deno: no). */
export const sharesDescriptors = (globalThis as { Bun?: unknown }).Bun !== undefined

export class ShareIO {
  private current: ShareWorker | null = null
  private nextId = 1
  /** Workers abandoned while stuck in a call (kept only to report them). */
  private abandoned = 0

  constructor(readonly abandonAfterMs: number) {}

  /** The call in progress: its age and a number that changes with every call (to tell one long call from two). */
  busy(): { ms: number; seq: number } {
    const w = this.current
    return w ? { ms: w.busyForMs(), seq: w.callSeq() } : { ms: 0, seq: 0 }
  }

  get abandonedWorkers(): number {
    return this.abandoned
  }

  check(args: { lockPath: string; epochsDir: string; replicasDir?: string }): Promise<ShareFacts> {
    return this.call('check', args) as Promise<ShareFacts>
  }

  /**
   * Rewrite `path` in place (pwrite at 0, ftruncate, fsync) if it still is inode `ino` of device `dev` and, with
   * `expect`, still holds the record of that node and epoch (else ENOTOURS).
   */
  write(
    path: string,
    ino: number,
    dev: number,
    text: string,
    expect?: { nodeId: string; epoch: number },
  ): Promise<void> {
    return this.call('write', { path, ino, dev, text, expect }) as Promise<void>
  }

  open(path: string, flags: number): Promise<OpenedFile> {
    return this.call('open', { path, flags }) as Promise<OpenedFile>
  }

  stat(path: string): Promise<{ dev: number; ino: number }> {
    return this.call('stat', { path }) as Promise<{ dev: number; ino: number }>
  }

  /** The file `path` names now, opened afresh: its inode and text (null when missing). */
  readAt(path: string): Promise<{ ino: number; text: string } | null> {
    return this.call('readAt', { path }) as Promise<{ ino: number; text: string } | null>
  }

  /** Claim epoch max+1 under `epochsDir` by exclusive create; null when another claimed it first. */
  claim(
    epochsDir: string,
    currentEpoch: string,
    who: { nodeId: string; host: string; pid: number },
  ): Promise<number | null> {
    return this.call('claim', { epochsDir, currentEpoch, who }) as Promise<number | null>
  }

  /** Close a descriptor in a worker without waiting (a close on a hung mount blocks). Errors are ignored. */
  closeFd(fd: number): void {
    this.call('close', { fd }).catch(() => undefined)
  }

  /** Stop the worker once the calls already queued are done (a pending close must still run). */
  shutdown(): void {
    const w = this.current
    this.current = null
    w?.worker.postMessage({ op: 'quit' })
  }

  private worker(): ShareWorker {
    const w = this.current
    if (w && w.busyForMs() > this.abandonAfterMs) {
      // Stuck in a call (hung share): leave it; its calls settle if the share ever answers.
      this.abandoned++
      this.current = null
    }
    if (!this.current) this.current = new ShareWorker()
    return this.current
  }

  private call(op: string, args: unknown): Promise<unknown> {
    const w = this.worker()
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      w.pending.set(id, {
        resolve,
        reject: (e) =>
          reject(e instanceof ShareIOError ? new ShareIOError(op, e.code, e.message.replace(/^share: /, '')) : e),
      })
      w.inFlight++
      w.worker.postMessage({ id, op, args })
    })
  }
}
