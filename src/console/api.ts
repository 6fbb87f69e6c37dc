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
 * Owns request parsing, the guard and the JSON shapes; the operations themselves are BrokerManagement's.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type http from 'node:http'
import type { AdminConfig } from '../config/index.ts'
import { isBrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { DEFAULTS } from '../config/index.ts'
import { inspectSharedDir } from '../election/index.ts'
import { BrokerManagement, type BrowsedMessage, parseDestination } from '../broker/index.ts'
import { propertyAsString } from '../model/index.ts'
import { fromStompSend, toStompHeaders } from '../protocol/stomp/index.ts'
import type { AdminAccess, BrokerNode } from '../node/index.ts'
import { RATE_SAMPLE_MS, RateSampler } from './rates.ts'
import { listFiles } from './store-files.ts'
import { ApiError, CSRF_HEADER, readJson, statusOf, writeGuard } from './api-http.ts'

export { ADMIN_BODY_BYTES_MAX, ApiError, CSRF_HEADER } from './api-http.ts'

const log = logger('console')

/** Scheduled jobs listed by GET /api/scheduler unless `limit` says otherwise, and the largest `limit`. */
export const JOBS_PAGE_DEFAULT = 200
export const JOBS_PAGE_MAX = 1000
/** Where each node leaves its console address for the others, under the shared directory. */
export const CONSOLE_DIR = 'console'

type Handler = (m: Match) => Promise<unknown> | unknown
interface Match {
  params: string[]
  url: URL
  body: Record<string, unknown>
  access: AdminAccess
}
interface Route {
  method: string
  parts: string[]
  write: boolean
  run: Handler
}

export class ConsoleApi {
  readonly token = crypto.randomBytes(16).toString('hex')
  private readonly rates = new RateSampler()
  private timer: ReturnType<typeof setInterval> | null = null
  private readonly routes: Route[] = []
  private adminUrl: string | null = null

  constructor(
    private readonly node: BrokerNode,
    private readonly cfg: AdminConfig,
  ) {
    const r = (method: string, pattern: string, run: Handler): void => {
      this.routes.push({ method, parts: pattern.split('/').filter(Boolean), write: method !== 'GET', run })
    }
    r('GET', 'api/node', (m) => this.nodeView(m.access))
    r('GET', 'api/group', () => this.group())
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
    r('GET', 'api/store', () => this.store())
  }

  /** Start sampling rates and announce this console's address in the shared directory. */
  start(address: { host: string; port: number } | null): void {
    if (this.timer) return
    this.timer = setInterval(() => this.sample(), RATE_SAMPLE_MS)
    this.timer.unref?.()
    this.sample()
    if (address) {
      const host =
        address.host === '0.0.0.0' || address.host === '::'
          ? os.hostname()
          : address.host.includes(':')
            ? `[${address.host}]`
            : address.host
      this.adminUrl = `http://${host}:${address.port}/console/`
      const dir = path.join(this.node.config.persistence.directory, CONSOLE_DIR)
      // Never awaited: a hung share must not hold the admin listener; a failure only loses the replica's link.
      fs.promises
        .mkdir(dir, { recursive: true })
        .then(() =>
          fs.promises.writeFile(
            path.join(dir, `${this.node.nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`),
            JSON.stringify({ nodeId: this.node.nodeId, url: this.adminUrl, updatedAt: Date.now() }),
          ),
        )
        .catch((e: Error) => log.debug(`console address not written to the shared directory: ${e.message}`))
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
      const segs = url.pathname
        .split('/')
        .filter(Boolean)
        .map((s) => {
          try {
            return decodeURIComponent(s)
          } catch {
            throw new ApiError(
              400,
              'ADMIN_BAD_REQUEST',
              `path segment ${JSON.stringify(s.slice(0, 60))} is not valid percent-encoding`,
            )
          }
        })
      const candidates = this.routes.filter(
        (r) => r.parts.length === segs.length && r.parts.every((p, i) => p.startsWith(':') || p === segs[i]),
      )
      if (candidates.length === 0)
        throw new ApiError(
          404,
          'ADMIN_NOT_FOUND',
          `no such endpoint ${url.pathname}; see the README, section Console API`,
        )
      const route = candidates.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'))
      if (!route) {
        res.setHeader('allow', candidates.map((r) => r.method).join(', '))
        throw new ApiError(
          405,
          'ADMIN_METHOD',
          `method ${req.method} not allowed on ${url.pathname}; use ${candidates.map((r) => r.method).join(' or ')}`,
        )
      }
      const params = route.parts.flatMap((p, i) => (p.startsWith(':') ? [segs[i]!] : []))
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

  private async group(): Promise<unknown> {
    const report = await inspectSharedDir(this.node.config.persistence.directory)
    const consoles: Record<string, string> = {}
    try {
      const dir = path.join(this.node.config.persistence.directory, CONSOLE_DIR)
      for (const f of (await fs.promises.readdir(dir)).slice(0, 100)) {
        if (!f.endsWith('.json')) continue
        try {
          const o = JSON.parse(await fs.promises.readFile(path.join(dir, f), 'utf8')) as {
            nodeId?: string
            url?: string
          }
          if (typeof o.nodeId === 'string' && typeof o.url === 'string') consoles[o.nodeId] = o.url
        } catch {
          // A half-written or foreign file: no link for that node.
        }
      }
    } catch {
      // No console has announced itself yet.
    }
    const holder = report.holder
    const { store: _store, ...rest } = report
    return {
      ...rest,
      store: report.store
        ? {
            adapter: report.store.adapter,
            bytes: report.store.bytes,
            messages: report.store.messages,
            destinations: report.store.destinations.length,
            ageMs: report.store.ageMs,
            updatedAt: report.store.updatedAt,
          }
        : null,
      self: { nodeId: this.node.nodeId, role: this.node.status().role },
      primaryConsole: report.primary && holder ? (consoles[holder.nodeId] ?? null) : null,
      consoles,
      probeLock: report.probeLock,
    }
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
    const headers: Record<string, string> = {}
    if (body.headers !== undefined) {
      if (typeof body.headers !== 'object' || body.headers === null || Array.isArray(body.headers))
        throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'headers: expected an object of string values')
      for (const [k, v] of Object.entries(body.headers)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
          throw new ApiError(400, 'ADMIN_BAD_REQUEST', `headers.${k}: expected a string`)
        headers[k] = String(v)
      }
    }
    if (body.persistent !== undefined) headers.persistent = body.persistent === true ? 'true' : 'false'
    if (body.delayMs !== undefined && body.delayMs !== null && body.delayMs !== 0) {
      if (typeof body.delayMs !== 'number' || !Number.isSafeInteger(body.delayMs) || body.delayMs < 0)
        throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'delayMs: expected a whole number of milliseconds')
      headers.AMQ_SCHEDULED_DELAY = String(body.delayMs)
    }
    if (body.body !== undefined && typeof body.body !== 'string')
      throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'body: expected a string')
    parseDestination(destination, 'destination')
    // The console's headers are STOMP SEND headers: the STOMP mapping makes the message (messageId '' → broker id).
    const message = fromStompSend(
      destination,
      headers,
      new TextEncoder().encode((body.body as string | undefined) ?? ''),
      {
        nowMs: Date.now(),
        newMessageId: () => '',
      },
    )
    await this.mgmt().send(message)
    return { sent: destination }
  }

  private async move(from: string, body: Record<string, unknown>): Promise<unknown> {
    const to = body.to
    if (typeof to !== 'string')
      throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'to: expected the target queue, e.g. "/queue/ORDERS"')
    let ids: string[] | null = null
    if (body.ids !== undefined && body.ids !== null) {
      if (!Array.isArray(body.ids) || !body.ids.every((x) => typeof x === 'string'))
        throw new ApiError(400, 'ADMIN_BAD_REQUEST', 'ids: expected an array of message ids, or nothing for all')
      ids = body.ids as string[]
    }
    const copy = body.copy === true
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

  private async store(): Promise<unknown> {
    const parts = this.node.servingParts()
    const report = await inspectSharedDir(this.node.config.persistence.directory)
    const summary = report.store
    const live = parts?.store ? parts.store.stats() : null
    const files = live ? await listFiles(live.directory) : []
    const newest = files.reduce((a, f) => Math.max(a, f.modifiedAt), 0)
    return {
      adapter: live?.adapter ?? summary?.adapter ?? this.node.config.persistence.adapter,
      live: live
        ? {
            directory: live.directory,
            bytes: live.bytes,
            messages: live.messages,
            destinations: live.destinations.length,
            syncs: live.syncs,
            integrity: live.integrity ?? null,
          }
        : null,
      files,
      lastWriteAt: newest || null,
      summary: summary
        ? {
            bytes: summary.bytes,
            messages: summary.messages,
            updatedAt: summary.updatedAt,
            ageMs: summary.ageMs,
            integrity: summary.integrity ?? null,
            scheduler: summary.scheduler,
          }
        : null,
      scheduler: parts?.scheduler ? parts.scheduler.stats() : null,
      warnings: report.warnings,
    }
  }
}

/**
 * A browse page as the JSON API shows it: each message's `headers` as 0.1.0 showed them (its STOMP MESSAGE
 * headers) plus `properties` with their JMS types; the CoreMessage itself (Map, bytes) is not JSON.
 */
function browsedView<T extends { messages: BrowsedMessage[] }>(page: T): unknown {
  return {
    ...page,
    messages: page.messages.map(({ message, ...rest }) => ({
      ...rest,
      headers: toStompHeaders(message),
      properties: [...message.properties].map(([name, p]) => ({ name, type: p.type, value: propertyAsString(p) })),
    })),
  }
}
