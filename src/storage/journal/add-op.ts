/**
 * The journal's add op, the one op that carries a message, in both formats it reads:
 *
 *   format 2 (written): u8 6 | u32 op length | u32 CRC of the op from byte 9 | f64 seq | str destination
 *                       | str dedupe key ('' = none) | u32 n + the model's message record (encodeMessage) of the
 *                       message without its body | u32 body length + body
 *   format 1 (0.1.0, read only): u8 1 | u32 op length | u32 CRC | f64 seq | str destination | str messageId
 *                       | str JSON header map | u32 body length + body; read through OpenOptions.legacyMessage.
 *
 * The body stays outside the codec's record so a large body is copied once, in slices, straight into the journal
 * record (group-commit.ts) and load() can keep it as a view of its read buffer; the codec's scratch buffer would
 * otherwise grow to the largest body and copy it twice. The dedupe key is stored in plain so replay feeds the dedupe
 * window without decoding messages (for format 1 records it is the messageId, as 0.1.0 recorded). Each op has its
 * own CRC so load() can verify it alone. A record whose CRC holds but whose message does not decode is
 * STORAGE_CORRUPT_RECORD with the codec's field and offset in the reason.
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { type CoreMessage, decodeMessage, dedupeKey, encodeMessage } from '../../model/index.ts'
import type { LegacyMessageReader, StoredMessage } from '../types.ts'
import { checksum, Reader, type Writer } from './byte-io.ts'

/** 0.1.0's add op (format 1): read only. */
export const OP_ADD_V1 = 1
export const OP_ADD = 6
/** Fixed part of an add op before its strings: u8 op, u32 op length, u32 CRC, f64 seq. */
export const ADD_FIXED = 1 + 4 + 4 + 8
/** An add op's CRC covers its bytes from here to its end (see decodeAddOp's `crc`, for checksums done in slices). */
export const ADD_OP_CRC_FROM = 9

const NO_BODY = new Uint8Array(0)
const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')

/** An add op measured before the batch buffer is allocated. */
export interface PreparedAdd {
  destination: string
  dedupe: string
  record: Uint8Array
  body: Uint8Array
  /** Bytes of the whole op, body included. */
  size: number
}

export function prepareAdd(destination: string, message: CoreMessage): PreparedAdd {
  const record = encodeMessage(message, NO_BODY)
  const dedupe = dedupeKey(message) ?? ''
  const body = message.body
  const size = ADD_FIXED + 4 + utf8(destination) + 4 + utf8(dedupe) + 4 + record.length + 4 + body.length
  return { destination, dedupe, record, body, size }
}

/**
 * Write an add op at `w.pos` up to and including its body length; the caller then writes the body (now or later,
 * in slices) and the op's length and CRC (see finishAdd). Returns the op's start offset.
 */
export function writeAddHead(w: Writer, p: PreparedAdd, seq: number): number {
  const start = w.pos
  w.u8(OP_ADD)
  w.u32(0) // length, patched by finishAdd
  w.u32(0) // crc, patched by finishAdd (or by the caller's sliced CRC)
  w.f64(seq)
  w.str(p.destination)
  w.str(p.dedupe)
  w.bytes(p.record)
  w.u32(p.body.length)
  return start
}

/** Patch the length of the op at [start, end) and, unless its body is still to be copied, its CRC. */
export function finishAdd(b: Buffer, start: number, end: number, withCrc: boolean): void {
  b.writeUInt32LE(end - start, start + 1)
  if (withCrc) b.writeUInt32LE(checksum(b, start + ADD_OP_CRC_FROM, end), start + 5)
}

