/**
 * Allocator settings for the long-running broker (`sfbroker run` from the compiled binary). Bun allocates buffers
 * with mimalloc, which gives pages that stay free for 10 ms back to the OS (`MIMALLOC_PURGE_DELAY`, default 10);
 * a broker frees and allocates message buffers continuously, so under load it faulted the same memory back in
 * again and again. On a 2-core VM, where a page fault is expensive, copying a 1 KiB body into a fresh buffer cost
 * 2.4–3.5 µs, more than the rest of that MESSAGE frame's encoding. With a delay of 1 s, pages freed under load are
 * reused instead, and memory still goes back to the OS 1 s after a load ends (the idle GC's promise, lib/idle-gc.ts,
 * holds with 1 s more). Measured with the compiled binary, 1 producer + 1 consumer of non-persistent 1 KiB
 * messages: +28–31 % msg/s against mimalloc's 10 ms (median of 6 alternating runs); 5 s gave no more, and its peak
 * RSS while 1,000,000 persistent messages were sent was 595 MB against 561 MB with 1 s.
 *
 * mimalloc reads its options from the environment once, at process start, and Bun exports no call to change them,
 * so `run` re-executes itself once with MIMALLOC_PURGE_DELAY set, by execve(2) in place: the same pid, the same
 * open descriptors (stdin/stdout/stderr), the same arguments. A value the user set is kept as it is (`-1` never
 * purges; `10` is mimalloc's default), and SFBROKER_ALLOCATOR_REEXEC=0 turns the re-exec off. Only the compiled
 * binary does this (from source, `bun` may carry flags of its own; set the variable there by hand); Deno does not
 * use mimalloc. If execve fails the broker runs as it is, with a warning.
 */

/** The purge delay `run` asks for, ms. */
export const PURGE_DELAY_MS = 1000

interface BunLike {
  main?: string
}

/** Whether this process is the compiled binary (its main module lives in Bun's embedded file system). */
function isCompiledBinary(): boolean {
  const bun = (globalThis as { Bun?: BunLike }).Bun
  return typeof bun?.main === 'string' && bun.main.startsWith('/$bunfs/')
}

/**
 * Re-execute the compiled binary with MIMALLOC_PURGE_DELAY set, unless it is set already (or the re-exec is off).
 * Returns only when no re-exec happened; `warn` gets the reason when execve failed.
 */
export async function reexecWithAllocatorEnv(warn: (message: string) => void): Promise<void> {
  if (!isCompiledBinary()) return
  if (process.env.MIMALLOC_PURGE_DELAY !== undefined) return
  if (process.env.SFBROKER_ALLOCATOR_REEXEC === '0') return
  const { dlopen, FFIType, ptr, read } = await import('bun:ffi')
  const { openLibcWith } = await import('../election/lock/libc-types.ts')
  const symbols = {
    execve: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  } as const
  let lib: ReturnType<typeof dlopen<typeof symbols>>
  try {
    lib = openLibcWith((name) => dlopen(name, symbols)).lib
  } catch (e) {
    warn(`allocator: ${(e as Error).message}; running with mimalloc's defaults`)
    return
  }
  // NUL-terminated strings and NULL-terminated pointer arrays; every buffer stays referenced until execve returns.
  const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8')
  const args = [process.argv0, ...process.argv.slice(2)].map(cstr)
  const env = Object.entries({ ...process.env, MIMALLOC_PURGE_DELAY: String(PURGE_DELAY_MS) })
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => cstr(`${k}=${v}`))
  const table = (bufs: Buffer[]) => {
    const t = new BigUint64Array(bufs.length + 1)
    bufs.forEach((b, i) => (t[i] = BigInt(ptr(b))))
    return t
  }
  const path = cstr(process.execPath)
  const argv = table(args)
  const envp = table(env)
  lib.symbols.execve(ptr(path), ptr(argv), ptr(envp))
  // Only a failed execve returns. errno at once, on this thread, before anything else can make a call that sets it.
  const errnoPtr = lib.symbols.__errno_location()
  const errno = errnoPtr ? read.i32(errnoPtr, 0) : 0
  warn(
    `allocator: execve ${process.execPath} failed (errno ${errno}); running with mimalloc's defaults (set MIMALLOC_PURGE_DELAY=${PURGE_DELAY_MS} to tune it by hand)`,
  )
  lib.close()
  // Keep the buffers alive up to here.
  void [args, env, path, argv, envp]
}
