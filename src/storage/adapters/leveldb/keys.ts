/**
 * Key and value layout of the levelDB adapter (format version 1). All keys are binary; LevelDB sorts them
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
 *   "u" + u64 seq                      -> producer message id (dedupe record, oldest first)
 *
 * Message record: u8 version (1) | u32 epoch | u32 n | n bytes JSON { id, h } | body.
 * u64 values hold JS safe integers (< 2^53): written as two u32 halves.
 */
import { BrokerError } from '../../../lib/errors.ts'

export const FORMAT_NAME = 'sfbroker-leveldb'
export const FORMAT_VERSION = 1
const RECORD_VERSION = 1

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

export function encodeMessage(
  epoch: number,
  messageId: string,
  headers: Record<string, string>,
  body: Uint8Array,
): Buffer {
  const meta = Buffer.from(JSON.stringify({ id: messageId, h: headers }), 'utf8')
  const head = Buffer.alloc(9)
  head[0] = RECORD_VERSION
  head.writeUInt32BE(epoch >>> 0, 1)
  head.writeUInt32BE(meta.length, 5)
  return Buffer.concat([head, meta, body])
}

export function decodeMessage(
  key: Buffer,
  v: Buffer,
): { messageId: string; headers: Record<string, string>; body: Uint8Array; epoch: number } {
  const where = `levelDB: message record ${key.toString('hex')}`
  if (v.length < 9 || v[0] !== RECORD_VERSION) {
    throw new BrokerError(
      'STORAGE_CORRUPT_RECORD',
      `${where}: record version ${v[0]} (length ${v.length}), expected version ${RECORD_VERSION}`,
    )
  }
  const n = v.readUInt32BE(5)
  if (9 + n > v.length)
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: header length ${n} exceeds record length ${v.length}`)
  let meta: { id: string; h: Record<string, string> }
  try {
    meta = JSON.parse(v.subarray(9, 9 + n).toString('utf8')) as { id: string; h: Record<string, string> }
  } catch (e) {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `${where}: headers are not JSON`, { cause: e })
  }
  // Copy the body out: the record buffer may be a slice of a larger native allocation.
  return { messageId: meta.id, headers: meta.h, body: new Uint8Array(v.subarray(9 + n)), epoch: v.readUInt32BE(1) }
}
