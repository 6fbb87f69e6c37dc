/**
 * BrokerNode: one broker process. The election decides when this node may serve; the node turns "you are
 * primary with epoch E" into store recovery → broker → scheduler → connectors, and "stop serving" into the
 * reverse, connectors first so clients fail over at once. It owns the order of those steps and nothing else:
 * locking is the election's, message semantics the broker's, bytes on disk the adapters'.
 *
 * Not promised: a store whose filesystem hangs may not close; deactivation does not wait for it longer than
 * `closeTimeoutMs`, because closing the connectors (already done by then) is what keeps clients safe.
 */
import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import type { BrokerConfig } from '../config/index.ts'
import type { PersistenceAdapter, RecoveredState, StandbyReader } from '../storage/index.ts'
import type { ActivationContext, Role } from '../election/index.ts'
import { createAdapter } from '../storage/index.ts'
import { MemoryStore } from '../storage/memory-store.ts'
import { Broker } from '../broker/index.ts'
import { Scheduler, legacyJobReader } from '../broker/scheduler/index.ts'
import { fromLegacyStored, type StompServer } from '../protocol/stomp/index.ts'
import { Elector, readReplicas } from '../election/index.ts'
import { logger } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { AdminServer } from './admin-server.ts'
import { TlsContextSource } from '../net/index.ts'
import { Security } from '../security/index.ts'
import { NodeMetrics } from './node-metrics.ts'
import { WarmStandby } from './warm-standby.ts'
import { systemClock } from '../lib/clock.ts'
import {
  createConnector,
  protocolsOf,
  speaksMqtt,
  transportOf,
  type ConnectionCounts,
  type ConnectionProtocol,
  type Connector,
} from './connector.ts'
import { createMqttCore, type NodeMqttCore } from './mqtt-core-factory.ts'
import { connectionSummary } from './connection-summary.ts'
import { ClusterWatch, clientUrl, clientUrlsOf, speaksOpenWire } from './cluster-urls.ts'

const log = logger('node')

