/**
 * Test helper for the conformance suite's format group: writes into `dir` a store the adapter must refuse with
 * STORAGE_FORMAT, either a newer version of our own format or a LevelDB database some other program wrote.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { NativeDb } from './native.ts'
import { FORMAT_NAME, FORMAT_VERSION, META_KEY } from './keys.ts'
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
