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
 * any other runtime, or when libc has no statx, freshSize returns null and the ordinary stat's size stands. The
 * forced call is synchronous under Bun, so it only follows a call the share has just answered: sizeNow() makes an
 * ordinary async stat first (a hung share then hangs in the thread pool, not on the event loop); freshSize() alone
 * is for a caller that has just made such a call itself (a handle's size right after its open).
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
 * The file's size as the file server has it, and this host's cached size brought up to it: an ordinary async stat
 * first, then the forced one. Throws what the stat throws (ENOENT, ...).
 */
export async function sizeNow(path: string): Promise<number> {
  const cached = (await fsp.stat(path)).size
  return (await freshSize(path)) ?? cached
}

/**
 * Refresh this host's cached sizes of every entry in `dir` (not recursive), for a reader this process does not
 * control (the native LevelDB reads its logs until a short read, so a stale size would end them early). Entries
 * that vanish meanwhile are skipped.
 */
export async function refreshDir(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch {
    return
  }
  for (const name of names) await sizeNow(`${dir}/${name}`).catch(() => undefined)
}
