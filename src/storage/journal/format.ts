/**
 * The journal's on-disk format, version 2 (pure functions, no I/O). Reads version 1 (sfbroker 0.1.0) too.
 *
 * Segment `db-<id>.log`:
 *   header, 64 bytes: magic "SFBJRNL\0" | u32 format version | u32 header bytes (64) | u32 writer epoch |
 *                     u32 segment id | f64 created (epoch ms) | 24 reserved zero bytes | u32 CRC32 of bytes 0..60
 *   then records, back to back.
 * Record: u32 payload bytes | u32 epoch | u8 type | 3 reserved zero bytes | u32 CRC32(header bytes 0..12 + payload)
 *         | payload. The CRC covers the length, so a flipped length byte is detected, not followed.
 * Record types: BATCH (one `write()` call: its ops, applied whole or not at all) and CARRY (subscriptions and dedupe
 * keys the amq adapter copies forward before deleting the segments that held them).
 * BATCH payload: u32 op count, then ops; the add op (add-op.ts) carries the model's message record and its own CRC.
 * All integers little-endian; strings are u32 byte length + UTF-8.
 *
 * Versions: format 2 differs from 1 only in the add op (op code 6, CoreMessage record; 0.1.0 wrote op 1 with a JSON
 * header map). Segments keep the version they were written with: a store upgraded from 0.1.0 holds v1 segments until
 * GC deletes them and v2 segments after, and both are read (v1 add ops through OpenOptions.legacyMessage). A 0.1.0
 * broker refuses a store this version wrote with STORAGE_FORMAT: the marker says version 2 (marker.ts rewrites it on
 * the first open), and 0.1.0's segment header check refuses version 2 as newer.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { DurableSubscriptionRecord, StoreOp } from '../types.ts'
import { finishAdd, OP_ADD, OP_ADD_V1, type PreparedAdd, prepareAdd, readAddForReplay, writeAddHead } from './add-op.ts'
import { checksum, Reader, Writer } from './byte-io.ts'

export { checksum, Reader }
export { ADD_OP_CRC_FROM, decodeAddOp, OP_ADD, OP_ADD_V1, verifyAddOp } from './add-op.ts'

export const SEGMENT_MAGIC = Buffer.from('SFBJRNL\0', 'latin1')
export const JOURNAL_FORMAT_VERSION = 2
/** The oldest segment version read: 1, written by sfbroker 0.1.0 (its add ops need OpenOptions.legacyMessage). */
export const JOURNAL_FORMAT_VERSION_MIN = 1
export const SEGMENT_HEADER_BYTES = 64
export const RECORD_HEADER_BYTES = 16
/** Largest record payload accepted (a batch holding a few maximum-size frames). Named limit; tests lower it. */
export const RECORD_BYTES_MAX_DEFAULT = 512 * 1024 * 1024

export const RT_BATCH = 1
export const RT_CARRY = 2

export const OP_REMOVE = 2
export const OP_PUT_SUB = 3
export const OP_REMOVE_SUB = 4
export const OP_PURGE = 5

export function segmentName(id: number): string {
  return `db-${id}.log`
}
export function parseSegmentName(name: string): number | null {
  const m = /^db-(\d+)\.log$/.exec(name)
  return m ? Number(m[1]) : null
}

export interface SegmentHeader {
  version: number
  epoch: number
  id: number
  createdAt: number
}

export function encodeSegmentHeader(h: SegmentHeader): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES)
  SEGMENT_MAGIC.copy(b, 0)
  b.writeUInt32LE(h.version, 8)
  b.writeUInt32LE(SEGMENT_HEADER_BYTES, 12)
  b.writeUInt32LE(h.epoch, 16)
  b.writeUInt32LE(h.id, 20)
  b.writeDoubleLE(h.createdAt, 24)
  b.writeUInt32LE(checksum(b, 0, 60), 60)
  return b
}

/**
 * Decode a segment header. A foreign magic or a newer version is STORAGE_FORMAT (refuse, never "repair");
 * a bad header CRC is STORAGE_CORRUPT_RECORD (the caller reports it).
 */
