/**
 * FaultyFs: an in-memory FileIO (src/storage/journal/file-io.ts) for crash and fault-injection tests of the journal.
 * It models what a crash may do to unsynced state: every file keeps its last fdatasync'ed content and the writes
 * since; every directory keeps its last fsync'ed entries (creates, renames, unlinks become durable only with
 * `syncDir`). `crash(mode)` then decides the fate of the unsynced part:
 *   keep: everything survives (the OS flushed it all);  drop: only synced data and entries survive;
 *   tear: synced entries, and each file's unsynced writes but the last, which is cut at a random byte;
 *   flip: synced entries, all unsynced writes, one random byte inside them flipped.
 * Faults: `failAt(n)` makes the n-th I/O call (counting from now, 1-based, every method) throw; `failWhen(pred)`
 * fails every matching call (e.g. ENOSPC on writes). Errors are BrokerError('STORAGE_IO') with `details.errno`,
 * exactly as nodeFileIO reports them. After `crash()` old handles throw EBADF, like a dead process's.
 * Simplification: directories (mkdir) are durable at once. Randomness is seeded (constructor), so a failing case
 * replays from its seed.
 */
import { dirname } from 'node:path'
import { ioError, type FileHandleIO, type FileIO, type OpenMode } from '../storage/journal/file-io.ts'

export type CrashMode = 'keep' | 'drop' | 'tear' | 'flip'
export type FsCall =
  | 'open'
  | 'write'
  | 'read'
  | 'sync'
  | 'truncate'
  | 'size'
  | 'close'
  | 'stat'
  | 'readdir'
  | 'mkdir'
  | 'rename'
  | 'unlink'
  | 'syncDir'
  | 'readFile'

type PendingOp = { kind: 'write'; pos: number; data: Buffer } | { kind: 'truncate'; length: number }

class Inode {
  data: Buffer = Buffer.alloc(0)
  durable: Buffer = Buffer.alloc(0)
  pending: PendingOp[] = []
}

function applyOp(data: Buffer, op: PendingOp): Buffer {
  if (op.kind === 'truncate') {
    if (op.length <= data.length) return Buffer.from(data.subarray(0, op.length))
    return Buffer.concat([data, Buffer.alloc(op.length - data.length)])
  }
  const end = op.pos + op.data.length
  const out = end > data.length ? Buffer.concat([data, Buffer.alloc(end - data.length)]) : Buffer.from(data)
  op.data.copy(out, op.pos)
  return out
}

export class FaultyFs implements FileIO {
  private files = new Map<string, Inode>()
  private durableNames = new Map<string, Inode>()
  private dirs = new Set<string>(['/'])
  private generation = 0
  private s: number
  /** I/O calls made so far. */
  calls = 0
  private failCall: { n: number; errno: string } | null = null
  private failPred: { pred: (call: FsCall, path: string) => boolean; errno: string } | null = null
  /** Calls that were failed, for assertions and messages. */
  readonly failed: { call: FsCall; path: string; errno: string }[] = []

  constructor(readonly seed = 1) {
    this.s = seed >>> 0
  }

