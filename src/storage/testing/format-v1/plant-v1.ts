/**
 * Test fixture: plants the store a sfbroker 0.1.0 broker would have left in `dir` after writing `batches` (each one
 * atomic write() of 0.1.0), for kahaDB, amq and levelDB, using only the frozen 0.1.0 encoders beside this file.
 * Seqs are assigned as 0.1.0 did (1, 2, ... per add across the store); they are returned in add order.
 * Journal stores get the batches spread over `segments` segment files (mixed journals, GC'd heads); no checkpoint
 * is planted (recovery replays the journal, which 0.1.0's own recovery did when its checkpoint was missing).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type BatchOp, NativeDb } from '../../adapters/leveldb/native.ts'
import { v1EncodeBatch, v1FrameRecord, v1MarkerJson, v1SegmentHeader, V1_RT_BATCH, type V1Op } from './journal-v1.ts'
import {
  v1BatchKey,
  v1BatchValue,
  v1DedupeKey,
  v1DestKey,
  v1IndexKey,
  v1MessageRecord,
  v1MetaKey,
  v1MetaValue,
  v1MsgKey,
  v1SeqKey,
  v1SeqValue,
  v1SubKey,
  v1SubValue,
  v1U32,
} from './level-v1.ts'

export type V1Adapter = 'kahaDB' | 'amq' | 'levelDB'

export interface PlantV1Options {
  /** Epoch 0.1.0 wrote under (default 1). */
  epoch?: number
  /** Journal segments to spread the batches over (default 1). */
  segments?: number
  createdAt?: number
}

/** Seqs of the add ops in order, as 0.1.0 assigned them. */
export async function plantV1Store(
  dir: string,
  adapter: V1Adapter,
  batches: V1Op[][],
  opts: PlantV1Options = {},
): Promise<number[]> {
  const seqsOf = assignSeqs(batches)
  if (adapter === 'levelDB') await plantLevel(dir, batches, seqsOf, opts)
  else plantJournal(dir, adapter, batches, seqsOf, opts)
  return seqsOf.flat()
}

function assignSeqs(batches: V1Op[][]): number[][] {
  let next = 1
  return batches.map((b) => b.filter((o) => o.op === 'add').map(() => next++))
}

function plantJournal(
  dir: string,
  adapter: 'kahaDB' | 'amq',
  batches: V1Op[][],
  seqsOf: number[][],
  opts: PlantV1Options,
): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'journal.json'), v1MarkerJson(adapter))
  const epoch = opts.epoch ?? 1
  const nSeg = Math.max(1, opts.segments ?? 1)
  const perSeg = Math.ceil(batches.length / nSeg) || 1
  for (let s = 0; s < nSeg; s++) {
    const parts = [v1SegmentHeader({ epoch, id: s + 1, createdAt: opts.createdAt ?? 1_700_000_000_000 })]
    for (let i = s * perSeg; i < Math.min(batches.length, (s + 1) * perSeg); i++)
      parts.push(v1FrameRecord(V1_RT_BATCH, epoch, v1EncodeBatch(batches[i], seqsOf[i])))
    writeFileSync(join(dir, `db-${s + 1}.log`), Buffer.concat(parts))
  }
}

async function plantLevel(dir: string, batches: V1Op[][], seqsOf: number[][], opts: PlantV1Options): Promise<void> {
  const epoch = opts.epoch ?? 1
  const levelDir = join(dir, 'leveldb')
  mkdirSync(levelDir, { recursive: true })
  const db = await NativeDb.open(levelDir)
  try {
    await db.batch(
      [{ type: 'put', key: v1MetaKey(), value: v1MetaValue(epoch, opts.createdAt ?? 1_700_000_000_000) }],
      true,
    )
    const dests = new Map<string, { id: number; seqs: Set<number> }>()
    let lastSeq = 0
    let group = 0
    for (let b = 0; b < batches.length; b++) {
      const out: BatchOp[] = []
      let k = 0
      for (const o of batches[b]) {
        if (o.op === 'add') {
          let d = dests.get(o.destination)
          if (!d) {
            d = { id: dests.size + 1, seqs: new Set() }
            dests.set(o.destination, d)
            out.push({ type: 'put', key: v1DestKey(o.destination), value: v1U32(d.id) })
          }
          const seq = seqsOf[b][k++]
          lastSeq = seq
          const value = v1MessageRecord(epoch, o.message)
          out.push(
            { type: 'put', key: v1MsgKey(d.id, seq), value },
            { type: 'put', key: v1IndexKey(d.id, seq), value: v1U32(value.length) },
            { type: 'put', key: v1DedupeKey(seq), value: Buffer.from(o.message.messageId, 'utf8') },
          )
          d.seqs.add(seq)
        } else if (o.op === 'remove') {
          const d = dests.get(o.destination)
          if (!d || !d.seqs.delete(o.seq)) continue
          out.push({ type: 'del', key: v1MsgKey(d.id, o.seq) }, { type: 'del', key: v1IndexKey(d.id, o.seq) })
        } else if (o.op === 'purge') {
          const d = dests.get(o.destination)
          if (!d) continue
          for (const seq of d.seqs)
            out.push({ type: 'del', key: v1MsgKey(d.id, seq) }, { type: 'del', key: v1IndexKey(d.id, seq) })
          d.seqs.clear()
        } else if (o.op === 'putSubscription') {
          const s = o.subscription
          out.push({ type: 'put', key: v1SubKey(s.clientId, s.subscriptionName), value: v1SubValue(s) })
        } else {
          out.push({ type: 'del', key: v1SubKey(o.clientId, o.subscriptionName) })
        }
      }
      out.push({ type: 'put', key: v1SeqKey(), value: v1SeqValue(lastSeq) })
      out.push({ type: 'put', key: v1BatchKey(), value: v1BatchValue(epoch, ++group) })
      await db.batch(out, true)
    }
  } finally {
    await db.close()
  }
}
