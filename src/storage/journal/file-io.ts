/**
 * FileIO: the only door between the journal and the file system. The journal never touches `node:fs` directly, so
 * tests can swap in `src/testing/faulty-fs.ts` (which buffers unsynced writes and fails or garbles them on demand).
 * The real implementation, `nodeFileIO`, uses `node:fs/promises` (Bun and Deno implement it) and maps every error
 * to a BrokerError('STORAGE_IO') that names the operation and the path; `details.errno` keeps the OS code
 * (ENOSPC, EIO, ...). It promises nothing about caching: durability only after `sync()` / `syncDir()`. Sizes
 * (`size()`, `stat()`, and the length `readFile()` reads) are the file server's, not this host's attribute cache's
 * (../fresh-size.ts): another host may have written the file a moment ago.
 */
import { constants as fsConstants } from 'node:fs'
import * as fsp from 'node:fs/promises'
import { BrokerError } from '../../lib/errors.ts'
import { freshSize, sizeNow } from '../fresh-size.ts'

/** How a file is opened: read only; read+write of an existing file; create a new file (fails if it exists). */
export type OpenMode = 'read' | 'readWrite' | 'createExclusive'

export interface FileHandleIO {
  readonly path: string
  /** Write all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>
  /** Read up to `length` bytes at `position` into `into` (from offset 0); returns the bytes read (short at EOF). */
  read(into: Uint8Array, length: number, position: number): Promise<number>
  /** fdatasync: data (and the size) durable. */
  sync(): Promise<void>
  /**
   * Optional: write all of `data` at `position` and resolve only once it is durable, like write() then sync() but in
   * one call (nodeFileIO: a second descriptor opened O_DSYNC, so one system call and one thread-pool round trip
   * instead of two). Covers the bytes of this call only: callers use it when nothing earlier is left unsynced.
   */
  writeDurable?(data: Uint8Array, position: number): Promise<void>
  truncate(length: number): Promise<void>
  size(): Promise<number>
  close(): Promise<void>
}

export interface FileIO {
  open(path: string, mode: OpenMode): Promise<FileHandleIO>
  /** Size of a file, or null when it does not exist. */
  stat(path: string): Promise<{ size: number } | null>
  /** Names in a directory ([] when it does not exist). */
  readdir(path: string): Promise<string[]>
  /** mkdir -p */
  mkdir(path: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** fsync a directory so that creates, renames and unlinks in it are durable. */
  syncDir(path: string): Promise<void>
  /**
   * Whole file, or null when it does not exist. `immutable`: the file is never rewritten under its name once it
   * exists (seals), so a size this host cached cannot be stale and the server need not be asked.
   */
  readFile(path: string, opts?: { immutable?: boolean }): Promise<Uint8Array | null>
}

export function ioError(op: string, path: string, e: unknown): BrokerError {
  if (e instanceof BrokerError) return e
  const errno = (e as { code?: string }).code ?? 'UNKNOWN'
  return new BrokerError('STORAGE_IO', `storage ${op} ${path}: ${errno}: ${(e as Error).message ?? String(e)}`, {
    cause: e,
    details: { errno, op, path },
  })
}

const FLAGS: Record<OpenMode, string> = { read: 'r', readWrite: 'r+', createExclusive: 'wx+' }

class NodeFileHandle implements FileHandleIO {
  /** The O_DSYNC descriptor of writeDurable, opened on first use (only the journal's current segment needs it). */
  private dsync: Promise<fsp.FileHandle> | null = null

  constructor(
    readonly path: string,
    private h: fsp.FileHandle,
    private readonly writable: boolean,
  ) {}

  write(data: Uint8Array, position: number): Promise<void> {
    return this.writeAll(this.h, data, position)
  }

