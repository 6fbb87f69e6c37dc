/**
 * JournalGroupCommit: the journal's write path. A write() batch becomes one framed record (so it is atomic across
 * a crash), takes its seqs and its place in the queue at once, and is committed with every record queued behind it
 * that fits: one append, one sync per policy, then the epoch fence once for the group, and only then are the
 * records applied to the index and their writes resolved (FENCING.md). Large bodies are copied and checksummed in
 * slices so no task holds the event loop, and small records of other destinations may pass a large one still
 * being filled (see overtakers). The queue itself (order, pump, tasks) is the shared GroupCommitQueue.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { StoreOp, WriteResult } from '../types.ts'
import { dedupeKey } from '../../model/index.ts'
import {
  checksum,
  deferredCrcSpan,
  encodeBatch,
  finishDeferred,
  frameRecordHeader,
  frameRecordInPlace,
  RECORD_CRC_AT,
  RECORD_HEADER_BYTES,
  RT_BATCH,
  type EncodedBatch,
} from './format.ts'
import type { IndexState } from './index-state.ts'
import type { Journal } from './journal.ts'
import { COPY_SLICE_BYTES, CRC_SLICE_BYTES, turn } from './slices.ts'

/** Bytes one group commit gathers at most (a larger single record still goes alone). */
export const GROUP_COMMIT_BYTES_MAX = 8 * 1024 * 1024
/** Times a filled large record at the head of the queue may be passed by smaller independent ones (see overtakers). */
const OVERTAKEN_MAX = 4
/** Bytes of a large body copied into its record per turn: fresh pages cost ~10 ms/MiB on a loaded VM. */
const FILL_SLICE_BYTES = 1024 * 1024

/** One queued write() batch. */
export interface PendingRecord {
  /** The framed record; being filled while `ready` is set (a large body copied in slices, see prepare()). */
  record: Buffer
  ready?: Promise<void> | null
  ops: StoreOp[]
  seqs: number[]
  adds: { offset: number; length: number; bodyBytes: number }[]
  ids: string[]
  /** Groups committed ahead of this record while it was at the head of the queue (see overtakers). */
  overtaken?: number
  resolve: (r: WriteResult) => void
  reject: (e: Error) => void
}

/**
 * Copy the deferred bodies of `enc` into its payload and checksum them, FILL_SLICE_BYTES per event-loop turn, then
 * frame the record (its CRC over the whole payload, again in slices): a CRC of 90 MiB in one go took 40-80 ms.
 */
async function fillInSlices(enc: EncodedBatch, type: number, epoch: number): Promise<void> {
  for (const d of enc.deferred) {
    const span = deferredCrcSpan(d)
    let crc = checksum(enc.payload, span.start, d.at)
    for (let off = 0; off < d.body.length; off += FILL_SLICE_BYTES) {
      await turn()
      const end = Math.min(d.body.length, off + FILL_SLICE_BYTES)
      enc.payload.set(d.body.subarray(off, end), d.at + off)
      crc = checksum(enc.payload, d.at + off, d.at + end, crc)
    }
    enc.payload.writeUInt32LE(crc, span.at)
  }
  let crc = frameRecordHeader(type, epoch, enc.buffer)
  for (let off = RECORD_HEADER_BYTES; off < enc.buffer.length; off += CRC_SLICE_BYTES) {
    await turn()
    crc = checksum(enc.buffer, off, Math.min(enc.buffer.length, off + CRC_SLICE_BYTES), crc)
  }
  enc.buffer.writeUInt32LE(crc, RECORD_CRC_AT)
}

export class JournalGroupCommit {
  /** Dedupe keys of queued, not yet committed adds (isDuplicate sees them): key -> count. */
  private readonly pendingIds = new Map<string, number>()
  /** Wakes a commit loop waiting for a large record to be filled (a record arrived or got ready). */
  private commitWaiter: (() => void) | null = null
  /** Records applied to the index (the checkpoint counts its changes from it). */
  applied = 0

