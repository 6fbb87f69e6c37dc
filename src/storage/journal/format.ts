/**
 * The journal's on-disk format, version 1 (pure functions, no I/O).
 *
 * Segment `db-<id>.log`:
 *   header, 64 bytes: magic "SFBJRNL\0" | u32 format version | u32 header bytes (64) | u32 writer epoch |
 *                     u32 segment id | f64 created (epoch ms) | 24 reserved zero bytes | u32 CRC32 of bytes 0..60
 *   then records, back to back.
 * Record: u32 payload bytes | u32 epoch | u8 type | 3 reserved zero bytes | u32 CRC32(header bytes 0..12 + payload)
 *         | payload. The CRC covers the length, so a flipped length byte is detected, not followed.
 * Record types: BATCH (one `write()` call: its ops, applied whole or not at all) and CARRY (subscriptions and dedupe
 * ids the amq adapter copies forward before deleting the segments that held them).
 * BATCH payload: u32 op count, then ops. An `add` op is self-contained and carries its own CRC so `load()` can read
 * just that op (index location = segment id, op offset, op length) and still verify it.
 * All integers little-endian; strings are u32 byte length + UTF-8.
 */
import { crc32 } from 'node:zlib'
import { BrokerError } from '../../lib/errors.ts'
import type { DurableSubscriptionRecord, StoreOp, StoredMessage } from '../types.ts'

export const SEGMENT_MAGIC = Buffer.from('SFBJRNL\0', 'latin1')
export const JOURNAL_FORMAT_VERSION = 1
export const SEGMENT_HEADER_BYTES = 64
export const RECORD_HEADER_BYTES = 16
/** Largest record payload accepted (a batch holding a few maximum-size frames). Named limit; tests lower it. */
export const RECORD_BYTES_MAX_DEFAULT = 512 * 1024 * 1024

export const RT_BATCH = 1
export const RT_CARRY = 2

export const OP_ADD = 1
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

export function checksum(data: Uint8Array, start = 0, end = data.length, init = 0): number {
  return crc32(data.subarray(start, end), init) >>> 0
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
  if (version > JOURNAL_FORMAT_VERSION) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `journal ${file}: format version ${version} is newer than this broker supports (${JOURNAL_FORMAT_VERSION})`,
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

class Writer {
  pos = 0
  constructor(readonly b: Buffer) {}
  u8(v: number) {
    this.b[this.pos++] = v
  }
  u32(v: number) {
    this.b.writeUInt32LE(v, this.pos)
    this.pos += 4
  }
  f64(v: number) {
    this.b.writeDoubleLE(v, this.pos)
    this.pos += 8
  }
  str(s: string) {
    const n = this.b.write(s, this.pos + 4, 'utf8')
    this.b.writeUInt32LE(n, this.pos)
    this.pos += 4 + n
  }
  bytes(d: Uint8Array) {
    this.b.writeUInt32LE(d.length, this.pos)
    this.b.set(d, this.pos + 4)
    this.pos += 4 + d.length
  }
}

export class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number,
    readonly end: number,
    readonly where: string,
  ) {}
  private need(n: number) {
    if (this.pos + n > this.end) {
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `${this.where}: field of ${n} bytes at ${this.pos} runs past the record end ${this.end}`,
      )
    }
  }
  u8() {
    this.need(1)
    return this.b[this.pos++]
  }
  u32() {
    this.need(4)
    const v = this.b.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }
  f64() {
    this.need(8)
    const v = this.b.readDoubleLE(this.pos)
    this.pos += 8
    return v
  }
  str() {
    const n = this.u32()
    this.need(n)
    const s = this.b.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }
  bytes(): Buffer {
    const n = this.u32()
    this.need(n)
    const d = this.b.subarray(this.pos, this.pos + n)
    this.pos += n
    return d
  }
}

