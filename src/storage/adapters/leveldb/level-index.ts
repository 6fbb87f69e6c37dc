/**
 * LevelIndex: what the levelDB adapter keeps in memory of its database: per destination each live message's seq and
 * record size (stats, removes and purge without reading records), the subscription records, the last seq and batch
 * number, and the dedupe window. It rebuilds itself from the database on open (`recover`) and turns validated ops
 * into LevelDB batch entries while updating itself (`apply`). Messages themselves stay in LevelDB.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { dedupeKey as messageDedupeKey } from '../../../model/index.ts'
import type { DestinationSummary, DurableSubscriptionRecord, StoreOp } from '../../types.ts'
import type { BatchOp, NativeDb } from './native.ts'
import {
  BATCH_KEY,
  P_DEDUPE,
  P_DEST,
  P_INDEX,
  P_SUB,
  SEQ_KEY,
  dedupeKey,
  destFromKey,
  destKey,
  encodeRecord,
  indexKey,
  msgKey,
  prefixRange,
  readU64At,
  subKey,
  u32,
} from './keys.ts'

interface DestState {
  id: number
  /** seq -> record bytes */
  msgs: Map<number, number>
  bytes: number
}

export class LevelIndex {
  readonly dests = new Map<string, DestState>()
  private nextDestId = 1
  readonly subs = new Map<string, DurableSubscriptionRecord>()
  lastSeq = 0
  /** Number of the last batch written (key `\0batch`). */
  group = 0
  /** Dedupe window: key -> seq of its newest record; FIFO of (seq, key), oldest at `dedupeHead`. */
  private readonly dedupe = new Map<string, number>()
  private dedupeFifo: [number, string][] = []
  private dedupeHead = 0

  constructor(
    private readonly levelDir: string,
    private readonly dedupeWindow: number,
  ) {}

