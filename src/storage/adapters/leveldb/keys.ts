/**
 * Key and value layout of the levelDB adapter (format version 2). All keys are binary; LevelDB sorts them
 * bytewise, which gives per-destination seq order for free because seqs are big-endian.
 *
 *   0x00 "meta"                        -> JSON { format: "sfbroker-leveldb", version, epoch, createdAt }
 *   0x00 "seq"                         -> u64 highest seq ever assigned (so seqs keep rising after a full drain)
 *   0x00 "batch"                       -> u32 epoch + u64 group number of the last batch (written in every batch)
 *   "d" + destination (UTF-8)          -> u32 destination id
 *   "m" + u32 id + u64 seq             -> message record
 *   "i" + u32 id + u64 seq             -> u32 record length: the index recovery scans. It lives apart from the
 *                                         records so open() reads a few bytes per message, not every data block.
 *   "s" + JSON [clientId, name]        -> JSON DurableSubscriptionRecord
 *   "u" + u64 seq                      -> dedupe key (the model's dedupeKey; 0.1.0: the message id), oldest first
 *
 * Message record: u8 version (2) | u32 epoch | the model's message record (src/model encodeMessage).
 * Format 1 (sfbroker 0.1.0) differs only in the record: u8 1 | u32 epoch | u32 n | n bytes JSON { id, h } | body.
 * A 0.1.0 database is converted on open (level-upgrade.ts); its meta then says version 2, which 0.1.0 refuses with
 * STORAGE_FORMAT (its check is `version !== 1`).
 * u64 values hold JS safe integers (< 2^53): written as two u32 halves.
 */
import { BrokerError, isBrokerError } from '../../../lib/errors.ts'
import { type CoreMessage, decodeMessage, encodeMessage } from '../../../model/index.ts'
import type { LegacyMessageReader } from '../../types.ts'

export const FORMAT_NAME = 'sfbroker-leveldb'
export const FORMAT_VERSION = 2
/** The meta version of a sfbroker 0.1.0 database: opened by converting its records (level-upgrade.ts). */
export const FORMAT_VERSION_V1 = 1
const RECORD_VERSION = 2
const RECORD_VERSION_V1 = 1

export const META_KEY = Buffer.from('\x00meta', 'latin1')
export const SEQ_KEY = Buffer.from('\x00seq', 'latin1')
export const BATCH_KEY = Buffer.from('\x00batch', 'latin1')
export const P_DEST = 0x64 // 'd'
export const P_MSG = 0x6d // 'm'
export const P_INDEX = 0x69 // 'i'
export const P_SUB = 0x73 // 's'
export const P_DEDUPE = 0x75 // 'u'

export interface Meta {
  format: string
  version: number
  epoch: number
  createdAt: number
}

export function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  writeU64(b, 0, n)
  return b
}

function writeU64(b: Buffer, at: number, n: number): void {
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), at)
  b.writeUInt32BE(n >>> 0, at + 4)
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4)
}

export const readU64At = readU64

/** One-byte prefix alone, and the first key past that prefix: the bounds of a prefix scan. */
export function prefixRange(prefix: number): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([prefix]), lt: Buffer.from([prefix + 1]) }
}

export function destKey(destination: string): Buffer {
  return Buffer.concat([Buffer.from([P_DEST]), Buffer.from(destination, 'utf8')])
}

export function destFromKey(k: Buffer): string {
  return k.subarray(1).toString('utf8')
}

function destSeqKey(prefix: number, destId: number, seq: number): Buffer {
  const b = Buffer.alloc(13)
  b[0] = prefix
  b.writeUInt32BE(destId, 1)
  writeU64(b, 5, seq)
  return b
}

export function msgKey(destId: number, seq: number): Buffer {
  return destSeqKey(P_MSG, destId, seq)
}

export function indexKey(destId: number, seq: number): Buffer {
  return destSeqKey(P_INDEX, destId, seq)
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

/** (destination id, seq) of a message or index key. */
export function parseDestSeqKey(k: Buffer): { destId: number; seq: number } {
  if (k.length !== 13)
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `levelDB: key ${k.toString('hex')} has ${k.length} bytes, expected 13`,
    )
  return { destId: k.readUInt32BE(1), seq: readU64(k, 5) }
}