  private rand(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** Make the n-th I/O call from now (1-based) throw `errno`, once. */
  failAt(n: number, errno = 'EIO'): void {
    this.failCall = { n: this.calls + n, errno }
  }
  /** Fail every call matching `pred` until clearFaults(). */
  failWhen(pred: (call: FsCall, path: string) => boolean, errno = 'EIO'): void {
    this.failPred = { pred, errno }
  }
  clearFaults(): void {
    this.failCall = null
    this.failPred = null
  }

  private enter(call: FsCall, path: string): void {
    this.calls++
    let errno: string | null = null
    if (this.failCall && this.calls === this.failCall.n) {
      errno = this.failCall.errno
      this.failCall = null
    } else if (this.failPred?.pred(call, path)) errno = this.failPred.errno
    if (errno) {
      this.failed.push({ call, path, errno })
      throw ioError(call, path, Object.assign(new Error(`injected ${errno}`), { code: errno }))
    }
  }

  private err(call: string, path: string, errno: string): never {
    throw ioError(call, path, Object.assign(new Error(`${errno}: ${call} ${path}`), { code: errno }))
  }

  private norm(p: string): string {
    const n = p.replace(/\/+/g, '/').replace(/\/$/, '')
    return n === '' ? '/' : n
  }

  private parentMustExist(call: string, p: string) {
    if (!this.dirs.has(dirname(p))) this.err(call, p, 'ENOENT')
  }

  async open(path: string, mode: OpenMode): Promise<FileHandleIO> {
    const p = this.norm(path)
    this.enter('open', p)
    let ino = this.files.get(p)
    if (mode === 'createExclusive') {
      this.parentMustExist('open', p)
      if (ino || this.dirs.has(p)) this.err('open', p, 'EEXIST')
      ino = new Inode()
      this.files.set(p, ino)
    } else if (!ino) this.err('open', p, 'ENOENT')
    return this.handle(p, ino!, mode !== 'read')
  }

  private handle(path: string, ino: Inode, writable: boolean): FileHandleIO {
    const gen = this.generation
    let closed = false
    const live = (call: FsCall) => {
      this.enter(call, path)
      if (closed || gen !== this.generation) this.err(call, path, 'EBADF')
    }
    return {
      path,
      write: async (data, position) => {
        live('write')
        if (!writable) this.err('write', path, 'EBADF')
        const op: PendingOp = { kind: 'write', pos: position, data: Buffer.from(data) }
        ino.data = applyOp(ino.data, op)
        ino.pending.push(op)
      },
      read: async (into, length, position) => {
        live('read')
        const n = Math.max(0, Math.min(length, ino.data.length - position))
        if (n > 0) into.set(ino.data.subarray(position, position + n), 0)
        return n
      },
      sync: async () => {
        live('sync')
        ino.durable = Buffer.from(ino.data)
        ino.pending = []
      },
      truncate: async (length) => {
        live('truncate')
        if (!writable) this.err('truncate', path, 'EBADF')
        const op: PendingOp = { kind: 'truncate', length }
        ino.data = applyOp(ino.data, op)
        ino.pending.push(op)
      },
      size: async () => {
        live('size')
        return ino.data.length
      },
      close: async () => {
        this.enter('close', path)
        closed = true
      },
    }
  }

  async stat(path: string) {
    const p = this.norm(path)
    this.enter('stat', p)
    const ino = this.files.get(p)
    if (ino) return { size: ino.data.length }
    return this.dirs.has(p) ? { size: 0 } : null
  }

  async readdir(path: string) {
    const p = this.norm(path)
    this.enter('readdir', p)
    const out: string[] = []
    for (const f of this.files.keys()) if (dirname(f) === p) out.push(f.slice(p.length + (p === '/' ? 0 : 1)))
    for (const d of this.dirs) if (d !== p && dirname(d) === p) out.push(d.slice(p.length + (p === '/' ? 0 : 1)))
    return out.sort()
  }

  async mkdir(path: string) {
    const p = this.norm(path)
    this.enter('mkdir', p)
    // mkdir -p; each level is durable at once (see the file comment).
    for (let d = p; !this.dirs.has(d); d = dirname(d)) this.dirs.add(d)
  }

  async rename(from: string, to: string) {
    const f = this.norm(from)
    const t = this.norm(to)
    this.enter('rename', `${f} -> ${t}`)
    const ino = this.files.get(f)
    if (!ino) this.err('rename', f, 'ENOENT')
    this.parentMustExist('rename', t)
    this.files.delete(f)
    this.files.set(t, ino!)
  }

  async unlink(path: string) {
    const p = this.norm(path)
    this.enter('unlink', p)
    this.files.delete(p)
  }

  async syncDir(path: string) {
    const p = this.norm(path)
    this.enter('syncDir', p)
    if (!this.dirs.has(p)) this.err('syncDir', p, 'ENOENT')
    for (const name of [...this.durableNames.keys()])
      if (dirname(name) === p && !this.files.has(name)) this.durableNames.delete(name)
    for (const [name, ino] of this.files) if (dirname(name) === p) this.durableNames.set(name, ino)
  }

  async readFile(path: string) {
    const p = this.norm(path)
    this.enter('readFile', p)
    const ino = this.files.get(p)
    return ino ? new Uint8Array(ino.data) : null
  }

  /**
   * Simulate a power loss / kill: unsynced state is kept, dropped or garbled per `mode` (one mode, or one per path).
   * Handles opened before the crash fail with EBADF afterwards.
   */
  crash(mode: CrashMode | ((path: string) => CrashMode)): void {
    this.generation++
    const modeOf = typeof mode === 'function' ? mode : () => mode
    const survivors = new Map<string, Inode>()
    // Directory entries: keep mode keeps the current names, the others only synced ones.
    const names = new Map<string, Inode>()
    for (const [p, ino] of this.files) if (modeOf(p) === 'keep') names.set(p, ino)
    for (const [p, ino] of this.durableNames) if (!names.has(p) && modeOf(p) !== 'keep') names.set(p, ino)
    for (const [p, ino] of names) {
      const m = modeOf(p)
      let data: Buffer
      if (m === 'keep' || ino.pending.length === 0) data = m === 'keep' ? ino.data : ino.durable
      else if (m === 'drop') data = ino.durable
      else if (m === 'tear') {
        data = ino.durable
        const lastWrite = ino.pending.map((o) => o.kind).lastIndexOf('write')
        ino.pending.forEach((op, i) => {
          if (i === lastWrite && op.kind === 'write') {
            const keep = Math.floor(this.rand() * op.data.length)
            data = applyOp(data, { kind: 'write', pos: op.pos, data: op.data.subarray(0, keep) })
          } else data = applyOp(data, op)
        })
      } else {
        data = Buffer.from(ino.data)
        const writes = ino.pending.filter(
          (o): o is Extract<PendingOp, { kind: 'write' }> => o.kind === 'write' && o.data.length > 0,
        )
        if (writes.length > 0) {
          const w = writes[Math.floor(this.rand() * writes.length)]
          const at = w.pos + Math.floor(this.rand() * w.data.length)
          if (at < data.length) data[at] ^= 1 << Math.floor(this.rand() * 8)
        }
      }
      const fresh = new Inode()
      fresh.data = Buffer.from(data)
      fresh.durable = Buffer.from(data)
      survivors.set(p, fresh)
    }
    this.files = survivors
    this.durableNames = new Map(survivors)
  }

  /** Test access: the current bytes of a file (null if absent). */
  peek(path: string): Buffer | null {
    const ino = this.files.get(this.norm(path))
    return ino ? Buffer.from(ino.data) : null
  }
  /** Test access: overwrite bytes of a file as durable data (e.g. to flip a synced byte: bit rot). */
  poke(path: string, offset: number, bytes: Uint8Array): void {
    const ino = this.files.get(this.norm(path))
    if (!ino) throw new Error(`FaultyFs.poke: no file ${path}`)
    ino.data = applyOp(ino.data, { kind: 'write', pos: offset, data: Buffer.from(bytes) })
    ino.durable = Buffer.from(ino.data)
  }
  list(): string[] {
    return [...this.files.keys()].sort()
  }
}
