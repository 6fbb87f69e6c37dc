/**
 * Activation: how a term starts once the election says "primary with epoch E". In order: open the store (recovery,
 * adopting a warm standby reader; the scheduler store opens at the same time), build the broker, start the
 * scheduler once its store is open, re-check the
 * fence, start the one MQTT core, then open each connector. Every part is recorded in the term being built as soon
 * as it exists, so the caller can tear down whatever a failed step left open. Owns that order and the recovery log
 * lines; what serving then does (summary timer, post-recovery checkpoint) is BrokerNode's.
 */
import type { BrokerConfig } from '../config/index.ts'
import type { PersistenceAdapter, RecoveredState, StandbyReader } from '../storage/index.ts'
import os from 'node:os'
import { readReplicas, type ActivationContext } from '../election/index.ts'
import { createAdapter } from '../storage/index.ts'
import { MemoryStore } from '../storage/memory-store.ts'
import { Broker } from '../broker/index.ts'
import { Scheduler, legacyJobReader } from '../broker/scheduler/index.ts'
import { fromLegacyStored } from '../protocol/stomp/index.ts'
import type { TlsContextSource } from '../net/index.ts'
import type { Security } from '../security/index.ts'
import { logger } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { systemClock } from '../lib/clock.ts'
import { createConnector, speaksMqtt } from './connector.ts'
import { createMqttCore } from './mqtt-core-factory.ts'
import type { ServingInProgress } from './serving.ts'
import { ClusterWatch, clientUrl, speaksOpenWire } from './cluster-urls.ts'

const log = logger('node')

export interface ActivationDeps {
  config: BrokerConfig
  ctx: ActivationContext
  security: Security
  /** `<sslContext>` key material for TLS connectors; null without one. */
  tls: TlsContextSource | null
  /** Readers a warm replica kept current, by store directory (each open() seals before it adopts one). */
  warm: Map<string, StandbyReader>
  /** A store's fatal failure (reported for this term's epoch). */
  onFatal: (err: Error) => void
}

