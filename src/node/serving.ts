/**
 * Serving: everything that exists only while this node is primary (one term, one epoch), and how a term ends: the
 * teardown after a step-down or a failed activation (connectors first, then MQTT core, scheduler, broker, stores),
 * and the final checkpoint of a requested stop. Each close is bounded by `closeTimeoutMs`.
 *
 * Not promised: a store whose filesystem hangs may not close; the teardown abandons it after `closeTimeoutMs`,
 * because closing the connectors (done first) is what keeps clients safe.
 */
import type { ClusterWatch } from './cluster-urls.ts'
import type { PersistenceAdapter } from '../storage/index.ts'
import type { Broker } from '../broker/index.ts'
import type { Scheduler } from '../broker/scheduler/index.ts'
import { logger } from '../lib/log.ts'
import type { Connector } from './connector.ts'
import type { NodeMqttCore } from './mqtt-core-factory.ts'

const log = logger('node')

/** Everything that exists only while this node is primary. */
export interface Serving {
  epoch: number
  store: PersistenceAdapter | null
  schedulerStore: PersistenceAdapter | null
  broker: Broker
  scheduler: Scheduler | null
  /** The node's one MQTT core when some connector speaks MQTT (started before, stopped after the connectors). */
  mqtt: NodeMqttCore | null
  connectors: Connector[]
  summaryTimer: ReturnType<typeof setInterval> | null
  /** Reads the replicas' client URLs while some connector has updateClusterClients; null otherwise. */
  clusterWatch: ClusterWatch | null
}

/** A term while it is being built: what activation opened so far (all of it is torn down if a step fails). */
export type ServingInProgress = Partial<Serving> & { connectors: Connector[] }

/** How `p` settled, or 'timeout' after `ms` (a hung filesystem must not hold a step-down forever). */
export async function settleWithin<T>(p: Promise<T>, ms: number): Promise<PromiseSettledResult<T> | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)))
  try {
    return await Promise.race([
      p.then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Close what `s` holds, connectors first; each later step is waited for at most `closeTimeoutMs`. */
export async function teardownServing(s: ServingInProgress, reason: string, closeTimeoutMs: number): Promise<void> {
  if (s.summaryTimer) clearInterval(s.summaryTimer)
  s.clusterWatch?.stop()
  // Connectors first, all closes started before anything is awaited: no client is served a moment longer.
  // Each client is told why first as its protocol allows (STOMP: ERROR; MQTT 5: DISCONNECT 0x8B), never waited
  // for: a bounded linger, then the socket goes.
  const goodbye = { reason: 'not-primary' as const, message: `broker is no longer primary: ${reason}` }
  await Promise.allSettled(s.connectors.map((cn) => cn.close(goodbye)))
  const steps: [string, () => Promise<void> | undefined][] = [
    ['mqtt core', () => s.mqtt?.stop()],
    ['scheduler', () => s.scheduler?.stop()],
    ['broker', () => s.broker?.stop()],
    ['scheduler store', () => s.schedulerStore?.close()],
    ['store', () => s.store?.close()],
  ]
  for (const [name, fn] of steps) {
    const p = fn()
    if (!p) continue
    const res = await settleWithin(p, closeTimeoutMs)
    if (res === 'timeout') log.warn(`${name} did not close within ${closeTimeoutMs} ms (${reason}); abandoning it`)
    else if (res.status === 'rejected') log.warn(`${name} close failed (${reason}): ${(res.reason as Error).message}`)
  }
}

/**
 * A requested stop of a primary: close the connectors (each client gets an ERROR saying the broker shuts down),
 * then checkpoint the stores while the epoch is still ours (once the election steps down the fence refuses every
 * write), so the next primary replays nothing, then write the store summary once more (`writeSummary`) so
 * `sfbroker status` shows the counts as they are at the stop. Each step bounded by closeTimeoutMs; a failure only
 * costs the next primary a longer replay, or `status` a stale summary.
 */
export async function checkpointServing(
  s: Serving,
  reason: string,
  closeTimeoutMs: number,
  writeSummary: () => Promise<void>,
): Promise<void> {
  await Promise.allSettled(
    s.connectors.map((cn) => cn.close({ reason: 'shutdown', message: `broker is shutting down: ${reason}` })),
  )
  const stores = [s.store, s.schedulerStore].filter((x): x is PersistenceAdapter => x !== null)
  const res = await settleWithin(Promise.allSettled(stores.map((st) => st.checkpoint())), closeTimeoutMs)
  if (res === 'timeout')
    log.warn(`final checkpoint did not finish within ${closeTimeoutMs} ms; the next primary replays the journal tail`)
  else if (res.status === 'fulfilled') {
    for (const r of res.value)
      if (r.status === 'rejected')
        log.info(
          `final checkpoint not written (${(r.reason as Error).message}); the next primary replays the journal tail`,
        )
  }
  if (s.summaryTimer) clearInterval(s.summaryTimer)
  s.summaryTimer = null
  // A checkpoint that timed out suggests a hung share: do not spend another closeTimeoutMs on the summary.
  if (res === 'timeout') return
  const written = await settleWithin(writeSummary(), closeTimeoutMs)
  if (written === 'timeout')
    log.warn(`final store summary not written within ${closeTimeoutMs} ms; \`sfbroker status\` may show older counts`)
}
