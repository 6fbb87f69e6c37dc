/**
 * Test fixture: the journal ENCODER of sfbroker 0.1.0 (format 1), kept byte for byte as 0.1.0 wrote it (taken from
 * src/storage/journal/format.ts and marker.ts before format 2), so tests can plant the stores a 0.1.0 broker left
 * behind and check that today's adapters read them. Encoding only: nothing here is used by production code, and it
 * must never change (it is what is on users' disks).
 *
 * Segment: 64-byte header (magic "SFBJRNL\0", u32 version 1, u32 64, u32 epoch, u32 id, f64 createdAt, 24 zero
 * bytes, u32 CRC of bytes 0..60), then records: u32 payload bytes | u32 epoch | u8 type | 3 zero bytes | u32 CRC of
 * header bytes 0..12 + payload | payload. BATCH payload: u32 op count, ops; add = u8 1 | u32 op length | u32 CRC of
 * the op from byte 9 | f64 seq | str destination | str messageId | str headers JSON | u32 body length + body.
 */
import { crc32 } from 'node:zlib'

export const V1_SEGMENT_MAGIC = Buffer.from('SFBJRNL\0', 'latin1')
export const V1_JOURNAL_FORMAT_VERSION = 1
export const V1_SEGMENT_HEADER_BYTES = 64
export const V1_RECORD_HEADER_BYTES = 16
export const V1_RT_BATCH = 1
export const V1_RT_CARRY = 2

/** A 0.1.0 stored message: the normalised STOMP header map and the body. */
export interface V1Message {
  messageId: string
  headers: Record<string, string>
  body: Uint8Array
}

/** The 0.1.0 subscription record (unchanged since). */
export interface V1Subscription {
  clientId: string
  subscriptionName: string
  destination: string
  selector: string | null
  noLocal: boolean
  storeKey: string
  createdAt: number
}

export type V1Op =
  | { op: 'add'; destination: string; message: V1Message }
  | { op: 'remove'; destination: string; seq: number }
  | { op: 'putSubscription'; subscription: V1Subscription }
  | { op: 'removeSubscription'; clientId: string; subscriptionName: string }
  | { op: 'purge'; destination: string }

const checksum = (d: Uint8Array, start = 0, end = d.length, init = 0): number =>
  crc32(d.subarray(start, end), init) >>> 0
const utf8 = (s: string) => Buffer.byteLength(s, 'utf8')

export function v1MarkerJson(adapter: 'kahaDB' | 'amq'): string {
  return JSON.stringify({ format: 'sfbroker-journal', adapter, version: V1_JOURNAL_FORMAT_VERSION }) + '\n'
}

export function v1SegmentHeader(h: { epoch: number; id: number; createdAt: number }): Buffer {
  const b = Buffer.alloc(V1_SEGMENT_HEADER_BYTES)
  V1_SEGMENT_MAGIC.copy(b, 0)
  b.writeUInt32LE(V1_JOURNAL_FORMAT_VERSION, 8)
  b.writeUInt32LE(V1_SEGMENT_HEADER_BYTES, 12)
  b.writeUInt32LE(h.epoch, 16)
  b.writeUInt32LE(h.id, 20)
  b.writeDoubleLE(h.createdAt, 24)
  b.writeUInt32LE(checksum(b, 0, 60), 60)
  return b
}

export function v1FrameRecord(type: number, epoch: number, payload: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(V1_RECORD_HEADER_BYTES + payload.length)
  b.set(payload, V1_RECORD_HEADER_BYTES)
  b.writeUInt32LE(b.length - V1_RECORD_HEADER_BYTES, 0)
  b.writeUInt32LE(epoch, 4)
  b[8] = type
  b[9] = 0
  b[10] = 0
  b[11] = 0
  b.writeUInt32LE(checksum(b, V1_RECORD_HEADER_BYTES, b.length, checksum(b, 0, 12)), 12)
  return b
}

/** A BATCH payload as 0.1.0 encoded it; `seqs[i]` is the seq of the i-th add op. */
export function v1EncodeBatch(ops: V1Op[], seqs: number[]): Buffer {
  const parts: Buffer[] = []
  const u32 = (v: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(v, 0)
    return b
  }
  const str = (s: string) => Buffer.concat([u32(utf8(s)), Buffer.from(s, 'utf8')])
  parts.push(u32(ops.length))
  let addIndex = 0
  for (const o of ops) {
    switch (o.op) {
      case 'add': {
        const seq = Buffer.alloc(8)
        seq.writeDoubleLE(seqs[addIndex++], 0)
        const rest = Buffer.concat([
          seq,
          str(o.destination),
          str(o.message.messageId),
          str(JSON.stringify(o.message.headers)),
          u32(o.message.body.length),
          Buffer.from(o.message.body),
        ])
        const head = Buffer.alloc(9)
        head[0] = 1
        head.writeUInt32LE(9 + rest.length, 1)
        head.writeUInt32LE(checksum(rest), 5)
        parts.push(head, rest)
        break
      }
      case 'remove': {
        const seq = Buffer.alloc(8)
        seq.writeDoubleLE(o.seq, 0)
        parts.push(Buffer.from([2]), seq, str(o.destination))
        break
      }
      case 'putSubscription':
        parts.push(Buffer.from([3]), str(JSON.stringify(o.subscription)))
        break
      case 'removeSubscription':
        parts.push(Buffer.from([4]), str(o.clientId), str(o.subscriptionName))
        break
      case 'purge':
        parts.push(Buffer.from([5]), str(o.destination))
        break
    }
  }
  return Buffer.concat(parts)
}

/** The amq adapter's CARRY payload (subscriptions and dedupe ids copied forward before GC) as 0.1.0 wrote it. */
export function v1EncodeCarry(c: { nextSeq: number; subscriptions: V1Subscription[]; dedupe: string[] }): Buffer {
  return Buffer.from(JSON.stringify(c), 'utf8')
}
