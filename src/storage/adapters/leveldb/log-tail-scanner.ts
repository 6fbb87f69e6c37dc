/**
 * LogTailScanner: walks the record headers of one LevelDB write-ahead log (`NNNNNN.log`) to find the bytes
 * LevelDB's log reader drops on recovery *without reporting them*, so the adapter can report them instead.
 *
 * Format (LevelDB doc/log_format.md): the file is a sequence of 32 KiB blocks; a block holds physical records
 * `crc32c masked (4) | length u16 LE (2) | type (1) | payload (length)`, type 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST;
 * a logical record is one FULL or FIRST MIDDLE* LAST. A record never crosses a block: when fewer than 7 bytes are
 * left in a block the writer pads them with zeros (the trailer) and starts the next block.
 *
 * What leveldb-1.20's log::Reader (db/log_reader.cc) drops silently, and what we report:
 * - the file ends inside a header, inside a payload (in the last, partial block), or after FIRST/MIDDLE
 *   fragments whose LAST never came: a torn tail (`torn`), offset = start of the incomplete logical record;
 * - a zero header (7 zero bytes: type 0, length 0): the reader skips the rest of that block without a word. At the
 *   end of the file (only zeros and skipped blocks follow) it is a zero-filled torn tail; before a later record it
 *   is mid-log damage (`skipped`, offset and bytes known). LevelDB's writer never writes such a header.
 *
 * Not promised: checking CRCs. A bad CRC, a length overflowing a full block, an unknown type and fragments out of
 * order are reported by LevelDB itself (LOG lines "dropping N bytes", see info-log.ts); the scanner only follows
 * the reader's resynchronisation for them (skip the rest of the block, forget a half-built record) so that its
 * view of the tail stays the reader's. So when the damage lies in the last block, the same bytes can appear both
 * as a LevelDB-reported drop and as a torn tail.
 *
 * Pure: the caller reads the file and feeds it block by block (every block BLOCK_BYTES long except the last).
 */
import { assert } from '../../../lib/errors.ts'

export const BLOCK_BYTES = 32 * 1024
export const HEADER_BYTES = 7
/** Physical record types (0: zero header, never written by LevelDB's writer). */
export const RecordType = { Zero: 0, Full: 1, First: 2, Middle: 3, Last: 4 } as const

export interface LogTailFinding {
  /** File offset where the dropped bytes start (for a torn tail: the start of the incomplete logical record). */
  offset: number
  bytes: number
  reason: string
}

export interface LogTailScan {
  /** Bytes at the end of the file LevelDB treats as end of log without reporting them. */
  torn: LogTailFinding | null
  /** Mid-log ranges LevelDB skips without reporting them (zero headers followed by later records). */
  skipped: LogTailFinding[]
  /** Complete logical records seen (CRCs not checked). */
  records: number
}

export class LogTailScanner {
  private pos = 0
  private ended = false
  /** Offset of the FIRST fragment of a logical record whose LAST has not come yet, or -1. */
  private fragStart = -1
  /** A run of zero headers (and the block rests they skip) not yet followed by a record: start offset, or -1. */
  private zeroStart = -1
  private zeroBytes = 0
  private torn: LogTailFinding | null = null
  private readonly skipped: LogTailFinding[] = []
  private records = 0

