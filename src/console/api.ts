/**
 * The console's JSON API under the admin listener (`/api/...`), the single way in for the page and for scripts
 * (README "Console API"). Reads work on every node: the group view comes from the shared directory, the same model
 * as `sfbroker status --json`; broker views need a serving primary (409 ADMIN_NOT_PRIMARY elsewhere). Writes are
 * POST or DELETE and pass the guard first: the `x-sfbroker-csrf` header must carry this process's token (served
 * by GET /api/node, which another origin cannot read), a present Origin must be this listener's own, and the
 * caller must be allowed to write: with an authentication plugin, a user of an admin group (the admin listener
 * checked the credentials; a read-only user gets 403 ADMIN_READ_ONLY_USER before anything else); without one, the
 * listener must be writable (`--admin-writable`). The CSRF guard stays with authentication on: a browser sends
 * Basic credentials by itself, so a foreign page could otherwise make a logged-in operator's browser write.
 *
 * Owns the endpoints, the order a write passes (guard, body, primary check, audit line) and the broker views' JSON;
 * matching is api-router.ts's, the message endpoints' JSON message-requests.ts's, the views read from the shared
 * directory shared-dir-views.ts's. The operations themselves are BrokerManagement's.
 */
import crypto from 'node:crypto'
import type http from 'node:http'
import type { AdminConfig } from '../config/index.ts'
import { isBrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { DEFAULTS } from '../config/index.ts'
import { BrokerManagement, parseDestination } from '../broker/index.ts'
import type { AdminAccess, BrokerNode } from '../node/index.ts'
import { RATE_SAMPLE_MS, RateSampler } from './rates.ts'
import { ApiError, CSRF_HEADER, readJson, statusOf, writeGuard } from './api-http.ts'
import { ApiRouter, type Handler } from './api-router.ts'
import { browsedView, moveRequest, sendRequestMessage } from './message-requests.ts'
import { announceConsole, consoleUrl, groupView, storeView } from './shared-dir-views.ts'

export { ADMIN_BODY_BYTES_MAX, ApiError, CSRF_HEADER } from './api-http.ts'

const log = logger('console')

/** Scheduled jobs listed by GET /api/scheduler unless `limit` says otherwise, and the largest `limit`. */
export const JOBS_PAGE_DEFAULT = 200
export const JOBS_PAGE_MAX = 1000

export class ConsoleApi {
  readonly token = crypto.randomBytes(16).toString('hex')
  private readonly rates = new RateSampler()
  private timer: ReturnType<typeof setInterval> | null = null
  private readonly router = new ApiRouter()
  private adminUrl: string | null = null

  constructor(
    private readonly node: BrokerNode,
    private readonly cfg: AdminConfig,
  ) {
    const r = (method: string, pattern: string, run: Handler): void => this.router.add(method, pattern, run)
    r('GET', 'api/node', (m) => this.nodeView(m.access))
    r('GET', 'api/group', () => groupView(this.node))
    r('GET', 'api/destinations', () => this.destinations())
    r('GET', 'api/destinations/:d/messages', async (m) =>
      browsedView(
        await this.mgmt().browse(m.params[0]!, this.intParam(m.url, 'offset', 0), this.intParam(m.url, 'limit', 25)),
      ),
    )
    r('POST', 'api/destinations/:d/messages', (m) => this.send(m.params[0]!, m.body))
    r('DELETE', 'api/destinations/:d/messages/:id', async (m) => {
      if (!(await this.mgmt().deleteMessage(m.params[0]!, m.params[1]!)))
        throw new ApiError(
          404,
          'ADMIN_NOT_FOUND',
          `no waiting message ${JSON.stringify(m.params[1])} in ${m.params[0]} (consumed, in flight, or never there)`,
        )
      return { deleted: 1 }
    })
    r('POST', 'api/destinations/:d/purge', async (m) => ({ purged: await this.mgmt().purge(m.params[0]!) }))
    r('POST', 'api/destinations/:d/move', (m) => this.move(m.params[0]!, m.body))
    r('DELETE', 'api/destinations/:d', (m) => {
      this.mgmt().removeDestination(m.params[0]!)
      return { deleted: m.params[0] }
    })
    r('GET', 'api/connections', () => this.connections())
    r('DELETE', 'api/connections/:id', (m) => this.closeConnection(m.params[0]!))
    r('GET', 'api/scheduler', (m) => this.jobs(m.url))
    r('DELETE', 'api/scheduler/jobs', async () => (await this.mgmt().removeJobs(null), { removed: 'all' }))
    r(
      'DELETE',
      'api/scheduler/jobs/:id',
      async (m) => (await this.mgmt().removeJobs(m.params[0]!), { removed: m.params[0] }),
    )
    r('GET', 'api/store', () => storeView(this.node))
  }

  /** Start sampling rates and announce this console's address in the shared directory. */
  start(address: { host: string; port: number } | null): void {
    if (this.timer) return
    this.timer = setInterval(() => this.sample(), RATE_SAMPLE_MS)
    this.timer.unref?.()
    this.sample()
    if (address) {
      this.adminUrl = consoleUrl(address)
      announceConsole(this.node, this.adminUrl)
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  private sample(): void {
    const parts = this.node.servingParts()
    if (!parts) return this.rates.clear()
    this.rates.sample(parts.broker.metrics().destinations, Date.now())
  }

  /** Answer one /api request. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL, access: AdminAccess): Promise<void> {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      })
      res.end(JSON.stringify(body))
    }
    try {
      const { route, params } = this.router.match(req, res, url)
      let body: Record<string, unknown> = {}
      if (route.write) {
        writeGuard(req, access, this.cfg, this.token)
        body = await readJson(req)
        this.needPrimary()
      }
      const out = await route.run({ params, url, body, access })
      if (route.write)
        log.info(
          `console: ${req.method} ${url.pathname} by ${access.user === null ? '' : `user ${JSON.stringify(access.user)} from `}${req.socket.remoteAddress ?? '?'}`,
        )
      send(200, out)
    } catch (e) {
      if (e instanceof ApiError) return send(e.status, { error: e.message, code: e.code, ...e.extra })
      if (isBrokerError(e)) return send(statusOf(e.code), { error: e.message, code: e.code })
      throw e
    }
  }

  private needPrimary(): NonNullable<ReturnType<BrokerNode['servingParts']>> {
    const parts = this.node.servingParts()
    if (!parts)
      throw new ApiError(
        409,
        'ADMIN_NOT_PRIMARY',
        `this node is ${this.node.status().role}, not a serving primary; use the primary's console`,
        { role: this.node.status().role },
      )
    return parts
  }

  private mgmt(): BrokerManagement {
    const p = this.needPrimary()
    return new BrokerManagement(p.broker, p.scheduler)
  }

  private intParam(url: URL, name: string, dflt: number): number {
    const raw = url.searchParams.get(name)
    if (raw === null || raw === '') return dflt
    if (!/^\d{1,9}$/.test(raw))
      throw new ApiError(
        400,
        'ADMIN_BAD_REQUEST',
        `query parameter ${name}=${JSON.stringify(raw.slice(0, 40))}: expected a whole number`,
      )
    return Number(raw)
  }

  /** This node, and the caller: `writable` says whether this caller may change state here (role admin). */
  private nodeView(access: AdminAccess): unknown {
    const st = this.node.status()
    const admin = access.role === 'admin'
    return {
      ...st,
      version: VERSION,
      writable: admin,
      csrfToken: this.token,
      csrfHeader: CSRF_HEADER,
      auth: {
        enabled: access.secured,
        user: access.user,
        role: access.role,
        readOnly: !admin,
        adminGroups: access.secured ? (this.cfg.groups ?? [DEFAULTS.adminGroups]) : [],
      },
      serving: this.node.servingParts() !== null,
      consoleUrl: this.adminUrl,
    }
  }

  /** Scheduled jobs in due order with their next due time (Scheduler.list, no message round trip), `?limit=`. */
  private jobs(url: URL): unknown {
    const parts = this.needPrimary()
    const limit = this.intParam(url, 'limit', JOBS_PAGE_DEFAULT)
    if (limit < 1 || limit > JOBS_PAGE_MAX)
      throw new ApiError(
        400,
        'ADMIN_BAD_REQUEST',
        `query parameter limit=${limit}: expected a whole number from 1 to ${JOBS_PAGE_MAX}`,
      )
    if (!parts.scheduler) return { jobs: [], total: 0, nextDueAt: null, disabled: true }
    const { jobs, total } = parts.scheduler.list(limit)
    return { jobs, total, nextDueAt: parts.scheduler.stats().nextDueAt, now: Date.now(), disabled: false }
  }

  private destinations(): unknown {
    const parts = this.needPrimary()
    const m = parts.broker.metrics()
    return {
      memoryBytes: m.memoryBytes,
      memoryLimitBytes: m.memoryLimitBytes,
      sampleMs: RATE_SAMPLE_MS,
      destinations: m.destinations.map((d) => {
        const kind = parseDestination(d.destination).kind
        const r = this.rates.rates(d.destination)
        const last = (a: number[]): number => (a.length ? a[a.length - 1]! : 0)
        return {
          ...d,
          kind,
          memoryBytes: parts.broker.destinationMemoryBytes(d.destination),
          rates: r,
          enqueueRate: last(r.enqueue),
          dequeueRate: last(r.dequeue),
        }
      }),
    }
  }

  private async send(destination: string, body: Record<string, unknown>): Promise<unknown> {
    const message = sendRequestMessage(destination, body)
    const headers = body.headers as Record<string, unknown> | undefined
    await this.mgmt().send(message, headers?.timestamp === undefined)
    return { sent: destination }
  }

  private async move(from: string, body: Record<string, unknown>): Promise<unknown> {
    const { to, ids, copy } = moveRequest(body)
    const n = await this.mgmt().move(from, to, ids, copy)
    return copy ? { copied: n, to } : { moved: n, to }
  }

  private connections(): unknown {
    const parts = this.needPrimary()
    const mgmt = new BrokerManagement(parts.broker, parts.scheduler)
    const versions = new Map<string, string>()
    for (const s of parts.servers) for (const c of s.connectedSessions()) versions.set(c.session.sessionId, c.version)
    return {
      // Counted by the connectors: MQTT clients are counted here whether or not they hold a broker session.
      counts: this.node.status().connectors.map((c) => ({ name: c.name, transport: c.transport, ...c.byProtocol })),
      connections: mgmt.sessions().map((s) => ({
        ...s,
        protocolVersion: versions.get(s.sessionId) ?? null,
        closable: versions.has(s.sessionId),
      })),
    }
  }

  private closeConnection(sessionId: string): unknown {
    const parts = this.needPrimary()
    for (const s of parts.servers)
      if (s.closeSession(sessionId, 'connection closed by an operator from the admin console'))
        return { closed: sessionId }
    throw new ApiError(404, 'ADMIN_NOT_FOUND', `no client connection with session ${JSON.stringify(sessionId)}`)
  }
}