export function decodeSegmentHeader(b: Uint8Array, file: string): SegmentHeader {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  if (buf.length < SEGMENT_HEADER_BYTES) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `journal ${file}: header is ${buf.length} bytes, expected ${SEGMENT_HEADER_BYTES}`,
      { details: { file, offset: 0 } },
    )
  }
  if (!buf.subarray(0, 8).equals(SEGMENT_MAGIC)) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `journal ${file}: magic ${JSON.stringify(buf.subarray(0, 8).toString('latin1'))} is not an sfbroker journal segment (expected "SFBJRNL\\0")`,
      { details: { file } },
    )
  }
  const version = buf.readUInt32LE(8)
  if (version > JOURNAL_FORMAT_VERSION || version < JOURNAL_FORMAT_VERSION_MIN) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `journal ${file}: format version ${version} is not one this broker reads (${JOURNAL_FORMAT_VERSION_MIN}..${JOURNAL_FORMAT_VERSION})`,
      { details: { file, version } },
    )
  }
  if (checksum(buf, 0, 60) !== buf.readUInt32LE(60)) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `journal ${file}: segment header CRC mismatch at offset 0`, {
      details: { file, offset: 0 },
    })
  }
  return { version, epoch: buf.readUInt32LE(16), id: buf.readUInt32LE(20), createdAt: buf.readDoubleLE(24) }
}

/** Frame a payload as one record. */
export function frameRecord(type: number, epoch: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length)
  b.set(payload, RECORD_HEADER_BYTES)
  return frameRecordInPlace(type, epoch, b)
}

/** Write the record header (and its CRC over header + payload) into `b`, whose payload follows the header room. */
export function frameRecordInPlace(type: number, epoch: number, b: Buffer): Buffer {
  b.writeUInt32LE(checksum(b, RECORD_HEADER_BYTES, b.length, frameRecordHeader(type, epoch, b)), 12)
  return b
}

/**
 * frameRecordInPlace in two steps, for a large record whose CRC is computed in slices: write the header fields
 * and return the CRC so far; the caller continues it over bytes RECORD_HEADER_BYTES.. and stores it at RECORD_CRC_AT.
 */
export function frameRecordHeader(type: number, epoch: number, b: Buffer): number {
  b.writeUInt32LE(b.length - RECORD_HEADER_BYTES, 0)
  b.writeUInt32LE(epoch, 4)
  b[8] = type
  b[9] = 0
  b[10] = 0
  b[11] = 0
  return checksum(b, 0, 12)
}

/** Where a record's CRC is stored (see frameRecordHeader). */
export const RECORD_CRC_AT = 12

// ---- op encoding ----------------------------------------------------------------------------------------------

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')

export interface EncodedBatch {
  /** The ops; with `headerRoom`, a view into `buffer` after that many bytes. */
  payload: Buffer
  /** The whole allocation: `headerRoom` bytes, then the payload (frameRecordInPlace fills the header). */
  buffer: Buffer
  /** For each add op (in order): offset of the op inside the payload, its byte length and body bytes. */
  adds: { offset: number; length: number; bodyBytes: number }[]
  /**
   * With `deferBodies`: bodies not copied yet, and their ops' CRCs not written. The caller copies each body to
   * `at` (payload offset) and then calls finishDeferred(); until then the payload is incomplete.
   */
  deferred: { at: number; body: Uint8Array; opStart: number; opEnd: number }[]
}

/** Write the CRCs of add ops whose bodies were copied by the caller (see EncodedBatch.deferred). */
export function finishDeferred(enc: EncodedBatch): void {
  for (const d of enc.deferred) {
    const span = deferredCrcSpan(d)
    enc.payload.writeUInt32LE(checksum(enc.payload, span.start, span.end), span.at)
  }
}

/** What a deferred add op's CRC covers (payload offsets start..end) and where it is stored (`at`). */
export function deferredCrcSpan(d: EncodedBatch['deferred'][number]): { at: number; start: number; end: number } {
  return { at: d.opStart + 5, start: d.opStart + 9, end: d.opEnd }
}

/**
 * Encode a batch; `seqs[i]` is the seq of the i-th add op. Inputs are validated by the caller. `headerRoom`
 * bytes are left free before the payload (the record header: no second copy to frame it); `deferBodies` leaves
 * body bytes to the caller, so a large body can be copied in slices across event-loop turns.
 */
