/**
 * Work on large buffers in slices, one slice per event-loop turn, so a 90 MiB message never holds the loop: the
 * shared turn chain and the slice limits of the write path (copy, CRC) and the read path (CRC of a large body).
 */
import { checksum } from './format.ts'

/**
 * Bodies are copied into a record at most this many bytes per event-loop turn: a fresh buffer costs its page
 * faults on first touch (~3 ms per MiB measured on a loaded 2-core VM), so a 90 MiB body copied at once held the
 * loop ~300 ms. Records over this are also written alone (joining them into a group would copy them again).
 */
export const COPY_SLICE_BYTES = 2 * 1024 * 1024
/** Bytes checksummed per turn (zlib crc32 of already resident bytes: ~0.5 ms/MiB). */
export const CRC_SLICE_BYTES = 8 * 1024 * 1024

/**
 * The next event-loop turn of its own: callers queue, one per turn, so several large records being filled (three
 * 90 MiB SENDs at once) still copy one slice per turn between them, not one slice each.
 */
let turnChain: Promise<void> = Promise.resolve()
export function turn(): Promise<void> {
  const t = turnChain.then(() => new Promise<void>((r) => setImmediate(r)))
  turnChain = t
  return t
}

/** CRC of b[start, end), CRC_SLICE_BYTES per event-loop turn. */
export async function checksumInSlices(b: Buffer, start: number, end: number): Promise<number> {
  let crc = 0
  for (let off = start; off < end; off += CRC_SLICE_BYTES) {
    if (off > start) await turn()
    crc = checksum(b, off, Math.min(end, off + CRC_SLICE_BYTES), crc)
  }
  return crc
}
