/**
 * LevelIntegrity: the damage a levelDB store knows of since its open, for logs and stats().integrity.
 *
 * LevelDB (paranoid_checks off) drops damaged write-ahead log records on open and opens anyway. The open reports
 * what it dropped (recovery-findings.ts): a torn tail of the newest log and zero-filled headers, which LevelDB drops
 * silently, found by scanning the log headers right before the open; and the ranges LevelDB itself logs to
 * `leveldb/LOG` as "dropping N bytes; Corruption: ..." (bad CRC and the like), read right after it. They come back
 * in RecoveryReport (`tornTail`, `corrupt`), are logged here, and stay in stats().integrity for status. A stored
 * message that does not decode on load() is added once per open (never served, kept in the store).
 *
 * Not promised: the offset of a LevelDB-reported drop (LevelDB does not log it: -1, said in the reason); keeping
 * damaged bytes on disk (LevelDB compacts the replayed log into a table and deletes it, so a finding is reported by
 * the open that found it only); finding damage in table (`*.ldb`) files: LevelDB is opened without paranoid_checks,
 * so it does not verify table block CRCs; a malformed block fails the read (STORAGE_CORRUPT_RECORD) but a flipped
 * bit inside a value can go unnoticed.
 */
import { logger } from '../../../lib/log.ts'
import type { RecoveryReport, StoreIntegrity } from '../../types.ts'

const log = logger('storage-leveldb')

/** stats().integrity lists at most this many corrupt findings (all are logged and counted). */
export const CORRUPT_REPORT_MAX = 100

export class LevelIntegrity {
  /** What this open found LevelDB dropped. */
  private tornTail: RecoveryReport['tornTail'] = null
  private corrupt: RecoveryReport['corrupt'] = []
  /** Message keys (hex) load() found corrupt since open: reported once each. */
  private readonly corruptKeys = new Set<string>()

  /** `levelDir`: the LevelDB directory the findings are about (named in every log line). */
  constructor(private readonly levelDir: () => string) {}

  /**
   * Keep the open's findings and log each one (error for lost records, warn for a torn tail). `corrupt` is kept by
   * reference: findings the open adds to it later (a format upgrade's) are reported too.
   */
  opened(tornTail: RecoveryReport['tornTail'], corrupt: RecoveryReport['corrupt'], why: string | undefined): void {
    this.tornTail = tornTail
    this.corrupt = corrupt
    for (const c of corrupt)
      log.error(
        `store ${this.levelDir()}: log records dropped at recovery, not replayed: ${c.file}:${c.offset}: ${c.reason}`,
      )
    if (tornTail) {
      // Never acknowledged under syncPolicy always (receipts follow the sync); under periodic/never it may have been.
      log.warn(
        `store ${this.levelDir()}: torn tail cut off: ${tornTail.file}:${tornTail.offset} (${tornTail.bytes} bytes${why ? `; ${why}` : ''})`,
      )
    }
  }

  /** A stored message that does not decode: say so once per open, never serve it (it stays in the store). */
  corruptMessage(key: Buffer, destination: string, seq: number, reason: string): void {
    const k = key.toString('hex')
    if (this.corruptKeys.has(k)) return
    this.corruptKeys.add(k)
    const why = `message seq ${seq} of ${destination}: ${reason}; not delivered, kept in the store`
    this.corrupt.push({ file: this.levelDir(), offset: 0, reason: why })
    log.error(`store ${this.levelDir()}: corrupt message: ${why}`, {
      code: 'STORAGE_CORRUPT_RECORD',
      destination,
      seq,
    })
  }

  snapshot(): StoreIntegrity {
    return {
      corrupt: this.corrupt.slice(0, CORRUPT_REPORT_MAX),
      corruptCount: this.corrupt.length,
      tornTail: this.tornTail,
      fencedRecordsIgnored: 0,
      // No background check of table files exists (see the header: table damage is not promised).
      verification: 'not-needed',
      verifiedMessages: 0,
    }
  }
}
