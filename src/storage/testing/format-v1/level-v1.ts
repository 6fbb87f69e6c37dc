/**
 * Test fixture: the levelDB adapter's ENCODER of sfbroker 0.1.0 (format 1), byte for byte as 0.1.0 wrote it (from
 * src/storage/adapters/leveldb/keys.ts and level-index.ts before format 2): keys, the meta record and the message
 * record `u8 1 | u32 epoch | u32 n | JSON { id, h } | body`. Encoding only; never change it.
 */
import type { V1Message, V1Subscription } from './journal-v1.ts'

export const V1_LEVEL_FORMAT_NAME = 'sfbroker-leveldb'
export const V1_LEVEL_FORMAT_VERSION = 1

function u64(n: number): Buffer {
  const b = Buffer.alloc(8)
  b.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 0)
  b.writeUInt32BE(n >>> 0, 4)
  return b
}

export const v1MetaKey = (): Buffer => Buffer.from('\x00meta', 'latin1')
export const v1SeqKey = (): Buffer => Buffer.from('\x00seq', 'latin1')
export const v1BatchKey = (): Buffer => Buffer.from('\x00batch', 'latin1')

export function v1MetaValue(epoch: number, createdAt: number): Buffer {
  return Buffer.from(
    JSON.stringify({ format: V1_LEVEL_FORMAT_NAME, version: V1_LEVEL_FORMAT_VERSION, epoch, createdAt }),
    'utf8',
  )
}

export function v1DestKey(destination: string): Buffer {
  return Buffer.concat([Buffer.from([0x64]), Buffer.from(destination, 'utf8')])
}

export function v1U32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

function destSeqKey(prefix: number, destId: number, seq: number): Buffer {
  return Buffer.concat([Buffer.from([prefix]), v1U32(destId), u64(seq)])
}

export const v1MsgKey = (destId: number, seq: number): Buffer => destSeqKey(0x6d, destId, seq)
export const v1IndexKey = (destId: number, seq: number): Buffer => destSeqKey(0x69, destId, seq)
export const v1DedupeKey = (seq: number): Buffer => Buffer.concat([Buffer.from([0x75]), u64(seq)])
export const v1SeqValue = (seq: number): Buffer => u64(seq)

export function v1SubKey(clientId: string, subscriptionName: string): Buffer {
  return Buffer.concat([Buffer.from([0x73]), Buffer.from(JSON.stringify([clientId, subscriptionName]), 'utf8')])
}

export function v1SubValue(s: V1Subscription): Buffer {
  return Buffer.from(JSON.stringify(s), 'utf8')
}

export function v1BatchValue(epoch: number, group: number): Buffer {
  return Buffer.concat([v1U32(epoch >>> 0), u64(group)])
}

export function v1MessageRecord(epoch: number, m: V1Message): Buffer {
  const meta = Buffer.from(JSON.stringify({ id: m.messageId, h: m.headers }), 'utf8')
  const head = Buffer.alloc(9)
  head[0] = 1
  head.writeUInt32BE(epoch >>> 0, 1)
  head.writeUInt32BE(meta.length, 5)
  return Buffer.concat([head, meta, m.body])
}
