/**
 * The admin console (#18): a page for the whole HA group, served by the admin listener of every node at
 * `/console/`, over the JSON API at `/api/...` (./api.ts). The admin server imports this module only when an
 * admin listener is configured and started, so a broker without one loads none of it. The page is three static
 * assets embedded as strings (page-assets.ts, app-script.ts): no CDN, no build step, same bytes on Bun and Deno.
 */
import type http from 'node:http'
import type { AdminConfig } from '../config/index.ts'
import type { AdminAccess, BrokerNode } from '../node/index.ts'
import { ConsoleApi } from './api.ts'
import { APP_CSS, INDEX_HTML } from './page-assets.ts'
import { APP_JS } from './app-script.ts'

export { ConsoleApi, CSRF_HEADER, ADMIN_BODY_BYTES_MAX } from './api.ts'

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

const ASSETS: Record<string, { type: string; body: string }> = {
  '/console/': { type: 'text/html; charset=utf-8', body: INDEX_HTML },
  '/console/app.js': { type: 'text/javascript; charset=utf-8', body: APP_JS },
  '/console/app.css': { type: 'text/css; charset=utf-8', body: APP_CSS },
}

export class AdminConsole {
  readonly api: ConsoleApi

  constructor(node: BrokerNode, cfg: AdminConfig) {
    this.api = new ConsoleApi(node, cfg)
  }

  /** True for the paths the console answers: `/`, `/console...`, `/api/...`. */
  static owns(pathname: string): boolean {
    return (
      pathname === '/' || pathname === '/console' || pathname.startsWith('/console/') || pathname.startsWith('/api/')
    )
  }

  /** `access`: who the admin listener found the caller to be (it has answered 401/403 already when nobody). */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL, access: AdminAccess): Promise<void> {
    if (url.pathname.startsWith('/api/')) return this.api.handle(req, res, url, access)
    if (url.pathname === '/' || url.pathname === '/console') {
      res.writeHead(302, { location: '/console/', ...SECURITY_HEADERS })
      return void res.end()
    }
    const a = ASSETS[url.pathname === '/console/index.html' ? '/console/' : url.pathname]
    if (!a || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(a ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS })
      return void res.end(a ? 'use GET\n' : 'not found\n')
    }
    res.writeHead(200, { 'content-type': a.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS })
    res.end(req.method === 'HEAD' ? undefined : a.body)
  }
}