/** Fixed part of an add op before its strings: u8 op, u32 op length, u32 CRC, f64 seq. */
const ADD_FIXED = 1 + 4 + 4 + 8

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
  const headerJson: (string | null)[] = []
  const subJson: (string | null)[] = []
  let size = 4
  for (const o of ops) {
    switch (o.op) {
      case 'add': {
        const h = JSON.stringify(o.message.headers)
        headerJson.push(h)
        subJson.push(null)
        size +=
          ADD_FIXED + 4 + utf8(o.destination) + 4 + utf8(o.message.messageId) + 4 + utf8(h) + 4 + o.message.body.length
        break
      }
      case 'remove':
        size += 1 + 8 + 4 + utf8(o.destination)
        headerJson.push(null), subJson.push(null)
        break
      case 'putSubscription': {
        const j = JSON.stringify(o.subscription)
        subJson.push(j)
        headerJson.push(null)
        size += 1 + 4 + utf8(j)
        break
      }
      case 'removeSubscription':
        size += 1 + 4 + utf8(o.clientId) + 4 + utf8(o.subscriptionName)
        headerJson.push(null), subJson.push(null)
        break
      case 'purge':
        size += 1 + 4 + utf8(o.destination)
        headerJson.push(null), subJson.push(null)
        break
    }
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
        const start = w.pos
        w.u8(OP_ADD)
        w.u32(0) // length, patched below
        w.u32(0) // crc, patched below
        w.f64(seqs[addIndex++])
        w.str(o.destination)
        w.str(o.message.messageId)
        w.str(headerJson[i]!)
        const body = o.message.body
        if (opts.deferBodies && body.length > 0) {
          w.u32(body.length)
          deferred.push({ at: w.pos, body, opStart: start, opEnd: w.pos + body.length })
          w.pos += body.length
        } else w.bytes(body)
        const length = w.pos - start
        w.b.writeUInt32LE(length, start + 1)
        if (!(opts.deferBodies && body.length > 0)) w.b.writeUInt32LE(checksum(w.b, start + 9, w.pos), start + 5)
        adds.push({ offset: start, length, bodyBytes: o.message.body.length })
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
      messageId: string
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
    if (op === OP_ADD) {
      const length = r.u32()
      r.u32() // op crc: the record CRC already covers it
      const seq = r.f64()
      const destination = r.str()
      const messageId = r.str()
      const hl = r.u32()
      r.pos += hl
      const bodyBytes = r.u32()
      r.pos = start + length
      if (r.pos > payloadEnd || start + ADD_FIXED + 16 + bodyBytes + hl > r.pos) {
        throw new BrokerError(
          'STORAGE_CORRUPT_RECORD',
          `${where}: add op at ${start} has inconsistent length ${length}`,
        )
      }
      out.push({ op: 'add', destination, seq, messageId, offset: start - payloadStart, length, bodyBytes })
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

/**
 * Check one add op's own CRC without decoding it: null when intact, else the reason. The background verification
 * of checkpointed messages uses it (decoding headers of every stored message would cost far more CPU).
 */
export function verifyAddOp(b: Buffer): string | null {
  if (b.length < 9 || b[0] !== OP_ADD) return 'not an add op'
  const length = b.readUInt32LE(1)
  if (length !== b.length || checksum(b, 9, length) !== b.readUInt32LE(5))
    return `message CRC or length mismatch (length ${length}, expected ${b.length})`
  return null
}

/** Decode one add op read back by `load()`, verifying its own CRC. */
export function decodeAddOp(b: Buffer, where: string, opts: { crc?: number; bodyView?: boolean } = {}): StoredMessage {
  const r = new Reader(b, 0, b.length, where)
  if (r.u8() !== OP_ADD) throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: not an add op`)
  const length = r.u32()
  const crc = r.u32()
  if (length !== b.length || (opts.crc ?? checksum(b, ADD_OP_CRC_FROM, length)) !== crc) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: message CRC or length mismatch (length ${length}, expected ${b.length})`,
    )
  }
  const seq = r.f64()
  r.str() // destination
  const messageId = r.str()
  const headers = parseJson(r.str(), where) as Record<string, string>
  // bodyView: the caller read `b` for this message alone, so the body may stay a view of it (a 90 MiB copy into
  // fresh pages held the event loop for up to a second).
  const body = opts.bodyView ? r.bytes() : new Uint8Array(r.bytes())
  return { seq, messageId, headers, body }
}

/** An add op's CRC covers its bytes from here to its end (see decodeAddOp's `crc`, for checksums done in slices). */
export const ADD_OP_CRC_FROM = 9

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
