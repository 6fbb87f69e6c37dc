/**
 * The lock module: picks the libc binding for the running runtime (Bun or Deno) and wraps one lock file in
 * `LockFile`, which enforces the process-wide rule that a file is locked at most once per process whatever
 * the lock type (flock and OFD locks of one process would otherwise not exclude each other, and a second
 * flock on a new open file description of the same process would block on itself). The registry is keyed by
 * realpath and by dev:ino, so neither a symlink nor a replaced path slips past it.
 */
import fs from 'node:fs'
import path from 'node:path'
import { BrokerError } from '../../lib/errors.ts'
import type { LockType } from '../../config/index.ts'
import { LibcError, type LibcLock, type LockOp, type FcntlLockInfo } from './libc-types.ts'

export { LibcError, type LibcLock, type LockOp, type FcntlLockInfo }

let binding: LibcLock | null = null

/** The libc binding for this runtime, loaded on first use. Throws ELECTION_LOCK_UNSUPPORTED when none loads. */
export async function loadLibc(): Promise<LibcLock> {
  if (binding) return binding
  try {
    if ((globalThis as { Bun?: unknown }).Bun) binding = (await import('./libc-bun.ts')).createBunLibc()
    else if ((globalThis as { Deno?: unknown }).Deno) binding = (await import('./libc-deno.ts')).createDenoLibc()
    else throw new Error(`runtime has neither bun:ffi nor Deno.dlopen`)
  } catch (e) {
    throw new BrokerError(
      'ELECTION_LOCK_UNSUPPORTED',
      `lock module: cannot bind libc flock/fcntl: ${(e as Error).message}`,
      { cause: e },
    )
  }
  return binding
}

/** The binding if already loaded (LockFile.open loads it first). */
export function libcSync(): LibcLock {
  if (!binding) throw new Error('assertion failed: loadLibc() must run before libcSync()')
  return binding
}

/** Opens and closes files off the main thread (ShareIO), so a hung shared filesystem cannot hold the event loop. */
export interface FileOpener {
  open(path: string, flags: number): Promise<{ fd: number; dev: number; ino: number; real: string }>
  closeFd(fd: number): void
}

const heldByPath = new Map<string, LockFile>()
const heldById = new Map<string, LockFile>()

/** The files this process currently has open for locking (realpaths), for diagnostics. */
export function lockFilesOpen(): string[] {
  return [...heldByPath.keys()]
}

export class LockFile {
  private closed = false
  private held = false

  private constructor(
    readonly path: string,
    readonly realPath: string,
    readonly kind: LockType,
    readonly fd: number,
    readonly dev: number,
    readonly ino: number,
    private readonly lib: LibcLock,
  ) {}

  /**
   * Open (creating it and its directory if missing) the lock file for locking. Throws ELECTION_LOCK_HELD when
   * this process already has the same file open for locking, whatever the lock type.
   */
  static async open(file: string, kind: LockType, opener?: FileOpener): Promise<LockFile> {
    const lib = await loadLibc()
    const flags =
      fs.constants.O_RDWR | fs.constants.O_CREAT | ((fs.constants as { O_CLOEXEC?: number }).O_CLOEXEC ?? 0o2000000)
    let opened: { fd: number; dev: number; ino: number; real: string }
    if (opener) opened = await opener.open(file, flags)
    else {
      fs.mkdirSync(path.dirname(file), { recursive: true })
      const fd = fs.openSync(file, flags, 0o644)
      try {
        const st = fs.fstatSync(fd)
        opened = { fd, dev: st.dev, ino: st.ino, real: fs.realpathSync(file) }
      } catch (e) {
        fs.closeSync(fd)
        throw e
      }
    }
    const { fd } = opened
    try {
      const st = opened
      const real = opened.real
      const id = `${st.dev}:${st.ino}`
      const other = heldByPath.get(real) ?? heldById.get(id)
      if (other) {
        throw new BrokerError(
          'ELECTION_LOCK_HELD',
          `lock ${file}: already open for locking in this process (pid ${process.pid}, ${other.kind}); a second lock on the same file from one process is refused`,
          { details: { path: real } },
        )
      }
      const lf = new LockFile(file, real, kind, fd, st.dev, st.ino, lib)
      heldByPath.set(real, lf)
      heldById.set(id, lf)
      return lf
    } catch (e) {
      if (opener) opener.closeFd(fd)
      else fs.closeSync(fd)
      throw e
    }
  }

  get isHeld(): boolean {
    return this.held
  }

  /** Non-blocking exclusive attempt: true when we now hold it, false when another holder has it. */
  tryLock(): boolean {
    this.assertOpen()
    try {
      this.call('exnb')
      this.held = true
      return true
    } catch (e) {
      if (e instanceof LibcError && e.wouldBlock) return false
      throw this.unsupported(e)
    }
  }

  /** Blocking exclusive wait off the main thread; see LibcLock.waitExclusive. */
  waitLock(): { done: Promise<void>; cancel(): void } {
    this.assertOpen()
    const w = this.lib.waitExclusive(this.fd, this.kind)
    return {
      done: w.done.then(
        () => {
          this.held = true
        },
        (e) => {
          throw e instanceof LibcError && e.wouldBlock ? e : this.unsupported(e)
        },
      ),
      cancel: w.cancel,
    }
  }

  /**
   * Release and close. The file stays (it is never deleted). Idempotent. With `closer`, the descriptor is handed
   * to it (a worker) and nothing here touches the file: on a hung mount both the unlock call (with lock
   * forwarding) and close(2) (FUSE FLUSH) block, and a step-down must not. Closing the last descriptor of the open
   * file description drops flock and OFD locks, so no explicit unlock is needed then.
   */
  close(closer?: FileOpener): void {
    if (this.closed) return
    this.closed = true
    if (closer) {
      this.held = false
      closer.closeFd(this.fd)
      this.forget()
      return
    }
    if (this.held) {
      try {
        this.call('un')
      } catch {
        // closing the last descriptor drops the lock anyway
      }
    }
    this.held = false
    try {
      fs.closeSync(this.fd)
    } catch {
      // already closed: nothing holds the lock
    }
    this.forget()
  }

  private forget(): void {
    if (heldByPath.get(this.realPath) === this) heldByPath.delete(this.realPath)
    const id = `${this.dev}:${this.ino}`
    if (heldById.get(id) === this) heldById.delete(id)
  }

  private call(op: LockOp): void {
    if (this.kind === 'flock') this.lib.flock(this.fd, op)
    else this.lib.fcntl(this.fd, op)
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`assertion failed: lock file ${this.path} used after close`)
  }

  private unsupported(e: unknown): BrokerError {
    if (e instanceof BrokerError) return e
    const code = e instanceof LibcError ? e.code : String(e)
    return new BrokerError(
      'ELECTION_LOCK_UNSUPPORTED',
      `lock ${this.path}: ${this.kind} lock failed with ${code}; expected the filesystem to support ${this.kind} locks (try lock type ${this.kind === 'flock' ? 'fcntl' : 'flock'}, or run sfbroker probe-lock)`,
      { cause: e },
    )
  }
}
