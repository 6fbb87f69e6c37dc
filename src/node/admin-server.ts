/**
 * The admin HTTP listener (off unless configured): /health for readiness probes (200 only on a serving
 * primary, 503 with the role otherwise), /status (the shared directory as `sfbroker status --json` sees it,
 * plus this node's own view) and /metrics (Prometheus text). It runs on replicas too: it is not a client
 * connector, so operators and orchestrators can see every node.
 *
 * Bounded output (issue 19): /metrics lists per-destination series for at most `metricsDestinationsMax`
 * destinations, the deepest first (Prometheus advice: bound label cardinality); the others are counted in
 * `sfbroker_destination_series_omitted` and their depth summed in `sfbroker_destination_omitted_depth`, never
 * folded into counters (a sum over a changing set would not be monotonic). /status pages the store summary's
 * destination list with `?offset=&limit=` (default limit STATUS_PAGE_DEFAULT, at most STATUS_PAGE_MAX) and
 * reports the total.
 *
 * Access (#18, #15): without an authentication plugin every caller is the same anonymous operator (the listener
 * stays on 127.0.0.1 by default, and console writes need `writable`). With one, every path but /health needs
 * HTTP Basic credentials: users of `groups` (default "admins") may do everything, users of `readOnlyGroups` (and
 * of no admin group) may read but every write gets 403 ADMIN_READ_ONLY_USER, anyone else 403 ADMIN_FORBIDDEN,
 * missing or wrong credentials 401 ADMIN_UNAUTHENTICATED. The admin group replaces `writable` then: it is the
 * write permission. A verified Authorization header is remembered for ADMIN_AUTH_CACHE_MS (under a keyed hash,
 * never the password) so a polling page does not pay a password hash every request.
 */
import crypto from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { TlsContextSource } from '../net/index.ts'
import type { AdminConfig } from '../config/types.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { inspectSharedDir } from '../election/index.ts'
import type { BrokerNode } from './broker-node.ts'
import { Exposition } from './prometheus.ts'
import { ROLES } from './node-metrics.ts'
import { DEFAULTS } from '../config/index.ts'
import type { DestinationMetrics } from '../broker/types.ts'

/** Destinations per /status page unless `limit` says otherwise, and the largest `limit` accepted. */
export const STATUS_PAGE_DEFAULT = 100
export const STATUS_PAGE_MAX = 1000

/** The `metricsDestinationsMax` deepest destinations (ties by name), listed by name; and what is left out. */
export function topDestinations(
  all: readonly DestinationMetrics[],
  max: number,
): { shown: DestinationMetrics[]; omitted: number; omittedDepth: number } {
  if (all.length <= max) return { shown: [...all], omitted: 0, omittedDepth: 0 }
  const byName = (a: DestinationMetrics, b: DestinationMetrics): number =>
    a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0
  const ranked = [...all].sort((a, b) => b.depth - a.depth || byName(a, b))
  const rest = ranked.slice(max)
  return {
    shown: ranked.slice(0, max).sort(byName),
    omitted: rest.length,
    omittedDepth: rest.reduce((n, d) => n + d.depth, 0),
  }
}

/** `?offset=&limit=` of /status: whole numbers, limit 1..STATUS_PAGE_MAX; an error names the parameter and value. */
export function parsePage(url: URL): { offset: number; limit: number } | { error: string } {
  const read = (name: string, dflt: number, min: number, max: number): number | string => {
    const raw = url.searchParams.get(name)
    if (raw === null || raw === '') return dflt
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN
    if (!(n >= min && n <= max))
      return `query parameter ${name}=${JSON.stringify(raw).slice(0, 40)}: expected a whole number from ${min} to ${max}`
    return n
  }
  const offset = read('offset', 0, 0, 999_999_999)
  const limit = read('limit', STATUS_PAGE_DEFAULT, 1, STATUS_PAGE_MAX)
  if (typeof offset === 'string') return { error: offset }
  if (typeof limit === 'string') return { error: limit }
  return { offset, limit }
}

