/**
 * freshSize for Bun (bun:ffi): statx(AT_FDCWD, path, AT_STATX_FORCE_SYNC, STATX_SIZE). Synchronous: see
 * fresh-size.ts for why it only follows a call the share has just answered (sizeNow).
 */
import { dlopen, FFIType, ptr } from 'bun:ffi'
import { openLibcWith } from '../election/lock/libc-types.ts'
import { AT_FDCWD, AT_STATX_FORCE_SYNC, STATX_BUFFER_BYTES, STATX_SIZE, statxSize } from './statx.ts'
import type { FreshSizeFn } from './fresh-size.ts'

export function createBunFreshSize(): FreshSizeFn {
  const { lib } = openLibcWith((name) =>
    dlopen(name, {
      statx: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
    }),
  )
  const buf = new Uint8Array(STATX_BUFFER_BYTES)
  return async (path) => {
    const name = Buffer.from(`${path}\0`, 'utf8')
    const r = lib.symbols.statx(AT_FDCWD, ptr(name), AT_STATX_FORCE_SYNC, STATX_SIZE, ptr(buf))
    return r === 0 ? statxSize(buf) : null
  }
}
