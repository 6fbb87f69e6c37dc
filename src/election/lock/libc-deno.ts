/**
 * libc lock binding for Deno (Deno.dlopen). Same shape as libc-bun.ts. The blocking wait uses a symbol
 * declared `nonblocking: true`, which Deno runs on its own thread and returns as a promise; errno of that
 * thread is not readable, so a failed blocking call is classified by one non-blocking retry on this thread.
 * Cancelling works as in Bun: forget the call, the caller closes the fd, the kernel drops any late lock.
 */
import {
  LibcError,
  LIBC_CANDIDATES,
  STRUCT_FLOCK_BYTES,
  F_OFD_GETLK,
  F_UNLCK,
  F_WRLCK,
  LOCK_EX,
  F_OFD_SETLKW,
  fillStructFlock,
  flockFlags,
  readStructFlock,
  type LibcLock,
  type LockOp,
  type FcntlLockInfo,
} from './libc-types.ts'

// Minimal view of the Deno FFI API, so this file type-checks without Deno's lib.
interface DenoFfi {
  dlopen(
    name: string,
    symbols: Record<string, unknown>,
  ): { symbols: Record<string, (...a: unknown[]) => any>; close(): void }
  UnsafePointer: { of(buf: Uint8Array): unknown }
  UnsafePointerView: new (p: unknown) => { getInt32(offset?: number): number }
}

const SYMBOLS = {
  flock: { parameters: ['i32', 'i32'], result: 'i32' },
  fcntl: { parameters: ['i32', 'i32', 'buffer'], result: 'i32' },
  flock_wait: { name: 'flock', parameters: ['i32', 'i32'], result: 'i32', nonblocking: true },
  fcntl_wait: { name: 'fcntl', parameters: ['i32', 'i32', 'buffer'], result: 'i32', nonblocking: true },
  __errno_location: { parameters: [], result: 'pointer' },
}

export function createDenoLibc(): LibcLock {
  const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno
  let lib: ReturnType<DenoFfi['dlopen']> | null = null
  let last: unknown
  for (const name of LIBC_CANDIDATES) {
    try {
      lib = Deno.dlopen(name, SYMBOLS)
      break
    } catch (e) {
      last = e
    }
  }
  if (!lib) throw new Error(`cannot load libc (tried ${LIBC_CANDIDATES.join(', ')}): ${String(last)}`)
  const s = lib.symbols
  const errno = () => new Deno.UnsafePointerView(s.__errno_location()).getInt32(0)
  const structBuf = new Uint8Array(STRUCT_FLOCK_BYTES)

  const self: LibcLock = {
    binding: 'Deno.dlopen',
    flock(fd: number, op: LockOp): void {
      for (;;) {
        if (s.flock(fd, flockFlags(op)) === 0) return
        const e = errno()
        if (e === 4) continue
        throw new LibcError(`flock(${fd}, ${op})`, e)
      }
    },
    fcntl(fd: number, op: LockOp): void {
      for (;;) {
        const cmd = fillStructFlock(structBuf, op)
        if (s.fcntl(fd, cmd, structBuf) === 0) return
        const e = errno()
        if (e === 4) continue
        throw new LibcError(`fcntl(${fd}, F_OFD_SETLK${cmd === F_OFD_SETLKW ? 'W' : ''}, ${op})`, e)
      }
    },
    fcntlGetLock(fd: number, type: 'ex' | 'sh'): FcntlLockInfo | null {
      fillStructFlock(structBuf, type === 'ex' ? 'exnb' : 'shnb')
      if (s.fcntl(fd, F_OFD_GETLK, structBuf) !== 0) throw new LibcError(`fcntl(${fd}, F_OFD_GETLK)`, errno())
      const got = readStructFlock(structBuf)
      if (got.type === F_UNLCK) return null
      return { type: got.type === F_WRLCK ? 'ex' : 'sh', pid: got.pid }
    },
    waitExclusive(fd: number, kind: 'flock' | 'fcntl') {
      let cancelled = false
      const buf = new Uint8Array(STRUCT_FLOCK_BYTES)
      new DataView(buf.buffer).setInt16(0, F_WRLCK, true)
      const call: Promise<number> = kind === 'flock' ? s.flock_wait(fd, LOCK_EX) : s.fcntl_wait(fd, F_OFD_SETLKW, buf)
      const done = new Promise<void>((resolve, reject) => {
        call.then((r) => {
          if (cancelled) return
          if (r === 0) return resolve()
          // The failing thread's errno is gone: classify with a non-blocking attempt here.
          try {
            if (kind === 'flock') self.flock(fd, 'exnb')
            else self.fcntl(fd, 'exnb')
            resolve()
          } catch (e) {
            reject(e)
          }
        }, reject)
      })
      return {
        done,
        cancel() {
          cancelled = true
        },
      }
    },
  }
  return self
}