/** Bounds for message records of `destId` with seq > afterSeq. */
export function msgRangeAfter(destId: number, afterSeq: number): { gt: Buffer; lt: Buffer } {
  const lt = Buffer.alloc(5)
  lt[0] = P_MSG
  lt.writeUInt32BE(destId + 1, 1)
  return { gt: msgKey(destId, afterSeq), lt }
}

export function subKey(clientId: string, subscriptionName: string): Buffer {
  return Buffer.concat([Buffer.from([P_SUB]), Buffer.from(JSON.stringify([clientId, subscriptionName]), 'utf8')])
}

export function dedupeKey(seq: number): Buffer {
  const b = Buffer.alloc(9)
  b[0] = P_DEDUPE
  writeU64(b, 1, seq)
  return b
}

export function batchValue(epoch: number, group: number): Buffer {
  const b = Buffer.alloc(12)
  b.writeUInt32BE(epoch >>> 0, 0)
  writeU64(b, 4, group)
  return b
}

/** The record of a message: u8 2 | u32 epoch | the model's message record (encodeMessage). */
export function encodeRecord(epoch: number, message: CoreMessage): Buffer {
  const rec = encodeMessage(message)
  const b = Buffer.allocUnsafe(5 + rec.length)
  b[0] = RECORD_VERSION
  b.writeUInt32BE(epoch >>> 0, 1)
  b.set(rec, 5)
  return b
}

/**
 * The message of a record: format 2 through the model's codec (a record that does not decode is
 * STORAGE_CORRUPT_RECORD with the codec's field and offset), format 1 (0.1.0: `u8 1 | u32 epoch | u32 n | JSON
 * { id, h } | body`) through `legacy`; without it a format 1 record is one the upgrade could not convert (corrupt).
 */
export function decodeRecord(key: Buffer, v: Buffer, legacy?: LegacyMessageReader): CoreMessage {
  const where = `levelDB: message record ${key.toString('hex')}`
  if (v.length >= 5 && v[0] === RECORD_VERSION) {
    try {
      // Copy: the record buffer may be a slice of a larger native allocation, and the body is a view of it.
      return decodeMessage(new Uint8Array(v.subarray(5)))
    } catch (e) {
      if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
      throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: ${e.message}`, { cause: e, details: e.details })
    }
  }
  if (v.length >= 9 && v[0] === RECORD_VERSION_V1) {
    const r = decodeV1Record(where, v)
    if (!legacy)
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `${where}: format 1 record (message ${JSON.stringify(r.messageId)}) left unconverted by the upgrade to format ${FORMAT_VERSION}`,
      )
    try {
      return legacy(r.messageId, r.headers, r.body)
    } catch (e) {
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `${where}: format 1 message ${JSON.stringify(r.messageId)} unreadable: ${(e as Error).message}`,
        { cause: e },
      )
    }
  }
  throw new BrokerError(
    'STORAGE_CORRUPT_RECORD',
    `${where}: record version ${v[0]} (length ${v.length}), expected version ${RECORD_VERSION} (or ${RECORD_VERSION_V1})`,
  )
}

/** A 0.1.0 record's parts. */
export function decodeV1Record(
  where: string,
  v: Buffer,
): { messageId: string; headers: Record<string, string>; body: Uint8Array; epoch: number } {
  const n = v.readUInt32BE(5)
  if (9 + n > v.length)
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: header length ${n} exceeds record length ${v.length}`)
  let meta: { id: string; h: Record<string, string> }
  try {
    meta = JSON.parse(v.subarray(9, 9 + n).toString('utf8')) as { id: string; h: Record<string, string> }
    if (typeof meta?.id !== 'string' || !meta.h || typeof meta.h !== 'object') throw new Error('no id or header map')
  } catch (e) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: format 1 headers unreadable: ${(e as Error).message}`, {
      cause: e,
    })
  }
  return { messageId: meta.id, headers: meta.h, body: new Uint8Array(v.subarray(9 + n)), epoch: v.readUInt32BE(1) }
}
