/**
 * The console API's route table: `GET api/destinations/:d/messages` style patterns, matched by segment count and
 * literal segments; HEAD answers as GET. Finding no endpoint is 404 ADMIN_NOT_FOUND, a known path with another
 * method 405 ADMIN_METHOD (with `allow`), a bad percent-encoding 400 ADMIN_BAD_REQUEST. Owns matching only; the
 * guard, the body and the answer are api.ts's.
 */
import type http from 'node:http'
import type { AdminAccess } from '../node/index.ts'
import { ApiError } from './api-http.ts'

export type Handler = (m: Match) => Promise<unknown> | unknown
export interface Match {
  params: string[]
  url: URL
  body: Record<string, unknown>
  access: AdminAccess
}
export interface Route {
  method: string
  parts: string[]
  /** Anything but GET changes state: it passes the write guard and needs a serving primary. */
  write: boolean
  run: Handler
}

export class ApiRouter {
  private readonly routes: Route[] = []

  add(method: string, pattern: string, run: Handler): void {
    this.routes.push({ method, parts: pattern.split('/').filter(Boolean), write: method !== 'GET', run })
  }

  /** The route for `req` at `url` and its `:param` values; throws ApiError (sets `allow` on `res` for a 405). */
  match(req: http.IncomingMessage, res: http.ServerResponse, url: URL): { route: Route; params: string[] } {
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
    return { route, params }
  }
}