  constructor(
    private readonly journal: Journal,
    private readonly index: IndexState,
    /** The shared queue's array of writes (taken from in place). */
    private readonly pending: PendingRecord[],
    private readonly push: (p: PendingRecord) => void,
    private readonly fence: () => Promise<void>,
    private readonly recordBytesMax: number,
  ) {}

  /** Encode a validated batch into its record, assign its seqs and queue it. */
  write(ops: StoreOp[]): Promise<WriteResult> {
    if (ops.length === 0) return Promise.resolve({ seqs: [] })
    const seqs: number[] = []
    const ids: string[] = []
    for (const o of ops) {
      if (o.op === 'add') {
        seqs.push(this.index.nextSeq++)
        const key = dedupeKey(o.message)
        if (key !== null) ids.push(key)
      }
    }
    // Encoded straight into the record buffer (header room first): one copy of each body, not two.
    let enc: EncodedBatch
    try {
      enc = encodeBatch(ops, seqs, { headerRoom: RECORD_HEADER_BYTES, deferBodies: true })
    } catch (e) {
      // A message record over MESSAGE_RECORD_BYTES_MAX (STORAGE_INVALID_OP): the seqs taken stay unused.
      return Promise.reject(e)
    }
    if (enc.payload.length > this.recordBytesMax) {
      return Promise.reject(
        new BrokerError(
          'STORAGE_INVALID_OP',
          `store ${this.journal.dir}: batch of ${enc.payload.length} bytes exceeds recordBytesMax ${this.recordBytesMax}`,
          { details: { bytes: enc.payload.length, limit: this.recordBytesMax } },
        ),
      )
    }
    const epoch = this.journal.epoch
    for (const id of ids) this.pendingIds.set(id, (this.pendingIds.get(id) ?? 0) + 1)
    return new Promise<WriteResult>((resolve, reject) => {
      const p: PendingRecord = { record: enc.buffer, ops, seqs, adds: enc.adds, ids, resolve, reject, ready: null }
      let deferredBytes = 0
      for (const d of enc.deferred) deferredBytes += d.body.length
      if (deferredBytes <= COPY_SLICE_BYTES) {
        for (const d of enc.deferred) enc.payload.set(d.body, d.at)
        finishDeferred(enc)
        frameRecordInPlace(RT_BATCH, epoch, enc.buffer)
      } else {
        // Its place in the queue (and seq order) is taken now; the commit loop waits for it to be filled, letting
        // small records of other destinations pass meanwhile (see overtakers).
        p.ready = fillInSlices(enc, RT_BATCH, epoch).then(() => {
          p.ready = null
          this.wakeCommit()
        })
      }
      this.push(p)
      this.wakeCommit()
    })
  }

  isPending(key: string): boolean {
    return this.pendingIds.has(key)
  }

  /** The store failed: reject every queued write with `err`. */
  rejectAll(err: Error): void {
    for (const p of this.pending.splice(0)) this.settle(p, err)
  }

  private wakeCommit() {
    const w = this.commitWaiter
    this.commitWaiter = null
    w?.()
  }

  /**
   * Small, filled records that may be written before the large record at the head of the queue (issue #19: a small
   * persistent SEND waited behind the copy and write of a 90 MiB one). A record may pass only records that touch
   * none of its destinations and only add/remove ops, so each destination's records stay in seq order in the file
   * (replay requires it) and in the index; subscription and purge records are barriers. A filled head record is
   * passed at most OVERTAKEN_MAX times, so a stream of small records cannot starve it.
   */
  private overtakers(cur: { size: number }): PendingRecord[] {
    const head = this.pending[0]
    if (!head.ready && (head.record.length <= COPY_SLICE_BYTES || (head.overtaken ?? 0) >= OVERTAKEN_MAX)) return []
    const held = new Set<string>()
    const group: PendingRecord[] = []
    let bytes = 0
    for (const p of this.pending) {
      if (p.ops.some((o) => o.op !== 'add' && o.op !== 'remove')) break
      const n = p.record.length
      const free =
        !p.ready && n <= COPY_SLICE_BYTES && !p.ops.some((o) => held.has((o as { destination: string }).destination))
      if (!free) {
        for (const o of p.ops) held.add((o as { destination: string }).destination)
        continue
      }
      if (bytes + n > GROUP_COMMIT_BYTES_MAX || cur.size + bytes + n > this.journal.maxFileLength) break
      group.push(p)
      bytes += n
    }
    return group
  }