/** How `p` settled, or 'timeout' after `ms` (a hung filesystem must not hold a step-down forever). */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<PromiseSettledResult<T> | 'timeout'> {
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

/** Exit codes of `sfbroker run` (documented in README). */
export const EXIT = { ok: 0, failed: 1, lockLost: 75 } as const

/** Everything that exists only while this node is primary. */
interface Serving {
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

export interface NodeStatus {
  nodeId: string
  brokerName: string
  role: Role
  epoch: number | null
  since: number
  connectors: ConnectorStatus[]
}

export interface ConnectorStatus {
  name: string
  uri: string
  /** tcp, tls, ws or wss. */
  transport: string
  listening: string | null
  /** Open connections, all protocols together. */
  connections: number
  /** The protocols this connector serves. */
  speaks: ConnectionProtocol[]
  /** Open connections by the protocol each speaks. */
  byProtocol: ConnectionCounts
}

export class BrokerNode {
  readonly nodeId: string
  readonly metrics: NodeMetrics
  /** Authentication and authorization (src/security), built once: counters and the login backoff outlive a term. */
  readonly security: Security
  private serving: Serving | null = null
  private role: Role = 'starting'
  private roleSince = Date.now()
  private elector: Elector
  private admin: AdminServer | null = null
  /** `<sslContext>` key material (read at start, reloaded on SIGHUP and file change); null without one. */
  private tls: TlsContextSource | null = null
  /** The admin endpoint's own key material when it has its own attributes; else it shares `tls`. */
  private adminTls: TlsContextSource | null = null
  private stopping: Promise<void> | null = null
  /** Deactivation may be requested while activation is still running; it waits for it. */
  private activation: Promise<void> = Promise.resolve()
  /** While a replica: readers that keep the stores' indexes current (warm takeover, #14); null otherwise. */
  private standby: WarmStandby | null = null
  /** The store-summary write in flight, if any. */
  private summaryWrite: Promise<void> | null = null
  readonly closeTimeoutMs = 5000

  constructor(readonly config: BrokerConfig) {
    this.nodeId = config.nodeId ?? `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`
    this.metrics = new NodeMetrics()
    this.security = new Security(config.security)
    this.elector = new Elector({
      sharedDir: config.persistence.directory,
      lock: config.lock,
      brokerName: config.brokerName,
      nodeId: this.nodeId,
      connectors: config.connectors.map((c) => c.uri),
      clientUrls: clientUrlsOf(config.connectors, os.hostname()),
      info: {
        adapter: config.persistence.adapter,
        dataDirectory: config.dataDirectory,
        schedulerDirectory: config.schedulerDirectory,
        schedulerSupport: config.schedulerSupport,
        version: VERSION,
      },
      hooks: {
        activate: (ctx) => {
          const p = this.activate(ctx)
          this.activation = p.catch(() => undefined)
          return p
        },
        deactivate: (reason) => this.deactivate(reason),
        onRole: (role, reason) => this.onRole(role, reason),
      },
    })
  }

  /** Resolves with the process exit code once the node has stopped for good. */
  get done(): Promise<number> {
    return this.elector.done
  }

  async start(): Promise<void> {
    log.info(
      `node ${this.nodeId} starting: broker ${this.config.brokerName}, shared dir ${this.config.persistence.directory}, adapter ${this.config.persistence.adapter}`,
    )
    // Key files are read before anything listens: a bad store stops the process with exit 1, even on a replica.
    if (this.config.sslContext) this.tls = new TlsContextSource(this.config.sslContext, 'sslContext')
    const adminTlsCfg = this.config.admin?.tls ?? null
    if (adminTlsCfg)
      this.adminTls =
        adminTlsCfg === this.config.sslContext && this.tls ? this.tls : new TlsContextSource(adminTlsCfg, 'admin')
    this.tls?.watch()
    if (this.adminTls !== this.tls) this.adminTls?.watch()
    if (this.config.admin) {
      this.admin = new AdminServer(this, this.config.admin, {
        tlsSource: this.adminTls ?? undefined,
        authenticator: this.security.authenticator ?? undefined,
      })
      await this.admin.listen()
    }
    await this.elector.start()
  }

  stop(reason = 'stop requested'): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        log.info(`stopping: ${reason}`)
        await this.checkpointBeforeStop(reason)
        await this.elector.stop()
        await this.standby?.stop()
        this.standby = null
        await this.admin?.close()
        this.tls?.unwatch()
        this.adminTls?.unwatch()
      })()
    }
    return this.stopping
  }

  /**
   * A requested stop of a primary: close the connectors (each client gets an ERROR saying the broker shuts down),
   * then checkpoint the stores while the epoch is still ours (once the election steps down the fence refuses every
   * write), so the next primary replays nothing, then write the store summary once more so `sfbroker status`
   * shows the counts as they are at the stop. Each step bounded by closeTimeoutMs; a failure only costs the next
   * primary a longer replay, or `status` a stale summary.
   */
  private async checkpointBeforeStop(reason: string): Promise<void> {
    await this.activation
    const s = this.serving
    if (!s || this.role !== 'primary') return
    await Promise.allSettled(
      s.connectors.map((cn) => cn.close({ reason: 'shutdown', message: `broker is shutting down: ${reason}` })),
    )
    const stores = [s.store, s.schedulerStore].filter((x): x is PersistenceAdapter => x !== null)
    const res = await settleWithin(Promise.allSettled(stores.map((st) => st.checkpoint())), this.closeTimeoutMs)
    if (res === 'timeout')
      log.warn(
        `final checkpoint did not finish within ${this.closeTimeoutMs} ms; the next primary replays the journal tail`,
      )
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
    const written = await settleWithin(this.writeSummary({ after: true }), this.closeTimeoutMs)
    if (written === 'timeout')
      log.warn(
        `final store summary not written within ${this.closeTimeoutMs} ms; \`sfbroker status\` may show older counts`,
      )
  }

  status(): NodeStatus {
    const s = this.serving
    return {
      nodeId: this.nodeId,
      brokerName: this.config.brokerName,
      role: this.role,
      epoch: s?.epoch ?? null,
      since: this.roleSince,
      connectors: this.config.connectors.map((c, i) => {
        const cn = s?.connectors[i]
        const addr = cn ? cn.address() : null
        const byProtocol = cn ? cn.connections() : { stomp: 0, mqtt: 0, openwire: 0 }
        return {
          name: c.name,
          uri: c.uri,
          transport: transportOf(c),
          speaks: protocolsOf(c),
          listening: addr ? `${addr.host}:${addr.port}` : null,
          connections: byProtocol.stomp + byProtocol.mqtt + byProtocol.openwire,
          byProtocol,
        }
      }),
    }
  }

  /** The admin listener's bound address (port 0 resolved); null without one or before it listens. */
  adminAddress(): { host: string; port: number } | null {
    return this.admin?.address() ?? null
  }

  electionStatus(): ReturnType<Elector['status']> {
    return this.elector.status()
  }

  /** Live objects for the admin endpoint's metrics; null when not primary. */
  servingParts(): {
    broker: Broker
    store: PersistenceAdapter | null
    scheduler: Scheduler | null
    /** Every connector, for connection counts. */
    connectors: Connector[]
    /** The STOMP servers among them (ws connectors included), for the console's sessions. */
    servers: StompServer[]
  } | null {
    const s = this.serving
    if (!s) return null
    const servers = s.connectors.flatMap((c) => (c.stomp ? [c.stomp] : []))
    return { broker: s.broker, store: s.store, scheduler: s.scheduler, connectors: s.connectors, servers }
  }

  private onRole(role: Role, reason: string): void {
    const from = this.role
    this.role = role
    this.roleSince = Date.now()
    this.metrics.onRole(role)
    log.info(`role ${from} -> ${role}: ${reason}`, { event: 'role', from, to: role, reason, nodeId: this.nodeId })
    // A waiting replica follows the shared stores read-only, so a takeover replays only their last records.
    if (role === 'replica' && !this.standby && !this.stopping && this.config.persistent) {
      const dirs = [
        this.config.persistence.directory,
        ...(this.config.schedulerSupport ? [this.config.schedulerDirectory] : []),
      ]
      this.standby = new WarmStandby(this.config.persistence.adapter, dirs)
      this.standby.start()
    } else if (role === 'stopped' && this.standby) {
      void this.standby.stop()
      this.standby = null
    }
  }

  private async activate(ctx: ActivationContext): Promise<void> {
    const cfg = this.config
    const onFatal = (err: Error) => void this.storeFailed(ctx.epoch, err)
    const part: Partial<Serving> & { connectors: Connector[] } = {
      epoch: ctx.epoch,
      connectors: [],
      mqtt: null,
      store: null,
      schedulerStore: null,
      scheduler: null,
      summaryTimer: null,
      clusterWatch: null,
    }
    // Readers the replica kept current (the epoch is claimed already; each open() seals before it adopts one).
    const warm = this.standby ? await this.standby.take() : new Map<string, StandbyReader>()
    this.standby = null
    try {
      let recovered: RecoveredState | null = null
      if (cfg.persistent) {
        part.store = createAdapter(cfg.persistence.adapter)
        recovered = await part.store.open({
          ...this.storeOptions(cfg.persistence.directory, ctx, onFatal),
          // 0.1.0 records (STOMP header maps) read as the STOMP connector would have mapped them.
          legacyMessage: fromLegacyStored,
          standby: warm.get(cfg.persistence.directory),
        })
        this.logRecovery('store', recovered)
      }
      part.broker = await Broker.create({
        config: cfg,
        store: part.store ?? null,
        recovered,
        onStoreFailure: onFatal,
        authorizer: this.security.authorizer,
      })
      if (cfg.schedulerSupport) {
        // ActiveMQ keeps schedules apart from the message store; a non-persistent broker keeps them in memory.
        const schedulerStore: PersistenceAdapter = cfg.persistent
          ? createAdapter(cfg.persistence.adapter)
          : new MemoryStore()
        part.schedulerStore = schedulerStore
        const schedRecovered = await schedulerStore.open({
          ...this.storeOptions(cfg.persistent ? cfg.schedulerDirectory : ':memory:', ctx, onFatal),
          legacyMessage: legacyJobReader(fromLegacyStored),
          standby: warm.get(cfg.schedulerDirectory),
        })
        if (cfg.persistent) this.logRecovery('scheduler store', schedRecovered)
        part.scheduler = new Scheduler({ store: schedulerStore, broker: part.broker })
        await part.scheduler.start(schedRecovered)
        part.broker.setScheduler(part.scheduler)
      }
      ctx.mark('storeRecovered')
      // Recovery can take a while; a newer primary may have claimed its epoch meanwhile. Serving without this
      // check would open ports for a moment under a stale epoch (the fence would still refuse every receipt).
      await ctx.fence.assertCurrent()
      // One MQTT core for every MQTT and WebSocket connector, recovered before any of them accepts a client.
      if (cfg.connectors.some(speaksMqtt)) {
        part.mqtt = createMqttCore({
          broker: part.broker,
          authenticator: this.security.authenticator,
        })
        await part.mqtt.start()
      }
      const bound: string[] = []
      for (const c of cfg.connectors) {
        const cn = createConnector(c, {
          broker: part.broker,
          mqtt: part.mqtt ?? null,
          authenticator: this.security.authenticator,
          tlsSource: this.tls,
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
        part.clusterWatch = new ClusterWatch(
          own,
          () => readReplicas(dir),
          (urls) => {
            for (const cn of part.connectors) cn.clusterChanged?.(urls)
          },
        )
        // Not awaited: a hung share must not hold the takeover; clients get the list once it is read.
        void part.clusterWatch.start()
      }
      this.serving = part as Serving
      this.serving.summaryTimer = setInterval(() => void this.writeSummary(), 2000)
      this.serving.summaryTimer.unref?.()
      void this.writeSummary()
      // Checkpoint what was just recovered, in the background, so the next takeover replays only what this
      // term writes, however short the term (frequent failovers would otherwise replay an ever longer tail).
      // A moment later, not at once: at a large backlog encoding the index holds the loop for a while, and the
      // first clients of a takeover should not wait for it (#14).
      const postRecovery = setTimeout(() => {
        if (this.serving !== part) return
        for (const st of [part.store, part.schedulerStore]) {
          st?.checkpoint().catch((err: Error) => log.warn(`post-recovery checkpoint failed: ${err.message}`))
        }
      }, 1000)
      postRecovery.unref?.()
    } catch (err) {
      // A failed activation must leave nothing open: the election releases the lock next (no zombie primary).
      log.error(`activation failed: ${(err as Error).message}`)
      await this.teardown(part, 'activation failed')
      throw err
    }
  }

  /**
   * @internal A store opened for `epoch` reported a fatal failure. If this node still serves that epoch it gives
   * up the primary role (error). A store of an epoch it no longer serves (stepping down, or a hung share that came
   * back after the node became a replica) fails as expected: logged at info and not reported, since reporting
   * would depose a later term of this node. Returns whether the role was given up.
   */
  storeFailed(epoch: number, err: Error): boolean {
    if (!this.elector.serves(epoch)) {
      log.info(`store of epoch ${epoch} failed after this node stopped serving it (expected): ${err.message}`)
      return false
    }
    log.error(`store failure, giving up the primary role: ${err.message}`)
    this.elector.reportUnhealthy(`store write failed: ${err.message}`)
    return true
  }

  private storeOptions(directory: string, ctx: ActivationContext, onFatalError: (e: Error) => void) {
    const p = this.config.persistence
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

  private logRecovery(what: string, r: RecoveredState): void {
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

  private async deactivate(reason: string): Promise<void> {
    // Activation may still be running (lock lost mid-recovery): let it finish or fail, then tear down.
    const s = this.serving
    if (s) {
      this.serving = null
      await this.teardown(s, reason)
    } else {
      await this.activation
      if (this.serving) await this.deactivate(reason)
    }
  }

  private async teardown(s: Partial<Serving> & { connectors: Connector[] }, reason: string): Promise<void> {
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
      const res = await settleWithin(p, this.closeTimeoutMs)
      if (res === 'timeout')
        log.warn(`${name} did not close within ${this.closeTimeoutMs} ms (${reason}); abandoning it`)
      else if (res.status === 'rejected') log.warn(`${name} close failed (${reason}): ${(res.reason as Error).message}`)
    }
  }

  /**
   * store-summary.json in the shared dir, for `sfbroker status` (written atomically: tmp + rename). One write at a
   * time (they share the tmp file): the timer skips a turn while one is in flight (a hung share must not pile them
   * up); the final write at a clean stop (`after: true`) waits for it, then writes. Never rejects.
   */
  private writeSummary(opts: { after?: boolean } = {}): Promise<void> {
    const prev = this.summaryWrite
    if (prev && !opts.after) return prev
    const p = (prev ?? Promise.resolve()).then(() => this.writeSummaryNow())
    this.summaryWrite = p
    void p.then(() => {
      if (this.summaryWrite === p) this.summaryWrite = null
    })
    return p
  }

  private async writeSummaryNow(): Promise<void> {
    const s = this.serving
    if (!s) return
    try {
      const st = s.store?.stats()
      const summary = {
        nodeId: this.nodeId,
        epoch: s.epoch,
        adapter: this.config.persistence.adapter,
        bytes: st?.bytes ?? 0,
        messages: st?.messages ?? 0,
        destinations: st?.destinations ?? [],
        scheduler: s.scheduler ? s.scheduler.stats() : null,
        // Damage the stores found in their own files (corrupt records, torn tail): `sfbroker status` warns on it.
        integrity: { store: st?.integrity ?? null, scheduler: s.schedulerStore?.stats().integrity ?? null },
        connections: connectionSummary(this.status().connectors),
        updatedAt: Date.now(),
      }
      const file = path.join(this.config.persistence.directory, 'store-summary.json')
      const tmp = `${file}.${this.nodeId}.tmp`
      await fs.promises.writeFile(tmp, JSON.stringify(summary, null, 2))
      if (this.serving !== s) return void (await fs.promises.unlink(tmp).catch(() => undefined))
      await fs.promises.rename(tmp, file)
    } catch (err) {
      log.debug(`store summary not written: ${(err as Error).message}`)
    }
  }
}

/** The connector URI as written with the port actually bound (differs only for port 0). */
export function boundUri(uri: string, port: number): string {
  return uri.replace(/^([a-z0-9+.-]+:\/\/(?:\[[^\]]*\]|[^/:?#]*)):\d+/i, `$1:${port}`)
}
