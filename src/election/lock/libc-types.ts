/**
 * The runtime-neutral shape of the libc lock binding (fs-ext's shape: `flock(fd, 'exnb')`), implemented by
 * libc-bun.ts (bun:ffi) and libc-deno.ts (Deno.dlopen). Every call either succeeds or throws a LibcError
 * carrying the errno name, so callers can tell "held by someone else" (EWOULDBLOCK/EAGAIN/EACCES) from
 * "interrupted" (EINTR) from "this filesystem cannot lock" (ENOLCK, EOPNOTSUPP, EINVAL).
 */

/** ex/sh = exclusive/shared, nb = non-blocking, un = unlock. */
export type LockOp = 'ex' | 'exnb' | 'sh' | 'shnb' | 'un'

/** Who holds a conflicting fcntl lock (F_OFD_GETLK). pid is -1 for OFD locks (the kernel does not track one). */
export interface FcntlLockInfo {
  type: 'ex' | 'sh'
  pid: number
}

export interface LibcLock {
  /** Which runtime binding this is, for diagnostics (`probe-lock`). */
  readonly binding: 'bun:ffi' | 'Deno.dlopen'
  flock(fd: number, op: LockOp): void
  /** Whole-file open-file-description lock via fcntl(F_OFD_SETLK / F_OFD_SETLKW). */
  fcntl(fd: number, op: LockOp): void
  /** F_OFD_GETLK for a whole-file lock of `type`: the conflicting lock, or null when it could be taken. */
  fcntlGetLock(fd: number, type: 'ex' | 'sh'): FcntlLockInfo | null
  /**
   * Start a blocking exclusive lock on `fd` off the main thread. `done` resolves when the lock is held (by the
   * open file description of `fd`, so by this process), rejects with a LibcError on failure. `cancel()` makes
   * `done` never settle: the caller must then close `fd`, which drops the lock if the blocked call gets it later.
   */
  waitExclusive(fd: number, kind: 'flock' | 'fcntl'): { done: Promise<void>; cancel(): void }
}

export const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM',
  4: 'EINTR',
  5: 'EIO',
  9: 'EBADF',
  11: 'EWOULDBLOCK',
  13: 'EACCES',
  22: 'EINVAL',
  35: 'EDEADLK',
  37: 'ENOLCK',
  38: 'ENOSYS',
  95: 'EOPNOTSUPP',
  103: 'ECONNABORTED',
  107: 'ENOTCONN',
  110: 'ETIMEDOUT',
  112: 'EHOSTDOWN',
  116: 'ESTALE',
}

export class LibcError extends Error {
  readonly errno: number
  readonly code: string
  constructor(call: string, errno: number) {
    const code = ERRNO_NAMES[errno] ?? `ERRNO_${errno}`
    super(`${call} failed: ${code} (errno ${errno})`)
    this.name = 'LibcError'
    this.errno = errno
    this.code = code
  }
  /** The lock is held by another open file description (flock: EWOULDBLOCK; fcntl: EAGAIN or EACCES). */
  get wouldBlock(): boolean {
    return this.errno === 11 || this.errno === 13
  }
}

// Linux constants (identical on x86_64 and arm64).
export const LOCK_SH = 1
export const LOCK_EX = 2
export const LOCK_NB = 4
export const LOCK_UN = 8
export const F_OFD_GETLK = 36
export const F_OFD_SETLK = 37
export const F_OFD_SETLKW = 38
export const F_RDLCK = 0
export const F_WRLCK = 1
export const F_UNLCK = 2
/** sizeof(struct flock) on linux x86_64/arm64: l_type s16 @0, l_whence s16 @2, l_start s64 @8, l_len s64 @16, l_pid s32 @24. */
export const STRUCT_FLOCK_BYTES = 32

export function flockFlags(op: LockOp): number {
  switch (op) {
    case 'ex':
      return LOCK_EX
    case 'exnb':
      return LOCK_EX | LOCK_NB
    case 'sh':
      return LOCK_SH
    case 'shnb':
      return LOCK_SH | LOCK_NB
    case 'un':
      return LOCK_UN
  }
}

/** Fill a struct flock for a whole-file lock (start 0, len 0 = to EOF and beyond). Returns the fcntl command. */
export function fillStructFlock(buf: Uint8Array, op: LockOp): number {
  const dv = new DataView(buf.buffer, buf.byteOffset, STRUCT_FLOCK_BYTES)
  buf.fill(0, 0, STRUCT_FLOCK_BYTES)
  const type = op === 'un' ? F_UNLCK : op.startsWith('ex') ? F_WRLCK : F_RDLCK
  dv.setInt16(0, type, true)
  dv.setInt16(2, 0, true) // SEEK_SET
  dv.setBigInt64(8, 0n, true)
  dv.setBigInt64(16, 0n, true)
  dv.setInt32(24, 0, true) // l_pid must be 0 for OFD locks
  return op === 'ex' || op === 'sh' ? F_OFD_SETLKW : F_OFD_SETLK
}

export function readStructFlock(buf: Uint8Array): { type: number; pid: number } {
  const dv = new DataView(buf.buffer, buf.byteOffset, STRUCT_FLOCK_BYTES)
  return { type: dv.getInt16(0, true), pid: dv.getInt32(24, true) }
}

/** Shared libraries to try, glibc first, then musl. */
export const LIBC_CANDIDATES = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so']

/**
 * The first of LIBC_CANDIDATES that `open` loads (a runtime's dlopen with its symbols), and its name. Throws naming
 * every library tried and the last error.
 */
export function openLibcWith<T>(open: (name: string) => T): { lib: T; name: string } {
  let last: unknown
  for (const name of LIBC_CANDIDATES) {
    try {
      return { lib: open(name), name }
    } catch (e) {
      last = e
    }
  }
  throw new Error(`cannot load libc (tried ${LIBC_CANDIDATES.join(', ')}): ${String(last)}`)
}