  /** Rebuild from `db`; returns the keys scanned. Ids beyond a smaller window are dropped durably now. */
  async recover(db: NativeDb): Promise<number> {
    let n = 0
    await db.scan({ gte: SEQ_KEY, lte: SEQ_KEY }, (_k, v) => (this.lastSeq = readU64At(v!, 0)))
    await db.scan({ gte: BATCH_KEY, lte: BATCH_KEY }, (_k, v) => (this.group = readU64At(v!, 4)))
    const byId = new Map<number, DestState>()
    n += await db.scan(prefixRange(P_DEST), (k, v) => {
      const id = v!.readUInt32BE(0)
      const d: DestState = { id, msgs: new Map(), bytes: 0 }
      this.dests.set(destFromKey(k), d)
      byId.set(id, d)
      this.nextDestId = Math.max(this.nextDestId, id + 1)
    })
    // Hot loop of recovery (one call per stored message): no allocation beyond the Map entry.
    let cur: DestState | undefined
    let curId = -1
    n += await db.scan(prefixRange(P_INDEX), (k, v) => {
      if (k.length !== 13 || !v || v.length !== 4)
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `levelDB ${this.levelDir}: index entry ${k.toString('hex')} malformed`,
        )
      const destId = k.readUInt32BE(1)
      const seq = k.readUInt32BE(5) * 0x1_0000_0000 + k.readUInt32BE(9)
      const size = v.readUInt32BE(0)
      if (destId !== curId) {
        cur = byId.get(destId)
        curId = destId
        if (!cur)
          throw new BrokerError(
            'STORAGE_CORRUPT_RECORD',
            `levelDB ${this.levelDir}: message seq ${seq} belongs to unknown destination id ${destId}`,
          )
      }
      cur!.msgs.set(seq, size)
      cur!.bytes += size
      if (seq > this.lastSeq) this.lastSeq = seq
    })
    n += await db.scan(prefixRange(P_SUB), (k, v) => {
      try {
        const rec = JSON.parse(v!.toString('utf8')) as DurableSubscriptionRecord
        this.subs.set(subKey(rec.clientId, rec.subscriptionName).toString('latin1'), rec)
      } catch (e) {
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `levelDB ${this.levelDir}: subscription record ${k.toString('hex')} is not JSON`,
          { cause: e },
        )
      }
    })
    n += await db.scan(prefixRange(P_DEDUPE), (k, v) => {
      const seq = readU64At(k, 1)
      const id = v!.toString('utf8')
      this.dedupeFifo.push([seq, id])
      this.dedupe.set(id, seq)
    })
    // A smaller window than last time: drop the oldest now, durably.
    const trim: BatchOp[] = []
    this.evictDedupe(trim)
    if (trim.length > 0) await db.batch(trim, true)
    return n
  }

  /** Drop the ids beyond the window (their keys deleted in `out`). */
  evictDedupe(out: BatchOp[]): void {
    while (this.dedupeFifo.length - this.dedupeHead > this.dedupeWindow) {
      const [seq, id] = this.dedupeFifo[this.dedupeHead++]
      out.push({ type: 'del', key: dedupeKey(seq) })
      if (this.dedupe.get(id) === seq) this.dedupe.delete(id)
    }
    // Compact the FIFO now and then instead of shifting per eviction.
    if (this.dedupeHead > 1024 && this.dedupeHead * 2 > this.dedupeFifo.length) {
      this.dedupeFifo = this.dedupeFifo.slice(this.dedupeHead)
      this.dedupeHead = 0
    }
  }

  isDuplicate(key: string): boolean {
    return this.dedupe.has(key)
  }

  private destFor(destination: string, batch: BatchOp[]): DestState {
    let d = this.dests.get(destination)
    if (!d) {
      d = { id: this.nextDestId++, msgs: new Map(), bytes: 0 }
      this.dests.set(destination, d)
      const v = Buffer.alloc(4)
      v.writeUInt32BE(d.id, 0)
      batch.push({ type: 'put', key: destKey(destination), value: v })
    }
    return d
  }

  /** Add the batch entries of one validated op to `batch`, update the index, and push an add's seq to `seqs`. */
  apply(o: StoreOp, epoch: number, batch: BatchOp[], seqs: number[]): void {
    switch (o.op) {
      case 'add': {
        const d = this.destFor(o.destination, batch)
        const seq = ++this.lastSeq
        const value = encodeRecord(epoch, o.message)
        batch.push(
          { type: 'put', key: msgKey(d.id, seq), value },
          { type: 'put', key: indexKey(d.id, seq), value: u32(value.length) },
        )
        d.msgs.set(seq, value.length)
        d.bytes += value.length
        seqs.push(seq)
        const key = messageDedupeKey(o.message)
        if (this.dedupeWindow > 0 && key !== null) {
          batch.push({ type: 'put', key: dedupeKey(seq), value: Buffer.from(key, 'utf8') })
          this.dedupe.set(key, seq)
          this.dedupeFifo.push([seq, key])
        }
        return
      }
      case 'remove': {
        const d = this.dests.get(o.destination)
        const size = d?.msgs.get(o.seq)
        if (!d || size === undefined) return // already gone: acks are idempotent
        batch.push({ type: 'del', key: msgKey(d.id, o.seq) }, { type: 'del', key: indexKey(d.id, o.seq) })
        d.msgs.delete(o.seq)
        d.bytes -= size
        return
      }
      case 'purge': {
        const d = this.dests.get(o.destination)
        if (!d) return
        for (const seq of d.msgs.keys())
          batch.push({ type: 'del', key: msgKey(d.id, seq) }, { type: 'del', key: indexKey(d.id, seq) })
        d.msgs.clear()
        d.bytes = 0
        return
      }
      case 'putSubscription': {
        const s = o.subscription
        const k = subKey(s.clientId, s.subscriptionName)
        batch.push({ type: 'put', key: k, value: Buffer.from(JSON.stringify(s), 'utf8') })
        this.subs.set(k.toString('latin1'), { ...s })
        return
      }
      case 'removeSubscription': {
        const k = subKey(o.clientId, o.subscriptionName)
        batch.push({ type: 'del', key: k })
        this.subs.delete(k.toString('latin1'))
        return
      }
    }
  }

  messageCount(): number {
    let n = 0
    for (const d of this.dests.values()) n += d.msgs.size
    return n
  }

  summaries(): DestinationSummary[] {
    return [...this.dests].map(([destination, d]) => ({ destination, count: d.msgs.size, bytes: d.bytes }))
  }
}
