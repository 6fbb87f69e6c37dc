/**
 * Applying one journal record to an IndexState during replay: shared by recovery (JournalStore.open, cold) and the
 * warm replica's tail reader (JournalTailReader), so a warm takeover and a cold open build the index by exactly the
 * same rules. It does no I/O and owns no policy about damaged bytes (that is segment-scanner.ts and the callers').
 */
import { BrokerError } from '../../lib/errors.ts'
import { decodeBatchForReplay, decodeCarry, RECORD_HEADER_BYTES, RT_BATCH, RT_CARRY, type ReplayOp } from './format.ts'
import type { IndexState } from './index-state.ts'

/**
 * Apply the record of `type` whose payload is data[ps, pe), stored at file offset `offset` of segment `segId`.
 * Throws STORAGE_CORRUPT_RECORD (and applies nothing) when the payload does not decode or breaks seq order.
 */
export function applyRecord(
  index: IndexState,
  data: Buffer,
  type: number,
  ps: number,
  pe: number,
  offset: number,
  segId: number,
  where: string,
): void {
  if (type === RT_BATCH) {
    const ops = decodeBatchForReplay(data, ps, pe, `${where} offset ${offset}`)
    // Check before applying anything: a batch is applied whole or reported whole.
    for (const op of ops) {
      const d = op.op === 'add' ? index.dests.get(op.destination) : undefined
      if (op.op === 'add' && d && d.n > 0 && d.seq[d.n - 1] >= op.seq) {
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `batch adds seq ${op.seq} to ${op.destination} after seq ${d.seq[d.n - 1]}; batch not applied`,
        )
      }
    }
    for (const op of ops) applyReplayOp(index, op, segId, offset + RECORD_HEADER_BYTES)
  } else if (type === RT_CARRY) {
    const c = decodeCarry(data, ps, pe, `${where} offset ${offset}`)
    for (const s of c.subscriptions) index.putSubscription(s, segId)
    for (const id of c.dedupe) index.dedupe.add(id, segId)
    if (c.nextSeq > index.nextSeq) index.nextSeq = c.nextSeq
  }
}

function applyReplayOp(index: IndexState, op: ReplayOp, file: number, payloadOffset: number) {
  switch (op.op) {
    case 'add':
      index.add(
        op.destination,
        op.seq,
        op.dedupe,
        { file, offset: payloadOffset + op.offset, length: op.length },
        op.bodyBytes,
      )
      return
    case 'remove':
      index.remove(op.destination, op.seq)
      return
    case 'purge':
      index.purge(op.destination)
      return
    case 'putSubscription':
      index.putSubscription(op.subscription, file)
      return
    case 'removeSubscription':
      index.removeSubscription(op.clientId, op.subscriptionName)
      return
  }
}
