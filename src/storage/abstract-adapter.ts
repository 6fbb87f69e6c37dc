/**
 * AbstractAdapter: the validating front every PersistenceAdapter sits behind. It owns the lifecycle (new, opening,
 * open, closing, closed, failed), so every call on a store that is not open fails the same way (STORAGE_CLOSED; a
 * failed store repeats its failure), the validation of every write() batch and load() call (STORAGE_INVALID_OP, the
 * whole batch refused before any of it is applied), and the group-commit queue its subclass commits through.
 *
 * A subclass implements the `*Store` methods, which run only on an open store with validated arguments, and
 * `commitNext` (cut, write, sync, fence and settle the next group of `queue.writes`). Not promised here: what
 * "durable" means (the subclass's sync policy) or which errors fail the store (the subclass calls `enterFailed`).
 */
import { BrokerError } from '../lib/errors.ts'
import type { AdapterKind } from '../config/types.ts'
import type {
  OpenOptions,
  PersistenceAdapter,
  RecoveredState,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from './types.ts'
import { GroupCommitQueue } from './group-commit.ts'
import { validateLoad, validateDedupeKey, validateOps } from './op-validation.ts'

export type AdapterState = 'new' | 'opening' | 'open' | 'closing' | 'closed' | 'failed'

export interface AdapterFrontOptions {
  /** open() again after close() (journal, memory). Off: one open per adapter object (levelDB). */
  reopenable: boolean
  /** See GroupCommitOptions.gatherTick. */
  gatherTick: boolean
}

export abstract class AbstractAdapter<W = never> implements PersistenceAdapter {
  abstract readonly kind: AdapterKind
  protected state: AdapterState = 'new'
  /** Why the store failed (state 'failed'): every later call but stats() and close() throws it. */
  protected failure: BrokerError | null = null
  /** The directory of the last open() (for messages). */
  protected where = ''
  protected readonly queue: GroupCommitQueue<W>
  private closing: Promise<void> | null = null

  constructor(private readonly front: AdapterFrontOptions) {
    this.queue = new GroupCommitQueue<W>(
      {
        commitNext: () => this.commitNext(),
        running: () => this.state === 'open' || this.state === 'closing',
        onError: (e) => this.commitFailed(e),
        failure: () => (this.state === 'failed' ? this.failure : null),
      },
      { gatherTick: front.gatherTick },
    )
  }

  // ---- what a subclass implements ------------------------------------------------------------------------------

  /** Open and recover. A throw leaves the adapter closed (the subclass releases what it opened first). */
  protected abstract openStore(opts: OpenOptions): Promise<RecoveredState>
  /** Runs right after the state became 'open' (timers, background work). */
  protected started(): void {}
  protected abstract writeStore(ops: StoreOp[]): Promise<WriteResult>
  protected abstract loadStore(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]>
  protected abstract isDuplicateStore(key: string): boolean
  protected abstract statsStore(): StoreStats
  protected abstract checkpointStore(): Promise<void>
  /** Finish pending work and release everything. `wasOpen`: the store was open (not failed) when close() came. */
  protected abstract closeStore(wasOpen: boolean): Promise<void>
  /** Commit the next group of `queue.writes` (only adapters that queue writes). */
  protected commitNext(): Promise<void> {
    return Promise.reject(new Error(`${this.kind} store queues no writes`))
  }
  /** A queued commit or task threw: by default the store fails with it. */
  protected commitFailed(e: Error): void {
    this.enterFailed(
      e instanceof BrokerError ? e : new BrokerError('STORAGE_IO', `store ${this.where}: ${e.message}`, { cause: e }),
    )
  }

  // ---- the front -----------------------------------------------------------------------------------------------

  async open(opts: OpenOptions): Promise<RecoveredState> {
    if (this.state === 'opening' || this.state === 'open' || this.state === 'closing') {
      throw new BrokerError(
        'STORAGE_IO',
        `store ${opts?.directory}: open() called on a store that is already ${this.state} at ${this.where}`,
      )
    }
    if (this.state !== 'new' && !this.front.reopenable) {
      throw new BrokerError(
        'STORAGE_CLOSED',
        `${this.kind} store ${this.where}: open() called twice; create a new adapter to reopen`,
      )
    }
    this.state = 'opening'
    this.failure = null
    this.where = typeof opts?.directory === 'string' ? opts.directory : ''
    let rec: RecoveredState
    try {
      rec = await this.openStore(opts)
    } catch (e) {
      this.state = 'closed'
      throw e
    }
    this.state = 'open'
    this.started()
    return rec
  }

  write(ops: StoreOp[]): Promise<WriteResult> {
    try {
      this.assertOpen('write()')
      validateOps(ops)
    } catch (e) {
      return Promise.reject(e)
    }
    return this.writeStore(ops)
  }

  async load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    this.assertOpen('load()')
    validateLoad(destination, afterSeq, limit)
    return this.loadStore(destination, afterSeq, limit)
  }

  isDuplicate(key: string): boolean {
    this.assertOpen('isDuplicate()')
    validateDedupeKey(key)
    return this.isDuplicateStore(key)
  }

  /** Also on a failed store (status reports what it knew); not before open or after close. */
  stats(): StoreStats {
    if (this.state !== 'failed') this.assertOpen('stats()')
    return this.statsStore()
  }

  checkpoint(): Promise<void> {
    try {
      this.assertOpen('checkpoint()')
    } catch (e) {
      return Promise.reject(e)
    }
    return this.checkpointStore()
  }

  /** Idempotent; concurrent calls share one close. Pending writes complete or reject with a code. */
  close(): Promise<void> {
    if (this.state === 'new') {
      if (!this.front.reopenable) this.state = 'closed'
      return Promise.resolve()
    }
    if (this.state === 'closed') return Promise.resolve()
    if (this.state === 'opening')
      return Promise.reject(
        new BrokerError('STORAGE_IO', `store ${this.where}: close() called while open() is still running`),
      )
    if (!this.closing) {
      const wasOpen = this.state === 'open'
      if (wasOpen) this.state = 'closing'
      this.closing = this.closeStore(wasOpen).finally(() => {
        this.state = 'closed'
        this.closing = null
      })
    }
    return this.closing
  }

  // ---- for subclasses ------------------------------------------------------------------------------------------

  /** Throws unless the store is open: STORAGE_CLOSED, or the failure of a failed store. */
  protected assertOpen(what: string): void {
    if (this.state === 'open') return
    if (this.state === 'failed' && this.failure) throw this.failure
    throw new BrokerError(
      'STORAGE_CLOSED',
      `${this.kind} store ${this.where || '(never opened)'}: ${what} on a ${this.state === 'new' ? 'store not yet opened' : 'closed store'}`,
      { details: { state: this.state } },
    )
  }

  /** The store can no longer be trusted: every later call but stats() and close() throws `err`. */
  protected enterFailed(err: BrokerError): void {
    this.failure = err
    this.state = 'failed'
  }

  protected get isOpen(): boolean {
    return this.state === 'open'
  }
}
