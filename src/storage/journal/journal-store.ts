/**
 * JournalStore: the PersistenceAdapter shared by the kahaDB and amq adapters, behind the shared validating front
 * (AbstractAdapter). It wires one open store's parts together and owns their lifecycle: recovery (recovery.ts), the
 * log (journal.ts), the write path (group-commit.ts, one record per batch, fenced per group), reads (reader.ts),
 * checkpoint and GC (maintenance.ts, on timers and on demand, as tasks between groups), the background check of
 * checkpointed messages (verification.ts), stats and close.
 *
 * What the two modes differ in (`checkpoints`):
 * - kahaDB (`checkpoints: true`): the index is written to `index-<epoch>.ckpt` every `checkpointIntervalMs` and on
 *   close; recovery loads it and replays only the journal after its position. GC checkpoints first, then deletes
 *   every segment before the checkpoint position that holds no live message.
 * - amq (`checkpoints: false`): no index file. Recovery replays every segment (time grows with the journal size).
 *   GC may delete only a prefix of segments without live messages; live subscription records and dedupe ids that
 *   such a prefix holds are first copied forward in a CARRY record, so replay from the new first segment is complete.
 *
 * Directory layout: `journal.json` (format marker), `db-<id>.log` segments, `seals/<epoch>.json`, `index-<epoch>.ckpt`.
 * The election's `lock`, `epochs/`, `replicas/` may share the directory; this class never touches them.
 *
 * Not promised: reads of messages written by a deposed primary after our seal; a store opened by two processes with
 * the same epoch (the election prevents that).
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { AdapterKind } from '../../config/types.ts'
import type {
  OpenOptions,
  RecoveredState,
  RecoveryReport,
  StandbyOptions,
  StandbyReader,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from '../types.ts'
import { AbstractAdapter } from '../abstract-adapter.ts'
import { nodeFileIO, type FileIO } from './file-io.ts'
import { RECORD_BYTES_MAX_DEFAULT } from './format.ts'
import { JournalGroupCommit, type PendingRecord } from './group-commit.ts'
import type { IndexState } from './index-state.ts'
import { Journal } from './journal.ts'
import { JournalMaintenance } from './maintenance.ts'
import { JournalReader } from './reader.ts'
import { recoverJournal } from './recovery.ts'
import { JournalTailReader } from './tail-reader.ts'
import { CheckpointVerification } from './verification.ts'

export { MARKER_FILE, MARKER_FORMAT } from './marker.ts'
export { GROUP_COMMIT_BYTES_MAX } from './group-commit.ts'
export { COPY_SLICE_BYTES } from './slices.ts'

const log = logger('storage')

export const JOURNAL_MAX_FILE_LENGTH_DEFAULT = 32 * 1024 * 1024
export const JOURNAL_MAX_FILE_LENGTH_MIN = 4096
export const JOURNAL_MAX_FILE_LENGTH_MAX = 1024 * 1024 * 1024
export const DEDUPE_WINDOW_DEFAULT = 100_000

export interface JournalStoreDeps {
  io?: FileIO
  clock?: Clock
  /** Largest record payload accepted (named limit; tests lower it). */
  recordBytesMax?: number
}

/** The parts of one open store (from open() to close()). */
interface OpenJournal {
  opts: OpenOptions
  journal: Journal
  index: IndexState
  commit: JournalGroupCommit
  reader: JournalReader
  maint: JournalMaintenance
  verify: CheckpointVerification
  report: RecoveryReport
}

export class JournalStore extends AbstractAdapter<PendingRecord> {
  private readonly io: FileIO
  private readonly clock: Clock
  private readonly recordBytesMax: number
  private s: OpenJournal | null = null
  private recoveredFrom: { file: number; offset: number } | null = null
  private timers = new Map<string, unknown>()
  /** Whether the last open() adopted a warm replica's index (stats, tests). */
  warmOpen = false

  constructor(
    readonly kind: AdapterKind,
    private readonly checkpoints: boolean,
    deps: JournalStoreDeps = {},
  ) {
    super({ reopenable: true, gatherTick: false })
    this.io = deps.io ?? nodeFileIO
    this.clock = deps.clock ?? systemClock
    this.recordBytesMax = deps.recordBytesMax ?? RECORD_BYTES_MAX_DEFAULT
  }

  // ---- open ----------------------------------------------------------------------------------------------------