const log = logger('admin')

/** What the admin endpoint needs of src/security's Authenticator (structural, so this file does not depend on it). */
export interface AdminAuthenticator {
  authenticate(c: {
    username?: string
    password?: string
    remoteAddress: string
  }): Promise<{ user: string; groups: ReadonlySet<string> }>
}

/** Who a request is, as the console sees it: `user` null without an authentication plugin. */
export interface AdminAccess {
  user: string | null
  /** 'admin': may write (with security: a user of `groups`); 'read-only': may only read. */
  role: 'admin' | 'read-only'
  /** Whether an authentication plugin guards the listener. */
  secured: boolean
}

/** How long a verified Authorization header is trusted without checking the password again, and how many are kept. */
export const ADMIN_AUTH_CACHE_MS = 30_000
export const ADMIN_AUTH_CACHE_MAX = 64

/** Whether a subject's groups meet a group list ("*" = every authenticated user, as in the authorization map). */
function inAny(groups: ReadonlySet<string>, list: readonly string[]): string | null {
  if (list.includes('*')) return '*'
  return list.find((g) => groups.has(g)) ?? null
}

export interface AdminServerOptions {
  /** Serve HTTPS with this key material (reloaded: the listener is re-opened with the new certificate). */
  tlsSource?: TlsContextSource
  /** With security configured: every path but /health needs HTTP Basic credentials of a user in `cfg.groups`. */
  authenticator?: AdminAuthenticator
}

