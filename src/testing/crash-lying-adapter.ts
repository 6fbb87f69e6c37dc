/**
 * A deliberately broken adapter for testing the kill -9 harness itself (test/storage-crash.test.ts): a
 * LevelDbAdapter that, on its 3rd write and every 10th after, acknowledges a lone add with a made-up seq
 * without storing anything. A crash check that does not flag it has no teeth. Never use it elsewhere.
 */
import { LevelDbAdapter } from '../storage/adapters/leveldb/index.ts'
import type { StoreOp, WriteResult } from '../storage/types.ts'

/** Far above any seq a test store reaches, so a later remove of it is a harmless no-op. */
const FAKE_SEQ_BASE = 2 ** 52

export class LyingLevelDbAdapter extends LevelDbAdapter {
  private calls = 0

  override write(ops: StoreOp[]): Promise<WriteResult> {
    this.calls++
    if (ops.length === 1 && ops[0].op === 'add' && (this.calls === 3 || this.calls % 10 === 0)) {
      return Promise.resolve({ seqs: [FAKE_SEQ_BASE + this.calls] })
    }
    return super.write(ops)
  }
}
