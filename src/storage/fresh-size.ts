/**
 * freshSize(path): the size of a file as the file server has it now, not as this host's attribute cache remembers
 * it. Another host appends to the journal a replica follows and the new primary seals; a FUSE mount keeps a file's
 * size for its attr_timeout (1 s by default, bindfs included) and an NFS client for acregmin (3 s), through fstat,
 * stat and a fresh open alike, and a read at the remembered end returns 0 bytes. A reader that trusts that size
 * stops short: a replica moved on to the next segment with the tail of the last one unread, and a seal could cut a
 * deposed primary's acknowledged records. statx(2) with AT_STATX_FORCE_SYNC makes the kernel ask the server again
 * (FUSE GETATTR, NFS GETATTR) and updates the cached size, so later reads see the bytes too.
 *
 * Runtime bits live in fresh-size-bun.ts (bun:ffi) and fresh-size-deno.ts (Deno.dlopen, off the main thread); on
 * any other runtime, or when libc has no statx, this returns null and callers use their ordinary stat. Callers
 * make an ordinary async stat of the same path first: a hung share then hangs in the thread pool, and the forced
 * call (synchronous under Bun) only follows a call the share has just answered.
 */
import * as fsp from 'node:fs/promises'

export type FreshSizeFn = (path: string) => Promise<number | null>

let impl: FreshSizeFn | null | undefined

async function load(): Promise<FreshSizeFn | null> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  try {
    if (g.Bun) return (await import('./fresh-size-bun.ts')).createBunFreshSize()
    if (g.Deno) return (await import('./fresh-size-deno.ts')).createDenoFreshSize()
  } catch {
    // No statx in this libc (or no FFI): the cached size is all there is.
  }
  return null
}

/** The file's size after forcing the kernel to revalidate its attributes; null when that cannot be done here. */
export async function freshSize(path: string): Promise<number | null> {
  if (impl === undefined) impl = await load()
  return impl ? impl(path) : null
}

/**
 * Refresh this host's cached sizes of every file in `dir` (not recursive), for a reader this process does not
 * control (the native LevelDB reads its logs until a short read, so a stale size would end them early). Each
 * file gets an ordinary async stat first, as freshSize's callers do. Files that vanish meanwhile are skipped.
 */
export async function refreshDir(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch {
    return
  }
  for (const name of names) {
    const file = `${dir}/${name}`
    try {
      if (!(await fsp.stat(file)).isFile()) continue
    } catch {
      continue
    }
    await freshSize(file)
  }
}
