/**
 * kahaDB adapter (the default, `<kahaDB>`): the journal plus an index checkpointed every `checkpointIntervalMs`
 * (`checkpointInterval`, default 5 s) and on close. Recovery loads the newest `index-<epoch>.ckpt` and replays only
 * the journal written after its position, so recovery time tracks the index size (a few bytes per stored message)
 * and the un-checkpointed tail, not the journal's history. GC (`cleanupInterval`) deletes segments with no live
 * message once a checkpoint lies after them. All the machinery lives in src/storage/journal. On-disk format 2 (a
 * 0.1.0 store is read as is through OpenOptions.legacyMessage, and refused by 0.1.0 afterwards): journal/format.ts.
 */
import { JournalStore, type JournalStoreDeps } from '../../journal/index.ts'

export class KahaDbAdapter extends JournalStore {
  constructor(deps: JournalStoreDeps = {}) {
    super('kahaDB', true, deps)
  }
}
