/**
 * The admin HTTP listener (off unless configured): /health for readiness probes (200 only on a serving
 * primary, 503 with the role otherwise), /status (the shared directory as `sfbroker status --json` sees it,
 * plus this node's own view) and /metrics (Prometheus text). It runs on replicas too: it is not a client
 * connector, so operators and orchestrators can see every node.
 *
 * Bounded output (issue 19): /metrics (admin-metrics.ts) lists per-destination series for at most
 * `metricsDestinationsMax` destinations, the deepest first (Prometheus advice: bound label cardinality); the
 * others are counted in `sfbroker_destination_series_omitted` and their depth summed in
 * `sfbroker_destination_omitted_depth`, never folded into counters (a sum over a changing set would not be
 * monotonic). /status pages the store summary's destination list with `?offset=&limit=` (default limit
 * STATUS_PAGE_DEFAULT, at most STATUS_PAGE_MAX) and reports the total.
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
import type { AdminConfig } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { inspectSharedDir } from '../election/index.ts'
import type { BrokerNode } from './broker-node.ts'
import { parsePage, renderMetrics } from './admin-metrics.ts'
import { DEFAULTS } from '../config/index.ts'

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
        return void res.end(renderMetrics(this.node, this.cfg))
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
}
