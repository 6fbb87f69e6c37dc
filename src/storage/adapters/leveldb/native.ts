/**
 * The LevelDB native binding (classic-level's N-API addon) and a small typed wrapper over it.
 *
 * Why not `import { ClassicLevel } from 'classic-level'`: classic-level finds its addon with node-gyp-build, which
 * lists `node_modules/classic-level/prebuilds/` at run time. In a `bun build --compile` executable that directory
 * does not exist on the target host, so the binary dies with "No native build was found". A static `require()` of
 * the prebuilt `.node` file, however, is seen by Bun's bundler, which embeds the addon in the executable and loads
 * it from its internal file system. So on linux-x64 (glibc) we require the prebuild by its literal path, and
 * elsewhere (other platforms, musl, Deno without `require`) we fall back to node-gyp-build at run time, which works
 * whenever node_modules is present.
 *
 * We then talk to the binding directly (db_open, batch_do, iterator_*, db_approximate_size) instead of through
 * abstract-level: the adapter needs five calls, binary keys and nothing of abstract-level's encodings or events.
 * The binding's call shapes are those of classic-level 3.x (binding.cc); `loadBinding()` checks the functions we
 * use exist so a changed addon fails loudly at open, not with a native assertion later.
 *
 * Native invariants we must respect (the addon asserts, i.e. aborts the process, otherwise): never close an
 * iterator while a nextv() on it is pending, and close every iterator before db_close.
 */
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { BrokerError } from '../../../lib/errors.ts'

/** The subset of classic-level's binding we use (see node_modules/classic-level/binding.cc). */
interface Binding {
  db_init(): unknown
  db_open(ctx: unknown, location: string, options: Record<string, unknown>): Promise<void>
  db_close(ctx: unknown): Promise<void>
  batch_do(ctx: unknown, ops: BatchOp[], options: { sync: boolean }): Promise<void>
  iterator_init(ctx: unknown, state: Uint8Array, options: Record<string, unknown>, snapshot: unknown): unknown
  iterator_nextv(it: unknown, size: number): Promise<[Buffer, Buffer][]>
  iterator_close(it: unknown): void
  db_approximate_size(ctx: unknown, start: Uint8Array, end: Uint8Array): Promise<number>
}

export type BatchOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

const USED: (keyof Binding)[] = [
  'db_init',
  'db_open',
  'db_close',
  'batch_do',
  'iterator_init',
  'iterator_nextv',
  'iterator_close',
  'db_approximate_size',
]
/** classic-level's iterator state bit set by the addon when the range is exhausted. */
const STATE_ENDED = 1

let cached: Binding | null = null

function loadBinding(): Binding {
  if (cached) return cached
  let b: unknown = null
  const errors: string[] = []
  if (process.platform === 'linux' && process.arch === 'x64') {
    try {
      // Literal path: Bun's bundler embeds this file in compiled executables.
      b = require('classic-level/prebuilds/linux-x64/classic-level.node')
    } catch (e) {
      errors.push(`prebuild linux-x64: ${(e as Error).message}`)
    }
  }
  if (b === null) {
    try {
      const req = typeof require === 'function' ? require : createRequire(import.meta.url)
      const pkgDir = dirname(req.resolve('classic-level/package.json'))
      b = (req('node-gyp-build') as (dir: string) => unknown)(pkgDir)
    } catch (e) {
      errors.push(`node-gyp-build: ${(e as Error).message}`)
    }
  }
  if (b === null) {
    throw new BrokerError(
      'STORAGE_IO',
      `levelDB: cannot load the LevelDB native addon for ${process.platform}-${process.arch}: ${errors.join('; ')}`,
    )
  }
  const missing = USED.filter((f) => typeof (b as Record<string, unknown>)[f] !== 'function')
  if (missing.length > 0) {
    throw new BrokerError(
      'STORAGE_IO',
      `levelDB: the LevelDB native addon lacks ${missing.join(', ')}; expected classic-level 3.x's binding`,
    )
  }
  cached = b as Binding
  return cached
}

export interface RangeOptions {
  gt?: Uint8Array
  gte?: Uint8Array
  lt?: Uint8Array
  lte?: Uint8Array
  /** At most this many entries (-1: no limit). */
  limit?: number
  /** Keys only (skip reading values). */
  keysOnly?: boolean
}

/** Entries per native nextv() call: bounds memory per step and lets the event loop breathe. */
const NEXTV_ENTRIES_MAX = 1000
/** Bytes the addon buffers per nextv() before returning early (its default, 16 KiB, cuts chunks of small keys short). */
const HIGH_WATER_BYTES = 1024 * 1024

/** One open LevelDB database. Not safe to close with iterators running: `close()` waits for them. */
export class NativeDb {
  private readonly b: Binding
  private readonly ctx: unknown
  private openIterators = 0
  private iteratorsDrained: (() => void) | null = null

  private constructor(
    b: Binding,
    readonly location: string,
  ) {
    this.b = b
    this.ctx = b.db_init()
  }

  static async open(
    location: string,
    options: { writeBufferSize?: number; maxOpenFiles?: number } = {},
  ): Promise<NativeDb> {
    const db = new NativeDb(loadBinding(), location)
    await db.b.db_open(db.ctx, location, { createIfMissing: true, errorIfExists: false, compression: true, ...options })
    return db
  }

  batch(ops: BatchOp[], sync: boolean): Promise<void> {
    return this.b.batch_do(this.ctx, ops, { sync })
  }

  /** Iterate a key range in order, calling `each` per entry; chunks of at most NEXTV_ENTRIES_MAX entries. */
  async scan(range: RangeOptions, each: (key: Buffer, value: Buffer | undefined) => void): Promise<number> {
    const opts: Record<string, unknown> = {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      keys: true,
      values: !range.keysOnly,
      limit: range.limit ?? -1,
      fillCache: false,
      highWaterMarkBytes: HIGH_WATER_BYTES,
    }
    for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (range[k]) opts[k] = range[k]
    const state = new Uint8Array(1)
    const it = this.b.iterator_init(this.ctx, state, opts, undefined)
    this.openIterators++
    let n = 0
    try {
      // Bounded: each round consumes ≥ 1 entry or ends; the store has finitely many keys.
      for (;;) {
        const chunk = await this.b.iterator_nextv(it, NEXTV_ENTRIES_MAX)
        for (const [k, v] of chunk) {
          each(k, v)
          n++
        }
        if (chunk.length === 0 || (state[0] & STATE_ENDED) !== 0) break
      }
    } finally {
      this.b.iterator_close(it)
      this.openIterators--
      if (this.openIterators === 0 && this.iteratorsDrained) this.iteratorsDrained()
    }
    return n
  }

  approximateSize(start: Uint8Array, end: Uint8Array): Promise<number> {
    return this.b.db_approximate_size(this.ctx, start, end)
  }

  async close(): Promise<void> {
    if (this.openIterators > 0) await new Promise<void>((r) => (this.iteratorsDrained = r))
    this.iteratorsDrained = null
    await this.b.db_close(this.ctx)
  }
}