export function encodeBatch(
  ops: StoreOp[],
  seqs: number[],
  opts: { headerRoom?: number; deferBodies?: boolean } = {},
): EncodedBatch {
  const room = opts.headerRoom ?? 0
  const prepared: (PreparedAdd | null)[] = []
  const subJson: (string | null)[] = []
  let size = 4
  for (const o of ops) {
    let add: PreparedAdd | null = null
    let sub: string | null = null
    switch (o.op) {
      case 'add':
        add = prepareAdd(o.destination, o.message)
        size += add.size
        break
      case 'remove':
        size += 1 + 8 + 4 + utf8(o.destination)
        break
      case 'putSubscription':
        sub = JSON.stringify(o.subscription)
        size += 1 + 4 + utf8(sub)
        break
      case 'removeSubscription':
        size += 1 + 4 + utf8(o.clientId) + 4 + utf8(o.subscriptionName)
        break
      case 'purge':
        size += 1 + 4 + utf8(o.destination)
        break
    }
    prepared.push(add)
    subJson.push(sub)
  }
  const buffer = Buffer.allocUnsafe(room + size)
  const w = new Writer(room === 0 ? buffer : buffer.subarray(room))
  const adds: EncodedBatch['adds'] = []
  const deferred: EncodedBatch['deferred'] = []
  w.u32(ops.length)
  let addIndex = 0
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i]
    switch (o.op) {
      case 'add': {
        const p = prepared[i]!
        const start = writeAddHead(w, p, seqs[addIndex++])
        const defer = opts.deferBodies === true && p.body.length > 0
        if (defer) deferred.push({ at: w.pos, body: p.body, opStart: start, opEnd: w.pos + p.body.length })
        else w.b.set(p.body, w.pos)
        w.pos += p.body.length
        finishAdd(w.b, start, w.pos, !defer)
        adds.push({ offset: start, length: w.pos - start, bodyBytes: p.body.length })
        break
      }
      case 'remove':
        w.u8(OP_REMOVE)
        w.f64(o.seq)
        w.str(o.destination)
        break
      case 'putSubscription':
        w.u8(OP_PUT_SUB)
        w.str(subJson[i]!)
        break
      case 'removeSubscription':
        w.u8(OP_REMOVE_SUB)
        w.str(o.clientId)
        w.str(o.subscriptionName)
        break
      case 'purge':
        w.u8(OP_PURGE)
        w.str(o.destination)
        break
    }
  }
  if (w.pos !== size) throw new Error(`assertion failed: batch encoded ${w.pos} bytes, sized ${size}`)
  return { payload: w.b, buffer, adds, deferred }
}

/** What replay needs of an op (add ops: no headers or body decoded, only their location). */
export type ReplayOp =
  | {
      op: 'add'
      destination: string
      seq: number
      /** The dedupe key to record, null for none (format 1 records: the messageId, as 0.1.0 recorded). */
      dedupe: string | null
      offset: number
      length: number
      bodyBytes: number
    }
  | { op: 'remove'; destination: string; seq: number }
  | { op: 'putSubscription'; subscription: DurableSubscriptionRecord }
  | { op: 'removeSubscription'; clientId: string; subscriptionName: string }
  | { op: 'purge'; destination: string }

/**
 * Decode a BATCH payload for replay. `payloadStart` is the payload's offset inside `b`; op offsets returned are
 * relative to the payload start. Throws STORAGE_CORRUPT_RECORD on a malformed payload (the record CRC was fine,
 * so this means a writer bug or a format mismatch; the caller reports it).
 */
export function decodeBatchForReplay(b: Buffer, payloadStart: number, payloadEnd: number, where: string): ReplayOp[] {
  const r = new Reader(b, payloadStart, payloadEnd, where)
  const n = r.u32()
  const out: ReplayOp[] = []
  for (let i = 0; i < n; i++) {
    const start = r.pos
    const op = r.u8()
    if (op === OP_ADD || op === OP_ADD_V1) {
      const add = readAddForReplay(r, op, start, payloadEnd, where)
      out.push({ op: 'add', ...add, offset: start - payloadStart })
    } else if (op === OP_REMOVE) {
      const seq = r.f64()
      out.push({ op: 'remove', seq, destination: r.str() })
    } else if (op === OP_PUT_SUB) {
      out.push({ op: 'putSubscription', subscription: parseJson(r.str(), where) as DurableSubscriptionRecord })
    } else if (op === OP_REMOVE_SUB) {
      const clientId = r.str()
      out.push({ op: 'removeSubscription', clientId, subscriptionName: r.str() })
    } else if (op === OP_PURGE) {
      out.push({ op: 'purge', destination: r.str() })
    } else {
      throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: unknown op type ${op} at ${start}`)
    }
  }
  return out
}

export interface CarryPayload {
  /** The store's next seq when the carry was written. */
  nextSeq: number
  subscriptions: DurableSubscriptionRecord[]
  dedupe: string[]
}

export function encodeCarry(c: CarryPayload): Buffer {
  return Buffer.from(JSON.stringify(c), 'utf8')
}
export function decodeCarry(b: Buffer, start: number, end: number, where: string): CarryPayload {
  const c = parseJson(b.toString('utf8', start, end), where) as CarryPayload
  if (!c || typeof c.nextSeq !== 'number' || !Array.isArray(c.subscriptions) || !Array.isArray(c.dedupe)) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: carry record lacks subscriptions/dedupe arrays`)
  }
  return c
}

function parseJson(s: string, where: string): unknown {
  try {
    return JSON.parse(s)
  } catch (e) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: unparsable JSON field: ${(e as Error).message}`, {
      cause: e,
    })
  }
}
