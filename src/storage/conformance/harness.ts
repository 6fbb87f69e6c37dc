/**
 * The conformance suite's shared pieces: the harness an adapter's test hands to describeAdapter (a factory and its
 * capabilities), the suite context every group gets, and the helpers the groups use (messages, ops, error codes,
 * paging through load()).
 */
import { isBrokerError, type ErrorCode } from '../../lib/errors.ts'
import type { OpenOptions, PersistenceAdapter, RecoveredState, StoreOp, StoredMessage } from '../types.ts'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import { type CoreMessage, createMessage, prop } from '../../model/index.ts'

/** What an adapter can do beyond the mandatory contract. A group whose capability is missing is skipped, saying why. */
export interface AdapterCapabilities {
  /** ≥ 16 MiB message round trip. Default true; a string disables it and is the stated reason. */
  largeMessages?: true | string
  /**
   * The adapter detects a newer or foreign on-disk format. `plant(dir, kind)` writes such a format into `dir`
   * (as a newer version of this adapter, or as a different program's store) so that the next open must fail
   * with STORAGE_FORMAT.
   */
  formatCheck?: { plant(dir: string, kind: 'newer' | 'foreign'): Promise<void> | void }
  /** open() with an epoch older than the one recorded in the store fails with STORAGE_FENCED. */
  refusesOlderEpochOnOpen?: true | string
  /** `dedupeWindow` evicts the oldest ids beyond the window. Default true. */
  dedupeWindow?: true | string
  /**
   * kill -9 group. `module` is an absolute path (or file URL) of a module exporting `exportName`: a class with a
   * no-argument constructor or a factory `(dir) => PersistenceAdapter`. The child cannot receive the harness's
   * closure, hence the module path.
   */
  crash?: { module: string; exportName: string; openOptions?: Partial<OpenOptions>; kills?: number } | string
  /**
   * Warm replica: `standby()` returns a read-only reader that follows a writer, and open({ standby }) recovers from
   * it exactly what a cold open recovers. A string is the stated reason it is not supported (cold open only).
   */
  standby?: true | string
  /**
   * `plant(dir, destination)` adds to the closed store in `dir` one message on `destination` whose bytes pass the
   * adapter's integrity checks but whose message record does not decode; the next open must report it as corrupt.
   */
  corruptMessage?: { plant(dir: string, destination: string): Promise<void> | void } | string
}

export interface AdapterHarness {
  /** A fresh, not yet opened adapter for `dir`. */
  open: (dir: string, opts?: Partial<OpenOptions>) => PersistenceAdapter
  supports?: AdapterCapabilities
}

/** The generator and seed source live in lib (shared with the crash writer, fuzz tests and chaos); re-exported for adapter tests. */
export { SeededRandom }

/** The seed of this run: `SEED` from the environment, else random. Printed by the groups that use it. */
export const suiteSeed = seedFromEnv

const enc = new TextEncoder()
export const dec = new TextDecoder()

/**
 * A persistent message on queue Q with `props` as string properties and, as a STOMP producer's message-id gives
 * it, the producer identity `messageId` (so its dedupe key is the id). A string body is a text message.
 */
export function msg(messageId: string, body: string | Uint8Array, props: Record<string, string> = {}): CoreMessage {
  const bytes = typeof body === 'string' ? enc.encode(body) : body
  return createMessage({
    messageId,
    destination: { kind: 'queue', name: 'Q' },
    timestamp: 1_700_000_000_000,
    persistent: true,
    properties: new Map(Object.entries(props).map(([k, v]) => [k, prop.string(v)])),
    bodyKind: typeof body === 'string' ? 'text' : bytes.length > 0 ? 'bytes' : 'none',
    body: bytes,
    producer: { id: messageId, seq: null },
    origin: { protocol: 'stomp' },
  })
}

export function add(destination: string, m: CoreMessage): StoreOp {
  return { op: 'add', destination, message: m }
}

/** A string property of a stored message (the conformance helpers set them with msg()). */
export function strProp(m: StoredMessage, name: string): string | undefined {
  const p = m.message.properties.get(name)
  return p?.type === 'string' ? p.value : undefined
}

/** The ids of stored messages, in order. */
export const ids = (ms: StoredMessage[]): string[] => ms.map((m) => m.message.messageId)

export async function expectCode(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  let err: unknown = null
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    err = e
  }
  if (!isBrokerError(err, code)) {
    throw new Error(
      `expected a BrokerError with code ${code}, got ${err === null ? 'success' : String((err as { code?: string }).code ?? err)}: ${String(err)}`,
    )
  }
}

/** Every message of `destination`, paging through load() (bounded: at most `max` messages). */
export async function loadAll(
  a: PersistenceAdapter,
  destination: string,
  pageSize = 1000,
  max = 1_000_000,
): Promise<StoredMessage[]> {
  const out: StoredMessage[] = []
  let after = 0
  for (let pages = 0; out.length < max; pages++) {
    const page = await a.load(destination, after, pageSize)
    if (page.length === 0) break
    for (const m of page) {
      if (m.seq <= after) throw new Error(`load(${destination}, ${after}) returned seq ${m.seq} not above afterSeq`)
      after = m.seq
      out.push(m)
    }
    if (pages > max) throw new Error('loadAll: page loop bound exceeded')
  }
  return out
}

export function nonEmpty(rec: RecoveredState): Map<string, number> {
  return new Map(rec.destinations.filter((d) => d.count > 0).map((d) => [d.destination, d.count]))
}

/** What every group of the suite gets from describeAdapter. */
export interface SuiteContext {
  name: string
  h: AdapterHarness
  caps: AdapterCapabilities
  /** A fresh temporary directory, removed after the suite. */
  tmp: () => string
  /** A fresh adapter for `dir`, opened with epoch 1, syncPolicy always and `opts`. */
  openAt: (dir: string, opts?: Partial<OpenOptions>) => Promise<{ a: PersistenceAdapter; rec: RecoveredState }>
  /** null when the capability is there, else why its group is skipped. */
  skipReason: (v: true | string | undefined | object, dflt: boolean) => string | null
}
