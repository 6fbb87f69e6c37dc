/**
 * libc lock binding for Bun (bun:ffi): flock(2) and fcntl(2) open-file-description locks, errno read through
 * `__errno_location()` right after the failing call, on the same thread.
 *
 * The blocking wait runs in a worker_threads Worker created from inline source (`eval: true`), so that
 * `bun build --compile` needs no extra entrypoint. The Worker calls flock/fcntl on the fd the main thread
 * opened: the lock belongs to that open file description, hence to this process, after the Worker exits.
 * A Worker blocked in the syscall cannot be interrupted (terminate() waits for JS to run again), so cancel()
 * unrefs it and forgets it; the caller closes the fd, and if the blocked call later gets the lock, the kernel
 * drops it as soon as the call returns (the call held the last reference to the file).
 */
import { dlopen, FFIType, read, ptr } from 'bun:ffi'
import { Worker } from 'node:worker_threads'
import {
  LibcError,
  openLibcWith,
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

const SYMBOLS = {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const

const openLibc = () => openLibcWith((name) => dlopen(name, SYMBOLS))

// Source of the waiting Worker. It loads libc itself (FFI symbols cannot cross threads), makes one blocking
// call and reports { ok } or { errno }. Kept as plain CommonJS so it runs from `eval` in source and binary.
const WAITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { dlopen, FFIType, read, ptr } = require('bun:ffi')
const lib = dlopen(workerData.libName, {
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
})
let r
if (workerData.kind === 'flock') r = lib.symbols.flock(workerData.fd, ${LOCK_EX})
else {
  const buf = new Uint8Array(${STRUCT_FLOCK_BYTES})
  new DataView(buf.buffer).setInt16(0, ${F_WRLCK}, true)
  r = lib.symbols.fcntl(workerData.fd, ${F_OFD_SETLKW}, ptr(buf))
}
const errno = r === 0 ? 0 : read.i32(lib.symbols.__errno_location(), 0)
lib.close()
parentPort.postMessage({ r, errno })
`

export function createBunLibc(): LibcLock {
  const { lib, name: libName } = openLibc()
  const s = lib.symbols
  const errno = () => read.i32(s.__errno_location() as Parameters<typeof read.i32>[0], 0)
  const structBuf = new Uint8Array(STRUCT_FLOCK_BYTES)

  return {
    binding: 'bun:ffi',
    flock(fd: number, op: LockOp): void {
      for (;;) {
        if (s.flock(fd, flockFlags(op)) === 0) return
        const e = errno()
        if (e === 4) continue // EINTR: a signal arrived while waiting; retry
        throw new LibcError(`flock(${fd}, ${op})`, e)
      }
    },
    fcntl(fd: number, op: LockOp): void {
      for (;;) {
        const cmd = fillStructFlock(structBuf, op)
        if (s.fcntl(fd, cmd, ptr(structBuf)) === 0) return
        const e = errno()
        if (e === 4) continue
        throw new LibcError(`fcntl(${fd}, F_OFD_SETLK${cmd === F_OFD_SETLKW ? 'W' : ''}, ${op})`, e)
      }
    },
    fcntlGetLock(fd: number, type: 'ex' | 'sh'): FcntlLockInfo | null {
      fillStructFlock(structBuf, type === 'ex' ? 'exnb' : 'shnb')
      if (s.fcntl(fd, F_OFD_GETLK, ptr(structBuf)) !== 0) throw new LibcError(`fcntl(${fd}, F_OFD_GETLK)`, errno())
      const got = readStructFlock(structBuf)
      if (got.type === F_UNLCK) return null
      return { type: got.type === F_WRLCK ? 'ex' : 'sh', pid: got.pid }
    },
    waitExclusive(fd: number, kind: 'flock' | 'fcntl') {
      let cancelled = false
      let worker: Worker | null = null
      const done = new Promise<void>((resolve, reject) => {
        const w = new Worker(WAITER_SOURCE, { eval: true, workerData: { fd, kind, libName } })
        worker = w
        w.on('message', (m: { r: number; errno: number }) => {
          if (cancelled) return
          if (m.r === 0) resolve()
          else reject(new LibcError(`${kind}(${fd}, blocking exclusive)`, m.errno))
        })
        w.on('error', (e) => {
          if (!cancelled) reject(e)
        })
        w.on('exit', () => {
          if (!cancelled) reject(new Error('lock waiter exited without an answer'))
        })
      })
      return {
        done,
        cancel() {
          cancelled = true
          const w = worker as Worker | null
          if (w) {
            w.unref()
            void w.terminate().catch(() => undefined)
          }
        },
      }
    },
  }
}