/** What replay keeps of an add op: no message decoded. `r` is positioned after the op byte. */
export function readAddForReplay(
  r: Reader,
  op: number,
  start: number,
  payloadEnd: number,
  where: string,
): { destination: string; seq: number; dedupe: string | null; length: number; bodyBytes: number } {
  const length = r.u32()
  r.u32() // op crc: the record CRC already covers it
  const seq = r.f64()
  const destination = r.str()
  const key = r.str() // format 2: dedupe key; format 1: the messageId, 0.1.0's dedupe key
  const recordBytes = r.u32()
  r.pos += recordBytes
  const bodyBytes = r.u32()
  const end = start + length
  // Format 2 ops are exact; 0.1.0 also never wrote slack, but its reader allowed it, and so do we for its records.
  const bad = op === OP_ADD ? r.pos + bodyBytes !== end : r.pos + bodyBytes > end
  if (end > payloadEnd || bad) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: add op at ${start} has inconsistent length ${length}`)
  }
  r.pos = end
  return { destination, seq, dedupe: op === OP_ADD && key === '' ? null : key, length, bodyBytes }
}

/**
 * Check one add op's own CRC without decoding it: null when intact, else the reason. The background verification
 * of checkpointed messages uses it (decoding every stored message would cost far more CPU).
 */
export function verifyAddOp(b: Buffer): string | null {
  if (b.length < 9 || (b[0] !== OP_ADD && b[0] !== OP_ADD_V1)) return 'not an add op'
  const length = b.readUInt32LE(1)
  if (length !== b.length || checksum(b, ADD_OP_CRC_FROM, length) !== b.readUInt32LE(5))
    return `message CRC or length mismatch (length ${length}, expected ${b.length})`
  return null
}

export interface DecodeAddOptions {
  /** The CRC of bytes ADD_OP_CRC_FROM.., when the caller computed it in slices. */
  crc?: number
  /** Keep the body as a view of `b` (the caller read `b` for this message alone). */
  bodyView?: boolean
  /** Reader of 0.1.0 records; without it a format 1 op is STORAGE_FORMAT. */
  legacy?: LegacyMessageReader
}

/** Decode one add op read back by `load()`, verifying its own CRC. */
export function decodeAddOp(b: Buffer, where: string, opts: DecodeAddOptions = {}): StoredMessage {
  const r = new Reader(b, 0, b.length, where)
  const op = r.u8()
  if (op !== OP_ADD && op !== OP_ADD_V1) throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: not an add op`)
  const length = r.u32()
  const crc = r.u32()
  if (length !== b.length || (opts.crc ?? checksum(b, ADD_OP_CRC_FROM, length)) !== crc) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: message CRC or length mismatch (length ${length}, expected ${b.length})`,
    )
  }
  const seq = r.f64()
  r.skipStr() // destination
  if (op === OP_ADD_V1) return { seq, message: decodeLegacy(r, where, opts) }
  r.skipStr() // dedupe key
  const record = r.bytes()
  let message: CoreMessage
  try {
    message = decodeMessage(record)
  } catch (e) {
    if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: ${e.message}`, { cause: e, details: e.details })
  }
  const bodyAt = r.pos + 4
  const body = opts.bodyView ? r.bytes() : new Uint8Array(r.bytes())
  if (message.body.length > 0)
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: message record holds a body; format 2 keeps it apart`)
  if (message.bodyKind === 'none' && body.length > 0)
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: body of ${body.length} bytes at ${bodyAt} with bodyKind none, expected none`,
    )
  if (r.pos !== b.length)
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: ${b.length - r.pos} bytes after the body at ${r.pos}`)
  message.body = body
  return { seq, message }
}

/** A 0.1.0 add op's message, through the store owner's legacy reader. */
function decodeLegacy(r: Reader, where: string, opts: DecodeAddOptions): CoreMessage {
  const messageId = r.str()
  const json = r.str()
  const body = opts.bodyView ? r.bytes() : new Uint8Array(r.bytes())
  if (!opts.legacy) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `${where}: message ${JSON.stringify(messageId)} is a format 1 record (sfbroker 0.1.0) and this store was opened without a legacy message reader; expected format 2`,
    )
  }
  let headers: Record<string, string>
  try {
    headers = JSON.parse(json) as Record<string, string>
    if (!headers || typeof headers !== 'object' || Array.isArray(headers)) throw new Error('not an object')
  } catch (e) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: format 1 header map is not a JSON object: ${(e as Error).message}`,
      {
        cause: e,
      },
    )
  }
  try {
    return opts.legacy(messageId, headers, body)
  } catch (e) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: format 1 message ${JSON.stringify(messageId)} unreadable: ${(e as Error).message}`,
      { cause: e },
    )
  }
}
