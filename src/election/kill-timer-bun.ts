/**
 * The kill timer for Bun on Linux (bun:ffi): timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL SIGKILL), timer_settime and
 * timer_delete from libc, errno read through `__errno_location()` right after the failing call, on the same thread.
 * Loaded only by a dynamic import under Bun (stall-watchdog.ts), so Deno never parses `bun:ffi`. Owns the one kernel
 * timer it creates; promises nothing about what the process does when it fires (SIGKILL cannot be caught).
 */
import { dlopen, FFIType, ptr, read } from 'bun:ffi'
import { LibcError, openLibcWith } from './lock/libc-types.ts'
import {
  CLOCK_MONOTONIC,
  fillItimerspec,
  fillSigevent,
  SIGKILL,
  STRUCT_ITIMERSPEC_BYTES,
  STRUCT_SIGEVENT_BYTES,
  TIMER_T_BYTES,
  type KillTimer,
} from './kill-timer-types.ts'

const SYMBOLS = {
  timer_create: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  // timer_t is passed by value: a pointer-sized integer (0 is a valid id, so not FFIType.ptr, which means "pointer").
  timer_settime: { args: [FFIType.i64, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  timer_delete: { args: [FFIType.i64], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
} as const

const openLibc = () => openLibcWith((name) => dlopen(name, SYMBOLS)).lib

/** Create the kernel timer, disarmed. Throws when libc cannot be bound or timer_create fails (a LibcError). */
export function createKillTimer(): KillTimer {
  if (process.platform !== 'linux') throw new Error(`kill timer: timer_create with SIGKILL is Linux-only here`)
  const lib = openLibc()
  const s = lib.symbols
  const errno = () => read.i32(s.__errno_location() as Parameters<typeof read.i32>[0], 0)

  const sigevent = new Uint8Array(STRUCT_SIGEVENT_BYTES)
  fillSigevent(sigevent, SIGKILL)
  const idBuf = new Uint8Array(TIMER_T_BYTES)
  if (s.timer_create(CLOCK_MONOTONIC, ptr(sigevent), ptr(idBuf)) !== 0) {
    const e = errno()
    lib.close()
    throw new LibcError('timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL SIGKILL)', e)
  }
  const id = new DataView(idBuf.buffer).getBigInt64(0, true)
  const spec = new Uint8Array(STRUCT_ITIMERSPEC_BYTES)
  let closed = false

  const settime = (ms: number): void => {
    if (closed) throw new Error('assertion failed: kill timer used after close()')
    fillItimerspec(spec, ms)
    if (s.timer_settime(id, 0, ptr(spec), null) !== 0) throw new LibcError(`timer_settime(${id}, ${ms} ms)`, errno())
  }

  return {
    arm(ms: number): void {
      if (!Number.isSafeInteger(ms) || ms < 1) throw new RangeError(`kill timer: arm(${ms}): expected whole ms ≥ 1`)
      settime(ms)
    },
    disarm(): void {
      settime(0)
    },
    close(): void {
      if (closed) return
      closed = true
      // timer_delete disarms too; its only failure (EINVAL) would mean the id is not ours, a bug worth seeing.
      const r = s.timer_delete(id)
      const e = r === 0 ? 0 : errno()
      lib.close()
      if (r !== 0) throw new LibcError(`timer_delete(${id})`, e)
    },
  }
}