  /** Take as many queued records as fit in one write, write them, sync per policy, assert the fence, then apply. */
  async commitNext(): Promise<void> {
    const j = this.journal
    const passing = this.overtakers(j.cur!)
    let group: PendingRecord[] = []
    let bytes = 0
    if (passing.length > 0) {
      const head = this.pending[0]
      if (!head.ready) head.overtaken = (head.overtaken ?? 0) + 1
      const taken = new Set(passing)
      const rest = this.pending.filter((p) => !taken.has(p))
      this.pending.splice(0, this.pending.length, ...rest)
      group = passing
      for (const p of group) bytes += p.record.length
    } else {
      if (this.pending[0].ready) {
        // Wait for it to be filled, or for a record that may pass it; then the pump loop comes back here.
        await Promise.race([this.pending[0].ready, new Promise<void>((r) => (this.commitWaiter = r))])
        this.commitWaiter = null
        return
      }
      if (j.wouldOverflow(this.pending[0].record.length)) await j.roll()
      const cur1 = j.cur!
      for (const p of this.pending) {
        const n = p.record.length
        // A record still being filled, or a large one (joining it would copy it once more), goes in a group of its own.
        if (
          group.length > 0 &&
          (p.ready ||
            n > COPY_SLICE_BYTES ||
            bytes + n > GROUP_COMMIT_BYTES_MAX ||
            cur1.size + bytes + n > j.maxFileLength)
        )
          break
        group.push(p)
        bytes += n
      }
      this.pending.splice(0, group.length)
    }
    const file = j.cur!.id
    let base: number
    try {
      const buf =
        group.length === 1
          ? group[0].record
          : Buffer.concat(
              group.map((p) => p.record),
              bytes,
            )
      base = await j.append(buf)
      await this.fence()
    } catch (e) {
      for (const p of group) this.settle(p, e as Error)
      throw e
    }
    let off = base
    for (const p of group) {
      this.apply(p, file, off)
      off += p.record.length
      this.settle(p, null)
    }
  }

  private settle(p: PendingRecord, err: Error | null) {
    for (const id of p.ids) {
      const n = (this.pendingIds.get(id) ?? 1) - 1
      if (n <= 0) this.pendingIds.delete(id)
      else this.pendingIds.set(id, n)
    }
    if (err) p.reject(err)
    else p.resolve({ seqs: p.seqs })
  }

  private apply(p: PendingRecord, file: number, recordOffset: number) {
    const payload = recordOffset + RECORD_HEADER_BYTES
    let a = 0
    for (const o of p.ops) {
      switch (o.op) {
        case 'add': {
          const loc = p.adds[a]
          this.index.add(
            o.destination,
            p.seqs[a],
            dedupeKey(o.message),
            { file, offset: payload + loc.offset, length: loc.length },
            loc.bodyBytes,
          )
          a++
          break
        }
        case 'remove':
          this.index.remove(o.destination, o.seq)
          break
        case 'purge':
          this.index.purge(o.destination)
          break
        case 'putSubscription':
          this.index.putSubscription({ ...o.subscription }, file)
          break
        case 'removeSubscription':
          this.index.removeSubscription(o.clientId, o.subscriptionName)
          break
      }
    }
    this.applied++
  }
}
