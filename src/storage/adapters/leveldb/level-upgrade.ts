/**
 * Opening a database sfbroker 0.1.0 wrote (meta version 1): every format 1 message record is rewritten as a format 2
 * record (the 0.1.0 header map read through OpenOptions.legacyMessage into a CoreMessage), with its index entry's
 * record length, in bounded batches; then the meta is set to version 2, synced. A crash in between leaves meta
 * version 1 and a mix of records, and the next open simply converts the rest (records already at 2 are skipped).
 * Keys, subscriptions, seqs and the dedupe record (0.1.0's message ids = the dedupe keys of its STOMP producers) are
 * the same in both formats and stay. A record that cannot be converted stays as it was and is reported (load()
 * reports it again and skips it): nothing is dropped silently. Not owned: the meta check (level-open.ts).
 */
import { BrokerError } from '../../../lib/errors.ts'
import { logger } from '../../../lib/log.ts'
import type { LegacyMessageReader, RecoveryReport } from '../../types.ts'
import { encodeRecord, decodeV1Record, indexKey, P_MSG, parseDestSeqKey, prefixRange, u32 } from './keys.ts'
import type { BatchOp, NativeDb } from './native.ts'

const log = logger('storage-leveldb')

/** Records read and rewritten per batch while converting (bounds memory: at most this many records held). */
export const UPGRADE_BATCH_RECORDS_MAX = 1000
/** ... and at most this many record bytes per batch (large bodies). */
export const UPGRADE_BATCH_BYTES_MAX = 32 * 1024 * 1024

export async function upgradeV1Records(
  db: NativeDb,
  levelDir: string,
  epoch: number,
  legacy: LegacyMessageReader,
): Promise<{ converted: number; corrupt: RecoveryReport['corrupt'] }> {
  const range = prefixRange(P_MSG)
  const corrupt: RecoveryReport['corrupt'] = []
  let converted = 0
  let after: Buffer | null = null
  // Bounded: every turn moves `after` past at least one record, or ends.
  for (;;) {
    const batch: BatchOp[] = []
    let bytes = 0
    let seen = 0
    let last: Buffer | null = null
    await db.scan(
      { ...(after ? { gt: after } : { gte: range.gte }), lt: range.lt, limit: UPGRADE_BATCH_RECORDS_MAX },
      (k, v) => {
        if (bytes >= UPGRADE_BATCH_BYTES_MAX) return
        seen++
        last = Buffer.from(k)
        if (!v || v.length < 9 || v[0] !== 1) return // already format 2 (an earlier, interrupted upgrade) or judged by load()
        const where = `levelDB: message record ${k.toString('hex')}`
        try {
          const r = decodeV1Record(where, v)
          const rec = encodeRecord(r.epoch, legacy(r.messageId, r.headers, r.body))
          const { destId, seq } = parseDestSeqKey(k)
          batch.push(
            { type: 'put', key: Buffer.from(k), value: rec },
            { type: 'put', key: indexKey(destId, seq), value: u32(rec.length) },
          )
          bytes += rec.length
          converted++
        } catch (e) {
          const reason = `format 1 message not converted (${(e as Error).message}); kept as is, not delivered`
          corrupt.push({ file: levelDir, offset: 0, reason: `${where}: ${reason}` })
          log.error(`store ${levelDir}: ${where}: ${reason}`, { code: 'STORAGE_CORRUPT_RECORD' })
        }
      },
    )
    if (batch.length > 0) await db.batch(batch, false)
    if (seen === 0 || last === null) break
    after = last
  }
  if (converted === 0 && corrupt.length === 0) return { converted, corrupt }
  log.info(`store ${levelDir}: converted ${converted} format 1 message record(s) to format 2 under epoch ${epoch}`)
  return { converted, corrupt }
}

/** Thrown when a 0.1.0 database is opened without a legacy reader: nothing was written. */
export function upgradeRefused(levelDir: string): BrokerError {
  return new BrokerError(
    'STORAGE_FORMAT',
    `levelDB ${levelDir}: format version 1 (sfbroker 0.1.0) and no legacy message reader was given; expected format 2 or OpenOptions.legacyMessage to convert it`,
  )
}