/** The user and password of an `Authorization: Basic …` header; null when absent or malformed. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '')
  if (!m) return null
  const text = Buffer.from(m[1], 'base64').toString('utf8')
  const colon = text.indexOf(':')
  if (colon < 0) return null
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

export class AdminServer {
  private server: http.Server | null = null
  /** The console (#18), imported on first use so a node without an admin listener never loads it. */
  private console: Promise<import('../console/index.ts').AdminConsole> | null = null

  constructor(
    private readonly node: BrokerNode,
    private readonly cfg: AdminConfig,
    private readonly opts: AdminServerOptions = {},
  ) {}

  private unsubscribeTls: (() => void) | null = null
  /** Verified Authorization headers: HMAC(key, header) -> subject and expiry. Oldest first (Map order). */
  private readonly authCache = new Map<string, { user: string; groups: ReadonlySet<string>; until: number }>()
  private readonly authCacheKey = crypto.randomBytes(32)
  private warnedWritable = false

  listen(): Promise<void> {
    const tlsSource = this.opts.tlsSource
    if (tlsSource && !this.unsubscribeTls) this.unsubscribeTls = tlsSource.onChange(() => void this.reopen())
    if (this.opts.authenticator && !tlsSource)
      log.warn(
        'admin listener: security is configured but the listener is plain HTTP: passwords cross the network in clear text; set ssl="true" on <admin>',
      )
    if (this.opts.authenticator && this.cfg.writable && !this.warnedWritable) {
      this.warnedWritable = true
      log.warn(
        `admin listener: writable / --admin-writable has no effect with an authentication plugin: console writes need a user of ${this.adminGroups().join(', ')}, and users of read-only groups never write`,
      )
    }
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.handle(req, res).catch((err: Error) => {
        log.warn(`admin ${req.method} ${req.url} failed: ${err.message}`)
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: err.message }))
      })
    }
    // Bun's https.Server has no setSecureContext: a reloaded certificate re-opens the listener (reopen()).
    const server = tlsSource
      ? (https.createServer({ ...tlsSource.material(), minVersion: 'TLSv1.2' }, handler) as unknown as http.Server)
      : http.createServer(handler)
    this.server = server
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new BrokerError(
            'CONFIG_INVALID',
            `admin listener ${this.cfg.host}:${this.cfg.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`,
            { cause: err },
          ),
        )
      })
      server.listen(this.cfg.port, this.cfg.host, () => {
        const a = server.address()
        const port = typeof a === 'object' && a ? a.port : this.cfg.port
        const access = this.opts.authenticator
          ? `, login: ${this.adminGroups().join(',')} read+write${this.cfg.readOnlyGroups?.length ? `, ${this.cfg.readOnlyGroups.join(',')} read-only` : ''}`
          : this.cfg.writable
            ? ', writable'
            : ', read-only'
        log.info(
          `admin listener on http${tlsSource ? 's' : ''}://${this.cfg.host}:${port} (/health, /status, /metrics, console at /console/${access})`,
        )
        this.adminConsole().then(
          (c) => c.api.start(this.address()),
          (e: Error) => log.warn(`console failed to load: ${e.message}`),
        )
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
    this.console?.then(
      (c) => c.api.stop(),
      () => {},
    )
    this.unsubscribeTls?.()
    this.unsubscribeTls = null
    if (!s) return Promise.resolve()
    return new Promise((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections?.()
    })
  }

  /** Re-open the listener on the same port with the reloaded certificate (existing connections are closed). */
  private async reopen(): Promise<void> {
    const bound = this.address()
    const s = this.server
    if (!s || !bound) return
    this.server = null
    await new Promise<void>((resolve) => {
      s.close(() => resolve())
      s.closeAllConnections?.()
    })
    try {
      const port = this.cfg.port
      ;(this.cfg as { port: number }).port = bound.port
      await this.listen().finally(() => ((this.cfg as { port: number }).port = port))
    } catch (e) {
      log.error(`admin listener: re-opening with the reloaded certificate failed: ${(e as Error).message}`)
    }
  }

  private adminGroups(): string[] {
    return this.cfg.groups ?? [DEFAULTS.adminGroups]
  }

  /**
   * Who the request is, or null after answering 401/403. Without an authenticator: the anonymous operator, an
   * admin when the listener is writable. With one: HTTP Basic credentials of a user of an admin group (admin) or
   * of a read-only group (read-only). Errors name the user, never the password.
   */
  private async access(req: http.IncomingMessage, res: http.ServerResponse): Promise<AdminAccess | null> {
    const auth = this.opts.authenticator
    if (!auth) return { user: null, role: this.cfg.writable ? 'admin' : 'read-only', secured: false }
    const deny = (status: 401 | 403, code: string, error: string): null => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        ...(status === 401 ? { 'www-authenticate': 'Basic realm="sfbroker", charset="UTF-8"' } : {}),
      })
      res.end(JSON.stringify({ error, code }))
      return null
    }
    const header = req.headers.authorization
    const creds = basicCredentials(header)
    if (!creds)
      return deny(
        401,
        'ADMIN_UNAUTHENTICATED',
        'authentication required: HTTP Basic with a user of an admin or read-only group',
      )
    const key = crypto.createHmac('sha256', this.authCacheKey).update(header!).digest('base64')
    const now = Date.now()
    let subject: { user: string; groups: ReadonlySet<string> }
    const hit = this.authCache.get(key)
    if (hit && hit.until > now) subject = hit
    else {
      if (hit) this.authCache.delete(key)
      try {
        subject = await auth.authenticate({ ...creds, remoteAddress: req.socket.remoteAddress ?? 'unknown' })
      } catch (e) {
        return deny(401, 'ADMIN_UNAUTHENTICATED', (e as Error).message)
      }
      if (this.authCache.size >= ADMIN_AUTH_CACHE_MAX) this.authCache.delete(this.authCache.keys().next().value!)
      this.authCache.set(key, { user: subject.user, groups: subject.groups, until: now + ADMIN_AUTH_CACHE_MS })
    }
    const admins = this.adminGroups()
    if (inAny(subject.groups, admins) !== null) return { user: subject.user, role: 'admin', secured: true }
    const readers = this.cfg.readOnlyGroups ?? []
    if (inAny(subject.groups, readers) !== null) return { user: subject.user, role: 'read-only', secured: true }
    const all = [...admins, ...readers]
    return deny(
      403,
      'ADMIN_FORBIDDEN',
      `user ${subject.user} is not in ${all.length === 1 ? 'group' : 'any of the groups'} ${all.join(', ')}`,
    )
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin')
    const access = url.pathname === '/health' ? null : await this.access(req, res)
    if (url.pathname !== '/health' && access === null) return
    if (
      url.pathname === '/' ||
      url.pathname === '/console' ||
      url.pathname.startsWith('/console/') ||
      url.pathname.startsWith('/api/')
    ) {
      return (await this.adminConsole()).handle(req, res, url, access!)
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: `method ${req.method} not allowed; use GET` }))
    }
    switch (url.pathname) {
      case '/health':
        return this.health(res)
      case '/status':
        return this.status(res, url)
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        return void res.end(this.metrics())
      default:
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(
          JSON.stringify({ error: `no such endpoint ${url.pathname}; try /health, /status, /metrics or /console/` }),
        )
    }
  }

  private adminConsole(): Promise<import('../console/index.ts').AdminConsole> {
    this.console ??= import('../console/index.ts').then((m) => new m.AdminConsole(this.node, this.cfg))
    return this.console
  }

  private health(res: http.ServerResponse): void {
    const st = this.node.status()
    const serving = st.role === 'primary' && this.node.servingParts() !== null
    res.writeHead(serving ? 200 : 503, { 'content-type': 'application/json' })
    res.end(
      JSON.stringify({
        status: serving ? 'serving' : 'not-serving',
        role: st.role,
        nodeId: st.nodeId,
        brokerName: st.brokerName,
        epoch: st.epoch,
        since: new Date(st.since).toISOString(),
      }),
    )
  }

  private async status(res: http.ServerResponse, url: URL): Promise<void> {
    const page = parsePage(url)
    if ('error' in page) {
      res.writeHead(400, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ error: page.error }))
    }
    const shared = await inspectSharedDir(this.node.config.persistence.directory)
    let out: Record<string, unknown> = { ...shared }
    const store = shared.store as (typeof shared.store & { destinations?: unknown[] }) | null | undefined
    if (store && Array.isArray(store.destinations)) {
      const all = store.destinations
      out = {
        ...out,
        store: {
          ...store,
          destinations: all.slice(page.offset, page.offset + page.limit),
          destinationsPage: { offset: page.offset, limit: page.limit, total: all.length },
        },
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ ...out, node: { ...this.node.status(), election: this.node.electionStatus() } }, null, 2))
  }

  metrics(): string {
    const x = new Exposition()
    const m = this.node.metrics
    const st = this.node.status()
    const labels = { broker: st.brokerName, node: st.nodeId }
    for (const r of ROLES)
      x.sample(
        'sfbroker_role',
        'gauge',
        'Current election role of this node (1 for the current role).',
        r === st.role ? 1 : 0,
        { ...labels, role: r },
      )
    x.sample('sfbroker_epoch', 'gauge', 'Epoch this node serves under (0 when not primary).', st.epoch ?? 0, labels)
    x.sample('sfbroker_takeovers_total', 'counter', 'Times this node became primary.', m.takeovers, labels)
    x.sample('sfbroker_step_downs_total', 'counter', 'Times this node stepped down from primary.', m.stepDowns, labels)
    x.sample(
      'sfbroker_last_takeover_ms',
      'gauge',
      'Duration of the last takeover (lock acquired to connectors open), ms; -1 if none.',
      m.lastTakeoverMs ?? -1,
      labels,
    )
    const el = this.node.electionStatus()
    x.sample(
      'sfbroker_lock_keepalive_latency_ms',
      'gauge',
      'Duration of the last lock keep-alive check, ms; -1 if none.',
      el.keepAliveLatencyMs ?? -1,
      labels,
    )
    const parts = this.node.servingParts()
    x.sample(
      'sfbroker_connections',
      'gauge',
      'Open client connections over all connectors.',
      parts ? parts.servers.reduce((a, s) => a + s.connections(), 0) : 0,
      labels,
    )
    const sec = this.node.security.stats()
    x.sample(
      'sfbroker_auth_successes_total',
      'counter',
      'Logins accepted by the authentication plugin.',
      sec.authSuccesses,
      labels,
    )
    x.sample(
      'sfbroker_auth_failures_total',
      'counter',
      'Logins refused (wrong user name or password).',
      sec.authFailures,
      labels,
    )
    x.sample(
      'sfbroker_authorization_denials_total',
      'counter',
      'Operations refused by the authorization map.',
      sec.authorizationDenials,
      labels,
    )
    x.sample(
      'sfbroker_auth_backoff_addresses',
      'gauge',
      'Client addresses with recent failed logins (answers to them are delayed).',
      sec.backoffAddresses,
      labels,
    )
    x.sample(
      'sfbroker_pending_connections',
      'gauge',
      'Client sockets that have not completed CONNECT yet (the pre-CONNECT budget in use).',
      parts ? parts.servers.reduce((a, s) => a + s.pendingConnections(), 0) : 0,
      labels,
    )
    x.family('sfbroker_destination_enqueued_total', 'counter', 'Messages enqueued per destination.')
    x.family('sfbroker_destination_dequeued_total', 'counter', 'Messages dequeued (acknowledged) per destination.')
    x.family('sfbroker_destination_depth', 'gauge', 'Messages waiting per destination.')
    x.family('sfbroker_destination_consumers', 'gauge', 'Consumers per destination.')
    x.family('sfbroker_destination_expired_total', 'counter', 'Messages expired per destination.')
    if (parts) {
      const bm = parts.broker.metrics()
      x.sample('sfbroker_memory_bytes', 'gauge', 'Message bytes held in memory.', bm.memoryBytes, labels)
      x.sample(
        'sfbroker_memory_limit_bytes',
        'gauge',
        'Broker-wide memory limit for messages.',
        bm.memoryLimitBytes,
        labels,
      )
      const top = topDestinations(bm.destinations, this.cfg.metricsDestinationsMax ?? DEFAULTS.metricsDestinationsMax)
      x.sample(
        'sfbroker_destinations',
        'gauge',
        'Destinations (queues and topics) the broker holds.',
        bm.destinations.length,
        labels,
      )
      x.sample(
        'sfbroker_destination_series_omitted',
        'gauge',
        'Destinations left out of the per-destination series (past metricsDestinationsMax, shallowest first).',
        top.omitted,
        labels,
      )
      x.sample(
        'sfbroker_destination_omitted_depth',
        'gauge',
        'Messages waiting in the destinations left out of the per-destination series.',
        top.omittedDepth,
        labels,
      )
      for (const d of top.shown) {
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
        x.sample(
          'sfbroker_store_syncs_total',
          'counter',
          'fsync/fdatasync calls by the message store.',
          ss.syncs,
          labels,
        )
        x.histogram(
          'sfbroker_store_fsync_latency_ms',
          'Latency of message store syncs, ms.',
          ss.syncLatencyMs,
          ss.syncLatencySumMs,
          labels,
        )
      }
      if (parts.scheduler) {
        const sc = parts.scheduler.stats()
        x.sample('sfbroker_scheduler_jobs', 'gauge', 'Scheduled jobs waiting.', sc.jobs, labels)
        x.sample(
          'sfbroker_scheduler_next_due_timestamp_ms',
          'gauge',
          'When the next scheduled job is due (epoch ms); -1 if none.',
          sc.nextDueAt ?? -1,
          labels,
        )
      }
    }
    return x.toString()
  }
}
