/**
 * What a tail reader (tail-reader.ts) knows of each journal segment it has seen since its last (re)build, and how
 * it reads a segment's header: its epoch, or why there is none ('short': being created, or a crash while creating
 * it; 'gone': deleted; 'bad': unreadable or misnamed, skipped as recovery skips it). A 0.1.0 segment without a
 * legacy message reader is STORAGE_FORMAT, as open() would say. Read-only.
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import type { FileIO } from './file-io.ts'
import { decodeSegmentHeader, JOURNAL_FORMAT_VERSION, SEGMENT_HEADER_BYTES, segmentName } from './format.ts'

/** What the reader knows of one segment it has seen since its last (re)build. */
export interface TailSegment {
  id: number
  epoch: number
  /** Bytes consumed (records applied, or excluded by a seal); 0 for a segment the start checkpoint covers. */
  end: number
  /** Covered by the start checkpoint: not read. */
  covered: boolean
  /** Unusable (short or unreadable header) and skipped, as recovery skips it. */
  skipped: boolean
}

/** The epoch in segment `id`'s header (in `directory`), or why there is none; `legacy`: 0.1.0 segments may be read. */
export async function readSegmentEpoch(
  io: FileIO,
  directory: string,
  id: number,
  legacy: boolean,
): Promise<number | 'short' | 'gone' | 'bad'> {
  const file = `${directory}/${segmentName(id)}`
  let h
  try {
    h = await io.open(file, 'read')
  } catch (e) {
    if ((e as BrokerError).details?.errno === 'ENOENT') return 'gone'
    throw e
  }
  try {
    const buf = Buffer.alloc(SEGMENT_HEADER_BYTES)
    const got = await h.read(buf, buf.length, 0)
    if (got < SEGMENT_HEADER_BYTES) return 'short'
    try {
      const hd = decodeSegmentHeader(buf, file)
      if (hd.version < JOURNAL_FORMAT_VERSION && !legacy) {
        // As open() would: a 0.1.0 segment is read only with a legacy reader; this reader could not hand over.
        throw new BrokerError(
          'STORAGE_FORMAT',
          `standby ${directory}: ${segmentName(id)} holds format ${hd.version} records (sfbroker 0.1.0) and no legacy message reader was given; expected format ${JOURNAL_FORMAT_VERSION} or StandbyOptions.legacyMessage`,
          { details: { directory, file: segmentName(id) } },
        )
      }
      return hd.id === id ? hd.epoch : 'bad'
    } catch (e) {
      if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
      return 'bad'
    }
  } finally {
    await h.close()
  }
}