  protected async openStore(opts: OpenOptions): Promise<RecoveredState> {
    validateOptions(opts)
    this.s = null
    this.warmOpen = false
    this.recoveredFrom = null
    const dir = opts.directory.replace(/\/+$/, '') || '/'
    this.where = dir
    const journal = new Journal({
      io: this.io,
      clock: this.clock,
      dir,
      epoch: opts.epoch,
      syncPolicy: opts.syncPolicy ?? 'always',
      maxFileLength: opts.journalMaxFileLength ?? JOURNAL_MAX_FILE_LENGTH_DEFAULT,
    })
    try {
      const r = await recoverJournal({
        journal,
        kind: this.kind,
        checkpoints: this.checkpoints,
        clock: this.clock,
        dedupeWindow: opts.dedupeWindow ?? DEDUPE_WINDOW_DEFAULT,
        recordBytesMax: this.recordBytesMax,
        standby: opts.standby,
        legacy: opts.legacyMessage !== undefined,
      })
      const fence = () => this.assertFence(opts)
      const commit = new JournalGroupCommit(
        journal,
        r.index,
        this.queue.writes,
        (p) => this.queue.push(p),
        fence,
        this.recordBytesMax,
      )
      const reader = new JournalReader(journal, r.index, r.report.corrupt, opts.legacyMessage)
      const maint = new JournalMaintenance({
        journal,
        index: r.index,
        reader,
        commit,
        seals: r.seals,
        clock: this.clock,
        checkpoints: this.checkpoints,
        fence,
        ckpt: r.ckpt,
        ckptBytes: r.ckptBytes,
        recordsReplayed: r.report.recordsReplayed,
      })
      const verify = new CheckpointVerification(dir, r.index, reader, this.clock, () => this.isOpen)
      this.s = { opts, journal, index: r.index, commit, reader, maint, verify, report: r.report }
      this.warmOpen = r.warmOpen
      this.recoveredFrom = r.recoveredFrom
      return {
        destinations: r.index.summaries(),
        subscriptions: [...r.index.subs.values()].map((x) => x.rec),
        report: r.report,
      }
    } catch (e) {
      await journal.closeCurrent()
      throw e
    }
  }

  protected override started(): void {
    this.startTimers()
    if (this.recoveredFrom) this.s!.verify.start(this.recoveredFrom, this.warmOpen)
  }

  /** A read-only reader that keeps this store's index current on a warm replica (pass it to open() as `standby`). */
  standby(opts: StandbyOptions): StandbyReader {
    return new JournalTailReader(this.kind, this.checkpoints, opts, {
      io: this.io,
      recordBytesMax: this.recordBytesMax,
    })
  }

  // ---- write path ----------------------------------------------------------------------------------------------

  protected writeStore(ops: StoreOp[]): Promise<WriteResult> {
    return this.s!.commit.write(ops)
  }

  protected override commitNext(): Promise<void> {
    return this.s!.commit.commitNext()
  }

  private async assertFence(opts: OpenOptions) {
    if (opts.fence) await opts.fence.assertCurrent()
  }

  /** A commit or maintenance task failed: no further writes; pending ones get the error, the node is told. */
  protected override commitFailed(e: Error): void {
    if (this.state === 'failed' || this.state === 'closed') return
    const err = isBrokerError(e) ? e : new BrokerError('STORAGE_IO', `store ${this.where}: ${e.message}`, { cause: e })
    const wasClosing = this.state === 'closing'
    this.enterFailed(err)
    this.s?.commit.rejectAll(err)
    log.error(`store ${this.where}: fatal${wasClosing ? ' while closing' : ''}, no further writes accepted`, err)
    try {
      this.s?.opts.onFatalError?.(err)
    } catch (cbErr) {
      log.error('onFatalError callback threw', cbErr)
    }
  }

  // ---- reads ---------------------------------------------------------------------------------------------------

  protected loadStore(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    return this.s!.reader.load(destination, afterSeq, limit)
  }

  protected isDuplicateStore(messageId: string): boolean {
    return this.s!.index.dedupe.has(messageId) || this.s!.commit.isPending(messageId)
  }

  protected statsStore(): StoreStats {
    const s = this.s!
    return {
      adapter: this.kind,
      directory: this.where,
      bytes: s.maint.ckptBytes + s.journal.bytes(),
      messages: s.index.messages,
      destinations: s.index.summaries(),
      ...s.journal.syncLatency.snapshot(),
      integrity: {
        corrupt: [...s.reader.corruptList],
        corruptCount: s.reader.corruptCount,
        tornTail: s.report.tornTail,
        fencedRecordsIgnored: s.report.fencedRecordsIgnored,
        verification: s.verify.state,
        verifiedMessages: s.verify.verifiedMessages,
      },
    }
  }

  /** Resolves when the background verification started by open() has finished or stopped (tests, tools). */
  verified(): Promise<void> {
    return this.s?.verify.done() ?? Promise.resolve()
  }

  // ---- checkpoint / GC -----------------------------------------------------------------------------------------

  protected checkpointStore(): Promise<void> {
    const maint = this.s!.maint
    return this.queue.task(() => maint.checkpoint(true))
  }

  /** Run GC now (also runs every cleanupIntervalMs). Resolves with the ids of the deleted segments. */
  async cleanup(): Promise<number[]> {
    this.assertOpen('cleanup()')
    const maint = this.s!.maint
    let deleted: number[] = []
    await this.queue.task(async () => {
      deleted = await maint.cleanup()
    })
    return deleted
  }

