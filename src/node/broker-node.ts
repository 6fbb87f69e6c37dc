/**
 * BrokerNode: one broker process. The election decides when this node may serve; the node turns "you are
 * primary with epoch E" into store recovery → broker → scheduler → connectors, and "stop serving" into the
 * reverse, connectors first so clients fail over at once. It owns the order of those steps and nothing else:
 * locking is the election's, message semantics the broker's, bytes on disk the adapters'. The steps themselves:
 * opening a term in activation.ts, closing it in serving.ts, store-summary.json in summary-writer.ts, the status
 * shapes in node-status.ts.
 *
 * Not promised: a store whose filesystem hangs may not close; deactivation does not wait for it longer than
 * `closeTimeoutMs`, because closing the connectors (already done by then) is what keeps clients safe.
 */
import os from 'node:os'
import crypto from 'node:crypto'
import type { BrokerConfig } from '../config/index.ts'
import type { PersistenceAdapter, StandbyReader } from '../storage/index.ts'
import type { ActivationContext, Role } from '../election/index.ts'
import type { Broker } from '../broker/index.ts'
import type { Scheduler } from '../broker/scheduler/index.ts'
import type { StompServer } from '../protocol/stomp/index.ts'
import { Elector } from '../election/index.ts'
import { logger } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { AdminServer } from './admin-server.ts'
import { TlsContextSource } from '../net/index.ts'
import { Security } from '../security/index.ts'
import { NodeMetrics } from './node-metrics.ts'
import { WarmStandby } from './warm-standby.ts'
import type { Connector } from './connector.ts'
import { connectionSummary } from './connection-summary.ts'
import { connectorStatuses, type NodeStatus } from './node-status.ts'
import { openServing } from './activation.ts'
import { checkpointServing, teardownServing, type Serving, type ServingInProgress } from './serving.ts'
import { SummaryWriter } from './summary-writer.ts'
import { clientUrlsOf } from './cluster-urls.ts'

export type { ConnectorStatus, NodeStatus } from './node-status.ts'

const log = logger('node')

/** Exit codes of `sfbroker run` (documented in README). */
export const EXIT = { ok: 0, failed: 1, lockLost: 75 } as const

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
  /** store-summary.json for `sfbroker status`, written while serving. */
  private readonly summary: SummaryWriter
  readonly closeTimeoutMs = 5000

  constructor(readonly config: BrokerConfig) {
    this.nodeId = config.nodeId ?? `${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`
    this.metrics = new NodeMetrics()
    this.security = new Security(config.security)
    this.summary = new SummaryWriter({
      nodeId: this.nodeId,
      directory: config.persistence.directory,
      adapter: config.persistence.adapter,
      serving: () => this.serving,
      connections: () => connectionSummary(this.status().connectors),
    })
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

  /** A requested stop of a primary: checkpoint what it serves while the epoch is still ours (serving.ts). */
  private async checkpointBeforeStop(reason: string): Promise<void> {
    await this.activation
    const s = this.serving
    if (!s || this.role !== 'primary') return
    await checkpointServing(s, reason, this.closeTimeoutMs, () => this.summary.write({ after: true }))
  }

  status(): NodeStatus {
    const s = this.serving
    return {
      nodeId: this.nodeId,
      brokerName: this.config.brokerName,
      role: this.role,
      epoch: s?.epoch ?? null,
      since: this.roleSince,
      connectors: connectorStatuses(this.config.connectors, s?.connectors),
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
    const onFatal = (err: Error) => void this.storeFailed(ctx.epoch, err)
    const part: ServingInProgress = {
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
      await openServing(part, { config: this.config, ctx, security: this.security, tls: this.tls, warm, onFatal })
      this.serving = part as Serving
      this.serving.summaryTimer = setInterval(() => void this.summary.write(), 2000)
      this.serving.summaryTimer.unref?.()
      void this.summary.write()
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
      await teardownServing(part, 'activation failed', this.closeTimeoutMs)
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

  private async deactivate(reason: string): Promise<void> {
    // Activation may still be running (lock lost mid-recovery): let it finish or fail, then tear down.
    const s = this.serving
    if (s) {
      this.serving = null
      await teardownServing(s, reason, this.closeTimeoutMs)
    } else {
      await this.activation
      if (this.serving) await this.deactivate(reason)
    }
  }
}
