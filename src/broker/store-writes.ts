/**
 * StoreWrites: every write the broker makes to its persistence adapter goes through here. Owns the one-write path
 * (a failure is reported once to the node, which gives up the primary role, and rethrown to the caller), the
 * grouping of acked-message removes into one write per event-loop turn (up to REMOVE_BATCH_MAX), and the set of
 * writes in flight that stop() waits for. It does not decide what is written.
 */
import { assert } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { PersistenceAdapter, StoreOp } from '../storage/types.ts'

const log = logger('broker')

/** Remove ops per batched store write (acks are grouped into one write per event-loop turn up to this). */
export const REMOVE_BATCH_MAX = 10_000

export class StoreWrites {
  private removeOps: StoreOp[] = []
  private removeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = []
  private removeScheduled = false
  private readonly pendingWrites = new Set<Promise<unknown>>()
  private failureReported = false
  /** Store keys that hold (or held) messages: recovered ones plus every key an add was written to (storeKeys()). */
  readonly keys = new Set<string>()

  constructor(
    readonly store: PersistenceAdapter | null,
    private readonly isStopped: () => boolean,
    private readonly onStoreFailure: (err: Error) => void,
  ) {}

  /** One store write; a failure is reported to the node (self-fence) and rethrown to the caller. */
  async write(ops: StoreOp[]): Promise<number[]> {
    const store = this.store
    assert(store, 'store write without a store')
    const p = store.write(ops)
    this.pendingWrites.add(p)
    try {
      const seqs = (await p).seqs
      for (const o of ops) if (o.op === 'add') this.keys.add(o.destination)
      return seqs
    } catch (e) {
      if (!this.isStopped()) this.failed(e)
      throw e
    } finally {
      this.pendingWrites.delete(p)
    }
  }

  /** Remove a stored message (acked), batched with the other removes of this event-loop turn. */
  remove(key: string, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.removeOps.push({ op: 'remove', destination: key, seq })
      this.removeWaiters.push({ resolve, reject })
      if (this.removeOps.length >= REMOVE_BATCH_MAX) this.flushRemoves()
      else if (!this.removeScheduled) {
        this.removeScheduled = true
        setImmediate(() => this.flushRemoves())
      }
    })
  }

  flushRemoves(): void {
    this.removeScheduled = false
    if (this.removeOps.length === 0) return
    const ops = this.removeOps
    const waiters = this.removeWaiters
    this.removeOps = []
    this.removeWaiters = []
    this.write(ops).then(
      () => {
        for (const w of waiters) w.resolve()
      },
      (e) => {
        for (const w of waiters) w.reject(e)
      },
    )
  }

  /** Flush the grouped removes and wait for every write in flight to settle (stop). */
  async drain(): Promise<void> {
    this.flushRemoves()
    await Promise.allSettled([...this.pendingWrites])
  }

  /** A store failure the node must act on (self-fence); reported once. */
  failed(err: unknown): void {
    if (this.failureReported) return
    this.failureReported = true
    log.error('store failure; the node must stop serving', err)
    try {
      this.onStoreFailure(err instanceof Error ? err : new Error(String(err)))
    } catch (e) {
      log.error('onStoreFailure threw', e)
    }
  }
}