  private startTimers() {
    const s = this.s!
    const every = (name: string, ms: number, fn: () => void) => {
      const arm = () => {
        const h = this.clock.setTimeout(() => {
          if (this.state !== 'open') return
          fn()
          arm()
        }, ms)
        // A store's timers alone must not keep the process alive.
        ;(h as { unref?: () => void } | null)?.unref?.()
        this.timers.set(name, h)
      }
      arm()
    }
    const quiet = (p: Promise<unknown>) => p.catch(() => {}) // failures already went to commitFailed/onFatalError
    if (s.journal.syncPolicy === 'periodic')
      every('sync', s.opts.syncIntervalMs ?? 1000, () => void quiet(this.queue.task(() => s.journal.syncCurrent())))
    const ck = s.opts.checkpointIntervalMs ?? 5000
    if (this.checkpoints && ck > 0)
      every('checkpoint', ck, () => void quiet(this.queue.task(() => s.maint.checkpoint(false))))
    const gc = s.opts.cleanupIntervalMs ?? 30_000
    if (gc > 0) every('cleanup', gc, () => void quiet(this.queue.task(async () => void (await s.maint.cleanup()))))
  }

  private stopTimers() {
    for (const t of this.timers.values()) this.clock.clearTimeout(t)
    this.timers.clear()
  }

  // ---- close ---------------------------------------------------------------------------------------------------

  protected async closeStore(wasOpen: boolean): Promise<void> {
    this.stopTimers()
    const s = this.s!
    if (wasOpen) {
      // Pending writes complete (or fail with a code); new ones already get STORAGE_CLOSED.
      this.queue.kick()
      await this.queue.whenIdle()
      // The background verification sees the store closing and stops after its current page (it holds read handles).
      await s.verify.stop()
      if (this.state === 'closing') {
        try {
          await s.maint.checkpoint(false)
        } catch (e) {
          // A node that is stepping down (even for a clean stop) no longer passes the epoch fence, so the final
          // checkpoint is refused by design: nothing is lost, the next open replays the journal since the last
          // periodic checkpoint. Only other failures are errors.
          if (isBrokerError(e, 'ELECTION_FENCED') || isBrokerError(e, 'STORAGE_FENCED')) {
            log.info(
              `store ${this.where}: final checkpoint not written (${e.message}); the next open replays the journal since the last checkpoint`,
            )
          } else log.error(`store ${this.where}: final checkpoint failed; the next open replays more journal`, e)
        }
      }
    }
    s.reader.closeAll()
    await s.journal.closeCurrent()
  }

  /** For tests and tools: segment ids on disk, oldest first, and the one being written. */
  segmentIds(): { ids: number[]; current: number | null } {
    const j = this.s?.journal
    if (!j) return { ids: [], current: null }
    return { ids: [...j.segments.keys()].sort((a, b) => a - b), current: j.cur?.id ?? null }
  }
}

function validateOptions(o: OpenOptions) {
  const bad = (field: string, v: unknown, want: string) =>
    new BrokerError('CONFIG_INVALID', `storage open ${field}: ${JSON.stringify(v)} is not ${want}`, {
      details: { field, value: v },
    })
  if (!o || typeof o.directory !== 'string' || o.directory === '')
    throw bad('directory', o?.directory, 'a non-empty path')
  if (!Number.isInteger(o.epoch) || o.epoch < 1 || o.epoch > 0xffffffff)
    throw bad('epoch', o.epoch, 'an integer in 1..4294967295')
  if (o.syncPolicy !== undefined && !['always', 'periodic', 'never'].includes(o.syncPolicy))
    throw bad('syncPolicy', o.syncPolicy, 'always, periodic or never')
  if (
    o.journalMaxFileLength !== undefined &&
    (!Number.isInteger(o.journalMaxFileLength) ||
      o.journalMaxFileLength < JOURNAL_MAX_FILE_LENGTH_MIN ||
      o.journalMaxFileLength > JOURNAL_MAX_FILE_LENGTH_MAX)
  ) {
    throw bad(
      'journalMaxFileLength',
      o.journalMaxFileLength,
      `an integer number of bytes in ${JOURNAL_MAX_FILE_LENGTH_MIN}..${JOURNAL_MAX_FILE_LENGTH_MAX}`,
    )
  }
  for (const f of ['syncIntervalMs', 'checkpointIntervalMs', 'cleanupIntervalMs'] as const) {
    const v = o[f]
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw bad(f, v, 'a non-negative number of milliseconds')
  }
  if (o.syncPolicy === 'periodic' && o.syncIntervalMs !== undefined && o.syncIntervalMs <= 0)
    throw bad('syncIntervalMs', o.syncIntervalMs, 'a positive number of milliseconds with syncPolicy periodic')
  if (o.dedupeWindow !== undefined && (!Number.isInteger(o.dedupeWindow) || o.dedupeWindow < 0))
    throw bad('dedupeWindow', o.dedupeWindow, 'a non-negative integer')
}
