/**
 * Test helper for the conformance suite's format group: writes into `dir` a store the adapter must refuse with
 * STORAGE_FORMAT, either a newer version of our own format or a LevelDB database some other program wrote.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { NativeDb } from './native.ts'
import {
  destKey,
  FORMAT_NAME,
  FORMAT_VERSION,
  indexKey,
  META_KEY,
  msgKey,
  P_DEST,
  prefixRange,
  readU64At,
  SEQ_KEY,
  u32,
  u64,
} from './keys.ts'
import { LEVELDB_SUBDIR } from './leveldb-adapter.ts'

export async function plantLevelDbFormat(dir: string, kind: 'newer' | 'foreign'): Promise<void> {
  const levelDir = join(dir, LEVELDB_SUBDIR)
  mkdirSync(levelDir, { recursive: true })
  const db = await NativeDb.open(levelDir)
  try {
    if (kind === 'newer') {
      const meta = { format: FORMAT_NAME, version: FORMAT_VERSION + 1, epoch: 0, createdAt: Date.now() }
      await db.batch([{ type: 'put', key: META_KEY, value: Buffer.from(JSON.stringify(meta)) }], true)
    } else {
      await db.batch([{ type: 'put', key: Buffer.from('!users!alice'), value: Buffer.from('{"name":"alice"}') }], true)
    }
  } finally {
    await db.close()
  }
}

/**
 * For the conformance suite's corrupt-message case: adds to the closed store in `dir` one message on `destination`
 * (a new destination) whose record has version 2 but whose message record does not decode (its version byte is 9).
 */
export async function plantUndecodableLevelMessage(dir: string, destination: string): Promise<void> {
  const db = await NativeDb.open(join(dir, LEVELDB_SUBDIR))
  try {
    let lastSeq = 0
    let maxDest = 0
    await db.scan({ gte: SEQ_KEY, lte: SEQ_KEY }, (_k, v) => (lastSeq = readU64At(v!, 0)))
    await db.scan(prefixRange(P_DEST), (_k, v) => (maxDest = Math.max(maxDest, v!.readUInt32BE(0))))
    const id = maxDest + 1
    const seq = lastSeq + 1
    const value = Buffer.from([2, 0, 0, 0, 1, 9, 0, 0])
    await db.batch(
      [
        { type: 'put', key: destKey(destination), value: u32(id) },
        { type: 'put', key: msgKey(id, seq), value },
        { type: 'put', key: indexKey(id, seq), value: u32(value.length) },
        { type: 'put', key: SEQ_KEY, value: u64(seq) },
      ],
      true,
    )
  } finally {
    await db.close()
  }
}