  /** Feed the next block: BLOCK_BYTES long, except the file's last block (shorter, possibly empty: not fed). */
  feedBlock(block: Uint8Array): void {
    assert(!this.ended, 'LogTailScanner: a block shorter than BLOCK_BYTES was the last one')
    assert(
      block.length > 0 && block.length <= BLOCK_BYTES,
      `LogTailScanner: block of ${block.length} bytes, expected 1..${BLOCK_BYTES}`,
    )
    const base = this.pos
    const n = block.length
    // The reader sets eof when a read returns less than a block: only then is a short record the end of the log.
    const last = n < BLOCK_BYTES
    if (last) this.ended = true
    let p = 0
    // Bounded: every round advances p by at least HEADER_BYTES or ends the block.
    while (p < n && this.torn === null) {
      if (BLOCK_BYTES - p < HEADER_BYTES) break // trailer: zero padding to the end of the block
      if (n - p < HEADER_BYTES) {
        // Only possible in a short (last) block: the writer died inside a header.
        this.tear(base + p, base + n, 'the file ends inside a record header')
        break
      }
      const length = block[p + 4] | (block[p + 5] << 8)
      const type = block[p + 6]
      if (HEADER_BYTES + length > n - p) {
        if (last) {
          this.tear(
            base + p,
            base + n,
            `the file ends inside a record's payload (${n - p - HEADER_BYTES} of ${length} bytes present)`,
          )
          break
        }
        // "bad record length": LevelDB reports it and drops the rest of the block.
        this.fragStart = -1
        this.noteRecord()
        break
      }
      if (type === RecordType.Zero && length === 0) {
        // Silently skipped by the reader, together with the rest of the block. A half-built record before it is
        // reported by LevelDB ("error in middle of record").
        if (this.zeroStart < 0) this.zeroStart = base + p
        this.zeroBytes += n - p
        this.fragStart = -1
        break
      }
      this.noteRecord()
      switch (type) {
        case RecordType.Full:
          this.fragStart = -1 // a half-built record before it: LevelDB reports "partial record without end(1)"
          this.records++
          break
        case RecordType.First:
          this.fragStart = base + p
          break
        case RecordType.Middle:
          break // without a FIRST: LevelDB reports "missing start of fragmented record(1)"
        case RecordType.Last:
          if (this.fragStart >= 0) this.records++ // else reported by LevelDB (missing start)
          this.fragStart = -1
          break
        default:
          this.fragStart = -1 // "unknown record type", reported by LevelDB
      }
      p += HEADER_BYTES + length
    }
    this.pos = base + n
  }

  /** The result once every block of the file was fed (the file's size is the bytes fed). */
  finish(): LogTailScan {
    const size = this.pos
    if (this.torn === null && this.zeroStart >= 0) {
      this.tear(
        this.zeroStart,
        size,
        'a zero-filled record header; LevelDB skips everything from here to the end of the file',
      )
    }
    if (this.torn === null && this.fragStart >= 0) {
      this.tear(
        this.fragStart,
        size,
        'the file ends after the first fragment(s) of a record whose last fragment never came',
      )
    }
    return { torn: this.torn, skipped: [...this.skipped], records: this.records }
  }

  /** A non-zero header follows: a pending zero run was mid-log damage, not the tail. */
  private noteRecord(): void {
    if (this.zeroStart < 0) return
    this.skipped.push({
      offset: this.zeroStart,
      bytes: this.zeroBytes,
      reason: `a zero-filled record header; LevelDB skipped ${this.zeroBytes} bytes of the log to the end of the block without reporting them`,
    })
    this.zeroStart = -1
    this.zeroBytes = 0
  }

  private tear(at: number, end: number, why: string): void {
    // The incomplete logical record starts at its FIRST fragment if one is pending, or at a zero run before it.
    let offset = this.fragStart >= 0 ? Math.min(this.fragStart, at) : at
    if (this.zeroStart >= 0) offset = Math.min(offset, this.zeroStart)
    this.torn = { offset, bytes: end - offset, reason: why }
    this.fragStart = -1
    this.zeroStart = -1
    this.zeroBytes = 0
  }
}

/** Scan a whole log held in memory (tests, small files). */
export function scanLogTail(data: Uint8Array): LogTailScan {
  const s = new LogTailScanner()
  for (let off = 0; off < data.length; off += BLOCK_BYTES)
    s.feedBlock(data.subarray(off, Math.min(data.length, off + BLOCK_BYTES)))
  return s.finish()
}