/** Open the term's parts into `part`, in order, up to and including the connectors (ctx marks each milestone). */
export async function openServing(part: ServingInProgress, deps: ActivationDeps): Promise<void> {
  const { config: cfg, ctx, security, warm, onFatal } = deps
  let recovered: RecoveredState | null = null
  // The scheduler store (its own directory) opens while the message store does: each open is a dozen filesystem
  // round trips and a few fsyncs (~15–20 ms on a warm takeover), and one after the other they were a third of it.
  let schedOpen: Promise<RecoveredState> | null = null
  if (cfg.schedulerSupport) {
    // ActiveMQ keeps schedules apart from the message store; a non-persistent broker keeps them in memory.
    const schedulerStore: PersistenceAdapter = cfg.persistent
      ? createAdapter(cfg.persistence.adapter)
      : new MemoryStore()
    part.schedulerStore = schedulerStore
    schedOpen = schedulerStore.open({
      ...storeOptions(cfg, cfg.persistent ? cfg.schedulerDirectory : ':memory:', ctx, onFatal),
      legacyMessage: legacyJobReader(fromLegacyStored),
      standby: warm.get(cfg.schedulerDirectory),
    })
  }
  try {
    if (cfg.persistent) {
      part.store = createAdapter(cfg.persistence.adapter)
      recovered = await part.store.open({
        ...storeOptions(cfg, cfg.persistence.directory, ctx, onFatal),
        // 0.1.0 records (STOMP header maps) read as the STOMP connector would have mapped them.
        legacyMessage: fromLegacyStored,
        standby: warm.get(cfg.persistence.directory),
      })
      logRecovery('store', recovered)
    }
    part.broker = await Broker.create({
      config: cfg,
      store: part.store ?? null,
      recovered,
      onStoreFailure: onFatal,
      authorizer: security.authorizer,
    })
  } catch (e) {
    // The caller tears down what is in `part`: let the scheduler store's open finish first (never close mid-open).
    await schedOpen?.catch(() => undefined)
    throw e
  }
  if (schedOpen && part.schedulerStore) {
    const schedRecovered = await schedOpen
    if (cfg.persistent) logRecovery('scheduler store', schedRecovered)
    part.scheduler = new Scheduler({ store: part.schedulerStore, broker: part.broker })
    await part.scheduler.start(schedRecovered)
    part.broker.setScheduler(part.scheduler)
  }
  ctx.mark('storeRecovered')
  // Recovery can take a while; a newer primary may have claimed its epoch meanwhile. Serving without this
  // check would open ports for a moment under a stale epoch (the fence would still refuse every receipt).
  await ctx.fence.assertCurrent()
  // One MQTT core for every MQTT and WebSocket connector, recovered before any of them accepts a client.
  if (cfg.connectors.some(speaksMqtt)) {
    part.mqtt = await createMqttCore({
      broker: part.broker,
      authenticator: security.authenticator,
    })
    await part.mqtt.start()
  }
  const bound: string[] = []
  for (const c of cfg.connectors) {
    const cn = await createConnector(c, {
      broker: part.broker,
      mqtt: part.mqtt ?? null,
      authenticator: security.authenticator,
      tlsSource: deps.tls,
      serverName: `sfbroker/${VERSION}`,
      brokerName: cfg.brokerName,
      clock: systemClock,
    })
    part.connectors.push(cn)
    await cn.listen()
    const a = cn.address()
    log.info(`connector ${c.name} listening on ${a.host}:${a.port} (${c.uri})`)
    bound.push(boundUri(c.uri, a.port))
  }
  ctx.mark('connectorsOpen', bound)
  if (cfg.connectors.some((c) => c.updateClusterClients)) {
    const own = cfg.connectors.flatMap((c, i) =>
      speaksOpenWire(c) ? [clientUrl(c, os.hostname(), part.connectors[i]!.address().port)] : [],
    )
    const dir = cfg.persistence.directory
    const connectors = part.connectors
    part.clusterWatch = new ClusterWatch(
      own,
      () => readReplicas(dir),
      (urls) => {
        for (const cn of connectors) cn.clusterChanged?.(urls)
      },
    )
    // Not awaited: a hung share must not hold the takeover; clients get the list once it is read.
    void part.clusterWatch.start()
  }
}

function storeOptions(cfg: BrokerConfig, directory: string, ctx: ActivationContext, onFatalError: (e: Error) => void) {
  const p = cfg.persistence
  return {
    directory,
    epoch: ctx.epoch,
    fence: ctx.fence,
    syncPolicy: p.journalDiskSyncStrategy,
    syncIntervalMs: p.journalDiskSyncInterval,
    journalMaxFileLength: p.journalMaxFileLength,
    checkpointIntervalMs: p.checkpointInterval,
    cleanupIntervalMs: p.cleanupInterval,
    onFatalError,
  }
}

function logRecovery(what: string, r: RecoveredState): void {
  const rep = r.report
  const msgs = r.destinations.reduce((a, d) => a + d.count, 0)
  log.info(
    `${what} recovered in ${rep.durationMs} ms: ${msgs} messages in ${r.destinations.length} destinations, ${r.subscriptions.length} durable subscriptions, ${rep.recordsReplayed} records replayed`,
  )
  if (rep.tornTail)
    log.warn(`${what}: torn tail cut at ${rep.tornTail.file}:${rep.tornTail.offset} (${rep.tornTail.bytes} bytes)`)
  for (const c of rep.corrupt) log.error(`${what}: corrupt record at ${c.file}:${c.offset}: ${c.reason}`)
  if (rep.fencedRecordsIgnored > 0)
    log.warn(
      `${what}: ${rep.fencedRecordsIgnored} records of a deposed primary written after its epoch ended were ignored`,
    )
}

/** The connector URI as written with the port actually bound (differs only for port 0). */
export function boundUri(uri: string, port: number): string {
  return uri.replace(/^([a-z0-9+.-]+:\/\/(?:\[[^\]]*\]|[^/:?#]*)):\d+/i, `$1:${port}`)
}
