/**
 * amq adapter (`<amqPersistenceAdapter>`, ActiveMQ's legacy AMQ store layout): the same journal as kahaDB but NO
 * index file. Every open rebuilds the index by replaying every journal segment.
 *
 * Trade-off (for the README): nothing but the journal is ever written, so there is no index to corrupt and no
 * checkpoint I/O while running (a little less write amplification than kahaDB), but recovery time — and with it
 * failover time — grows with the journal still on disk: replaying 1 GiB of journal takes seconds where kahaDB
 * loads its checkpoint and replays only the tail. GC can delete only the oldest run of segments without live
 * messages (a segment is kept while any older one is), after copying live subscription records, dedupe ids and
 * the next seq forward, so one slow consumer keeps every later segment on disk. Prefer kahaDB unless a
 * checkpoint-free store is specifically wanted. On-disk format 2, 0.1.0 stores read as is: journal/format.ts.
 */
import { JournalStore, type JournalStoreDeps } from '../../journal/index.ts'

export class AmqAdapter extends JournalStore {
  constructor(deps: JournalStoreDeps = {}) {
    super('amq', false, deps)
  }
}
