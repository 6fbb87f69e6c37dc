/**
 * Reads one journal segment for recovery: validates every record (framing, epoch, CRC) and hands valid records
 * below the seal limit to a callback. It owns the recovery policy for damaged bytes:
 *
 * - Torn tail: the bytes after the last valid record form an incomplete record (short header, or a declared length
 *   running past EOF) and no valid record follows. That is a write cut by a crash: reported as `torn` so the caller
 *   can cut it off. Nothing acknowledged can be in it (acks follow fsync).
 * - Corruption: a record whose bytes are all present but fail their CRC (or whose header is implausible) while a
 *   valid record follows, or a complete last record with a bad CRC. We *skip and report*: the scanner resynchronises
 *   on the next valid record header (same epoch, known type, zero reserved bytes, CRC ok) and reports the skipped
 *   range with file and offset. Chosen over refusing to open because one flipped byte must not take a whole broker
 *   (and every other queue) down; the report is returned in RecoveryReport.corrupt and logged at error level, so an
 *   operator learns exactly which records were lost. Silent skipping never happens.
 * - Fencing: a valid record ending beyond `limit` (the smallest seal a newer epoch recorded for this segment) was
 *   written by a deposed primary after the takeover: counted in `fenced`, never applied.
 */
import { BrokerError } from '../../lib/errors.ts'
import { checksum, RECORD_HEADER_BYTES, RT_BATCH, RT_CARRY } from './format.ts'

export interface ScanResult {
  /** Offset just after the last valid record that was applied or fenced. */
  end: number
  torn: { offset: number; bytes: number } | null
  corrupt: { offset: number; reason: string }[]
  fenced: number
  applied: number
}

export interface ScanInput {
  file: string
  /** The segment's bytes from `base` to EOF. */
  data: Buffer
  /** File offset of data[0]. */
  base: number
  epoch: number
  /** Records ending beyond this file offset are fenced. */
  limit: number
  recordBytesMax: number
  /** A valid, unfenced record: payload is data[payloadStart, payloadEnd), `offset` its file offset. */
  onRecord(type: number, payloadStart: number, payloadEnd: number, offset: number): void
}

export function plausibleAt(d: Buffer, p: number, epoch: number, recordBytesMax: number): number {
  // Returns the record length if the header at p is plausible and the whole record is present and CRC-valid, else -1.
  if (p + RECORD_HEADER_BYTES > d.length) return -1
  const type = d[p + 8]
  if ((type !== RT_BATCH && type !== RT_CARRY) || d[p + 9] !== 0 || d[p + 10] !== 0 || d[p + 11] !== 0) return -1
  if (d.readUInt32LE(p + 4) !== epoch) return -1
  const len = d.readUInt32LE(p)
  if (len > recordBytesMax || p + RECORD_HEADER_BYTES + len > d.length) return -2
  const crc = checksum(d, p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + len, checksum(d, p, p + 12))
  return crc === d.readUInt32LE(p + 12) ? RECORD_HEADER_BYTES + len : -3
}

export function scanSegment(input: ScanInput): ScanResult {
  const { data: d, base, epoch, limit, recordBytesMax, file } = input
  const res: ScanResult = { end: base, torn: null, corrupt: [], fenced: 0, applied: 0 }
  let p = 0
  // Bounded: each iteration advances p by at least one byte.
  while (p < d.length) {
    const n = plausibleAt(d, p, epoch, recordBytesMax)
    if (n > 0) {
      const off = base + p
      if (off + n <= limit) {
        input.onRecord(d[p + 8], p + RECORD_HEADER_BYTES, p + n, off)
        res.applied++
      } else {
        res.fenced++
      }
      p += n
      res.end = base + p
      continue
    }
    // Damaged or incomplete: look for the next valid record.
    let q = p + 1
    let next = -1
    for (; q + RECORD_HEADER_BYTES <= d.length; q++) {
      if (plausibleAt(d, q, epoch, recordBytesMax) > 0) {
        next = q
        break
      }
    }
    const off = base + p
    if (next >= 0) {
      if (off < limit)
        res.corrupt.push({
          offset: off,
          reason: `record unreadable (${describe(n)}); ${next - p} bytes skipped up to the next valid record at ${base + next}`,
        })
      p = next
      continue
    }
    // Nothing valid after p: the tail.
    if (off >= limit) break // bytes a deposed writer appended after the seal: not ours to judge or cut
    const headerComplete = p + RECORD_HEADER_BYTES <= d.length
    const declaredEnd = headerComplete ? p + RECORD_HEADER_BYTES + d.readUInt32LE(p) : Infinity
    // A record whose declared length ends exactly at EOF was written whole: a bad CRC there is corruption.
    if (declaredEnd !== d.length) {
      res.torn = { offset: off, bytes: d.length - p }
    } else {
      res.corrupt.push({
        offset: off,
        reason: `last record unreadable (${describe(n)}); ${d.length - p} bytes to the end of the segment not replayed`,
      })
    }
    break
  }
  return res
}

function describe(n: number): string {
  return n === -1 ? 'implausible header' : n === -2 ? 'length runs past the end of the segment' : 'CRC mismatch'
}

/** For callers that must not continue past a damaged record (e.g. the checkpoint loader). */
export function corruptError(file: string, offset: number, reason: string): BrokerError {
  return new BrokerError('STORAGE_CORRUPT_RECORD', `journal ${file} offset ${offset}: ${reason}`, {
    details: { file, offset },
  })
}