  async writeDurable(data: Uint8Array, position: number): Promise<void> {
    if (!this.writable)
      throw ioError('write(O_DSYNC)', this.path, Object.assign(new Error('file opened read only'), { code: 'EBADF' }))
    if (!this.dsync) {
      this.dsync = fsp.open(this.path, fsConstants.O_WRONLY | fsConstants.O_DSYNC)
      this.dsync.catch(() => (this.dsync = null))
    }
    let h: fsp.FileHandle
    try {
      h = await this.dsync
    } catch (e) {
      throw ioError('open(O_DSYNC)', this.path, e)
    }
    // With O_DSYNC every pwrite(2) returns once its bytes and the metadata needed to read them (the size) are on
    // disk: write() + fdatasync() of this range. A short write loops, each piece durable before the next.
    await this.writeAll(h, data, position)
  }

  private async writeAll(h: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
    let done = 0
    try {
      // A short write is legal for pwrite(2); loop (bounded: each iteration writes >= 1 byte or throws).
      while (done < data.length) {
        const { bytesWritten } = await h.write(data, done, data.length - done, position + done)
        if (bytesWritten <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' })
        done += bytesWritten
      }
    } catch (e) {
      throw ioError('write', this.path, e)
    }
  }
  async read(into: Uint8Array, length: number, position: number): Promise<number> {
    let done = 0
    try {
      while (done < length) {
        const { bytesRead } = await this.h.read(into, done, length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done
    } catch (e) {
      throw ioError('read', this.path, e)
    }
  }
  async sync(): Promise<void> {
    try {
      await this.h.datasync()
    } catch (e) {
      throw ioError('fdatasync', this.path, e)
    }
  }
  async truncate(length: number): Promise<void> {
    try {
      await this.h.truncate(length)
    } catch (e) {
      throw ioError('ftruncate', this.path, e)
    }
  }
  async size(): Promise<number> {
    try {
      // Another host may have appended since this host's cache last asked (fresh-size.ts): ask the server. The
      // handle's open has just gone through the thread pool, so the share answers (the forced call may be sync).
      return (await freshSize(this.path)) ?? (await this.h.stat()).size
    } catch (e) {
      throw ioError('fstat', this.path, e)
    }
  }
  async close(): Promise<void> {
    const dsync = this.dsync
    this.dsync = null
    if (dsync) {
      try {
        await (await dsync).close()
      } catch {
        // The O_DSYNC descriptor only ever wrote durable bytes: nothing is lost if closing it fails.
      }
    }
    try {
      await this.h.close()
    } catch (e) {
      throw ioError('close', this.path, e)
    }
  }
}

export const nodeFileIO: FileIO = {
  async open(path, mode) {
    try {
      return new NodeFileHandle(path, await fsp.open(path, FLAGS[mode]), mode !== 'read')
    } catch (e) {
      throw ioError(`open(${mode})`, path, e)
    }
  },
  async stat(path) {
    try {
      return { size: await sizeNow(path) }
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null
      throw ioError('stat', path, e)
    }
  },
  async readdir(path) {
    try {
      return await fsp.readdir(path)
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return []
      throw ioError('readdir', path, e)
    }
  },
  async mkdir(path) {
    try {
      await fsp.mkdir(path, { recursive: true })
    } catch (e) {
      throw ioError('mkdir', path, e)
    }
  },
  async rename(from, to) {
    try {
      await fsp.rename(from, to)
    } catch (e) {
      throw ioError('rename', `${from} -> ${to}`, e)
    }
  },
  async unlink(path) {
    try {
      await fsp.unlink(path)
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return
      throw ioError('unlink', path, e)
    }
  },
  async syncDir(path) {
    let h: fsp.FileHandle | null = null
    try {
      h = await fsp.open(path, 'r')
      await h.sync()
    } catch (e) {
      throw ioError('fsync(dir)', path, e)
    } finally {
      await h?.close().catch(() => {})
    }
  },
  async readFile(path, opts) {
    try {
      // Refresh the cached size first, or the read stops at the size this host remembers (fresh-size.ts).
      if (!opts?.immutable) await sizeNow(path)
      return new Uint8Array(await fsp.readFile(path))
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return null
      throw ioError('readFile', path, e)
    }
  },
}
