/**
 * Recovery: what a new broker takes over from its store. Durable subscription records come back first; each
 * stored queue or subscription key then starts a recovered range (its messages stay in the store and are paged
 * in, ./queue.ts). A probe write learns the first seq this broker's writes get: stored messages below it are the
 * recovered range. Messages under a subscription key with no record (a crash between the two writes) and a
 * leftover probe are purged; unknown keys are left alone with a warning.
 */
import { logger } from '../lib/log.ts'
import type { PersistenceAdapter, RecoveredState, StoreOp } from '../storage/types.ts'
import { createMessage, parseDestinationKey } from '../model/index.ts'
import { named, parseFilter } from './destination.ts'
import type { StoreWrites } from './store-writes.ts'
import type { Destinations } from './destinations.ts'
import type { DurableSubscriptions } from './durable-subscriptions.ts'
import type { MessageIdGenerator } from './message.ts'
import type { MessageQueue } from './queue.ts'

const log = logger('broker')

/** The key of the probe message written once at recovery (then purged). */
const SEQ_PROBE_KEY = 'broker://seq-probe'

/** Rebuild destinations and durable subscriptions from `recovered`; returns the seq boundary (Infinity: none). */
export async function recover(
  store: PersistenceAdapter,
  recovered: RecoveredState,
  destinations: Destinations,
  durables: DurableSubscriptions,
  idGen: MessageIdGenerator,
  writes: StoreWrites,
): Promise<number> {
  let seqBoundary = Infinity
  for (const rec of recovered.subscriptions) {
    const dest = parseFilter(rec.destination, `recovered durable subscription ${rec.clientId}:${rec.subscriptionName}`)
    durables.attach(rec, dest)
  }
  const purge: StoreOp[] = []
  let ranges = 0
  for (const d of recovered.destinations) {
    if (d.count <= 0) continue
    writes.keys.add(d.destination)
    let q: MessageQueue | undefined
    if (d.destination.startsWith('queue://')) {
      q = destinations.queueFor(named(parseDestinationKey(d.destination, `recovered store key ${d.destination}`)))
    } else if (d.destination.startsWith('durable://')) {
      q = durables.byStoreKey(d.destination)?.queue
      if (!q) {
        // Messages stored for a subscription whose record did not make it (crash between the two): unreachable.
        log.warn(
          `recovery: ${d.count} message(s) under ${d.destination} have no durable subscription record; purging them`,
        )
        purge.push({ op: 'purge', destination: d.destination })
        continue
      }
    } else if (d.destination === SEQ_PROBE_KEY) {
      purge.push({ op: 'purge', destination: d.destination })
      continue
    } else {
      // A plug-in's key (`mqtt://...`) or one this broker does not know: left to its owner (storeKeys/storeLoad).
      log.debug(`recovery: store key ${d.destination} (${d.count} message(s)) is not a broker destination; kept`)
      continue
    }
    q.startRecoveredRange(d.count)
    ranges++
  }
  if (ranges > 0) {
    writes.keys.delete(SEQ_PROBE_KEY)
    const probe = await store.write([
      {
        op: 'add',
        destination: SEQ_PROBE_KEY,
        message: createMessage({
          messageId: `seq-probe:${idGen.next(0, 0)}`,
          destination: { kind: 'queue', name: 'sfbroker.seq-probe' },
          timestamp: 0,
        }),
      },
    ])
    seqBoundary = probe.seqs[0]!
    purge.push({ op: 'purge', destination: SEQ_PROBE_KEY })
  }
  if (purge.length) await store.write(purge)
  if (ranges > 0 || recovered.subscriptions.length > 0)
    log.info(
      `recovered ${ranges} destination(s) with stored messages and ${recovered.subscriptions.length} durable subscription(s)`,
    )
  return seqBoundary
}
