/**
 * The admin HTTP listener (off unless configured): /health for readiness probes (200 only on a serving
 * primary, 503 with the role otherwise), /status (the shared directory as `sfbroker status --json` sees it,
 * plus this node's own view) and /metrics (Prometheus text). It runs on replicas too: it is not a client
 * connector, so operators and orchestrators can see every node.
 */
import http from 'node:http'
import type { AdminConfig } from '../config/types.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { inspectSharedDir } from '../election/index.ts'
import type { BrokerNode } from './broker-node.ts'
import { Exposition } from './prometheus.ts'
import { ROLES } from './node-metrics.ts'

const log = logger('admin')

export class AdminServer {
  private server: http.Server | null = null

  constructor(private readonly node: BrokerNode, private readonly cfg: AdminConfig) {}

  listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        log.warn(`admin ${req.method} ${req.url} failed: ${err.message}`)
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: err.message }))
      })
    })
    this.server = server
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new BrokerError('CONFIG_INVALID', `admin listener ${this.cfg.host}:${this.cfg.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`, { cause: err }))
      })
      server.listen(this.cfg.port, this.cfg.host, () => {
        const a = server.address()
        const port = typeof a === 'object' && a ? a.port : this.cfg.port
        log.info(`admin listener on http://${this.cfg.host}:${port} (/health, /status, /metrics)`)
        resolve()
      })
    })
  }

  address(): { host: string; port: number } | null {
    const a = this.server?.address()
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : null
  }

  close(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return Promise.resolve()
    return new Promise((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections?.()
    })
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: `method ${req.method} not allowed; use GET` }))
    }
    switch (url.pathname) {
      case '/health':
        return this.health(res)
      case '/status':
        return this.status(res)
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        return void res.end(this.metrics())
      default:
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: `no such endpoint ${url.pathname}; try /health, /status or /metrics` }))
    }
  }

  private health(res: http.ServerResponse): void {
    const st = this.node.status()
    const serving = st.role === 'primary' && this.node.servingParts() !== null
    res.writeHead(serving ? 200 : 503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ status: serving ? 'serving' : 'not-serving', role: st.role, nodeId: st.nodeId, brokerName: st.brokerName, epoch: st.epoch, since: new Date(st.since).toISOString() }))
  }

  private async status(res: http.ServerResponse): Promise<void> {
    const shared = await inspectSharedDir(this.node.config.persistence.directory)
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ...shared, node: { ...this.node.status(), election: this.node.electionStatus() } }, null, 2))
  }

  metrics(): string {
    const x = new Exposition()
    const m = this.node.metrics
    const st = this.node.status()
    const labels = { broker: st.brokerName, node: st.nodeId }
    for (const r of ROLES) x.sample('sfbroker_role', 'gauge', 'Current election role of this node (1 for the current role).', r === st.role ? 1 : 0, { ...labels, role: r })
    x.sample('sfbroker_epoch', 'gauge', 'Epoch this node serves under (0 when not primary).', st.epoch ?? 0, labels)
    x.sample('sfbroker_takeovers_total', 'counter', 'Times this node became primary.', m.takeovers, labels)
    x.sample('sfbroker_step_downs_total', 'counter', 'Times this node stepped down from primary.', m.stepDowns, labels)
    x.sample('sfbroker_last_takeover_ms', 'gauge', 'Duration of the last takeover (lock acquired to connectors open), ms; -1 if none.', m.lastTakeoverMs ?? -1, labels)
    const el = this.node.electionStatus()
    x.sample('sfbroker_lock_keepalive_latency_ms', 'gauge', 'Duration of the last lock keep-alive check, ms; -1 if none.', el.keepAliveLatencyMs ?? -1, labels)
    const parts = this.node.servingParts()
    x.sample('sfbroker_connections', 'gauge', 'Open client connections over all connectors.', parts ? parts.servers.reduce((a, s) => a + s.connections(), 0) : 0, labels)
    x.family('sfbroker_destination_enqueued_total', 'counter', 'Messages enqueued per destination.')
    x.family('sfbroker_destination_dequeued_total', 'counter', 'Messages dequeued (acknowledged) per destination.')
    x.family('sfbroker_destination_depth', 'gauge', 'Messages waiting per destination.')
    x.family('sfbroker_destination_consumers', 'gauge', 'Consumers per destination.')
    x.family('sfbroker_destination_expired_total', 'counter', 'Messages expired per destination.')
    if (parts) {
      const bm = parts.broker.metrics()
      x.sample('sfbroker_memory_bytes', 'gauge', 'Message bytes held in memory.', bm.memoryBytes, labels)
      x.sample('sfbroker_memory_limit_bytes', 'gauge', 'Broker-wide memory limit for messages.', bm.memoryLimitBytes, labels)
      for (const d of bm.destinations) {
        const dl = { ...labels, destination: d.destination }
        x.sample('sfbroker_destination_enqueued_total', 'counter', '', d.enqueued, dl)
        x.sample('sfbroker_destination_dequeued_total', 'counter', '', d.dequeued, dl)
        x.sample('sfbroker_destination_depth', 'gauge', '', d.depth, dl)
        x.sample('sfbroker_destination_consumers', 'gauge', '', d.consumers, dl)
        x.sample('sfbroker_destination_expired_total', 'counter', '', d.expired, dl)
      }
      if (parts.store) {
        const ss = parts.store.stats()
        x.sample('sfbroker_store_bytes', 'gauge', 'Bytes on disk used by the message store.', ss.bytes, labels)
        x.sample('sfbroker_store_messages', 'gauge', 'Messages held by the message store.', ss.messages, labels)
        x.sample('sfbroker_store_syncs_total', 'counter', 'fsync/fdatasync calls by the message store.', ss.syncs, labels)
        x.histogram('sfbroker_store_fsync_latency_ms', 'Latency of message store syncs, ms.', ss.syncLatencyMs, ss.syncLatencySumMs, labels)
      }
      if (parts.scheduler) {
        const sc = parts.scheduler.stats()
        x.sample('sfbroker_scheduler_jobs', 'gauge', 'Scheduled jobs waiting.', sc.jobs, labels)
        x.sample('sfbroker_scheduler_next_due_timestamp_ms', 'gauge', 'When the next scheduled job is due (epoch ms); -1 if none.', sc.nextDueAt ?? -1, labels)
      }
    }
    return x.toString()
  }
}
