/**
 * freshSize for Deno (Deno.dlopen): the same statx call, declared `nonblocking` so Deno runs it on its own thread
 * and a hung share never holds the event loop.
 */
import { openLibcWith } from '../election/lock/libc-types.ts'
import { AT_FDCWD, AT_STATX_FORCE_SYNC, STATX_BUFFER_BYTES, STATX_SIZE, statxSize } from './statx.ts'
import type { FreshSizeFn } from './fresh-size.ts'

interface DenoFfi {
  dlopen(
    name: string,
    symbols: Record<string, unknown>,
  ): { symbols: Record<string, (...a: unknown[]) => Promise<number>>; close(): void }
}

export function createDenoFreshSize(): FreshSizeFn {
  const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno
  const { lib } = openLibcWith((name) =>
    Deno.dlopen(name, {
      statx: { parameters: ['i32', 'buffer', 'i32', 'u32', 'buffer'], result: 'i32', nonblocking: true },
    }),
  )
  const symbols = lib.symbols
  return async (path) => {
    // One buffer per call: calls may overlap on Deno's threads.
    const buf = new Uint8Array(STATX_BUFFER_BYTES)
    const r = await symbols.statx!(
      AT_FDCWD,
      new TextEncoder().encode(`${path}\0`),
      AT_STATX_FORCE_SYNC,
      STATX_SIZE,
      buf,
    )
    return r === 0 ? statxSize(buf) : null
  }
}
