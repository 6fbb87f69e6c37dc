/**
 * The console API's HTTP edge, apart from its routes: the error a handler throws (ApiError) and the status a
 * BrokerError maps to, the bounded JSON body reader, and the guard every write passes (read-only user, CSRF token,
 * Origin and Sec-Fetch-Site, the writable switch; why each exists is in api.ts's header).
 */
import crypto from 'node:crypto'
import type http from 'node:http'
import type { AdminConfig } from '../config/index.ts'
import { DEFAULTS } from '../config/index.ts'
import type { AdminAccess } from '../node/index.ts'

/** Largest request body accepted, bytes (a sent message body included). */
export const ADMIN_BODY_BYTES_MAX = 1024 * 1024
/** The header a write must carry, with the token from GET /api/node. */
export const CSRF_HEADER = 'x-sfbroker-csrf'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

/** How BrokerErrors map onto HTTP statuses. */
export function statusOf(code: string): number {
  if (code === 'BROKER_LIMIT') return 400
  if (code.endsWith('_INVALID')) return 400
  if (code === 'BROKER_STOPPED') return 409
  return 500
}

/** A read-only user first (whatever the token); then the CSRF guard; then, without authentication, the writable switch. */
export function writeGuard(req: http.IncomingMessage, access: AdminAccess, cfg: AdminConfig, expected: string): void {
  if (access.secured && access.role !== 'admin') {
    const admins = cfg.groups ?? [DEFAULTS.adminGroups]
    throw new ApiError(
      403,
      'ADMIN_READ_ONLY_USER',
      `user ${access.user} may only read; changes need a user of ${admins.length === 1 ? 'group' : 'one of the groups'} ${admins.join(', ')}`,
    )
  }
  const token = req.headers[CSRF_HEADER]
  if (
    typeof token !== 'string' ||
    token.length !== expected.length ||
    !crypto.timingSafeEqual(Buffer.from(token), Buffer.from(expected))
  ) {
    throw new ApiError(403, 'ADMIN_CSRF', `a write needs the ${CSRF_HEADER} header with the token from GET /api/node`)
  }
  const origin = req.headers.origin
  if (
    origin !== undefined &&
    origin !== 'null' &&
    origin !== `http://${req.headers.host}` &&
    origin !== `https://${req.headers.host}`
  ) {
    throw new ApiError(
      403,
      'ADMIN_CSRF',
      `cross-origin write refused (Origin ${origin.slice(0, 100)}, listener ${req.headers.host})`,
    )
  }
  const site = req.headers['sec-fetch-site']
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none')
    throw new ApiError(403, 'ADMIN_CSRF', `cross-site write refused (Sec-Fetch-Site ${site})`)
  if (!access.secured && !cfg.writable)
    throw new ApiError(
      403,
      'ADMIN_READ_ONLY',
      'this admin listener is read-only; start the broker with --admin-writable (or <admin writable="true">) to allow changes',
    )
}

/** The request body as a JSON object ({} when empty); bounded by ADMIN_BODY_BYTES_MAX. */
export function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let n = 0
    req.on('data', (c: Buffer) => {
      n += c.length
      if (n > ADMIN_BODY_BYTES_MAX) {
        reject(new ApiError(413, 'ADMIN_BAD_REQUEST', `request body over ${ADMIN_BODY_BYTES_MAX} bytes`))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim()
      if (text === '') return resolve({})
      try {
        const v = JSON.parse(text) as unknown
        if (typeof v !== 'object' || v === null || Array.isArray(v))
          return reject(new ApiError(400, 'ADMIN_BAD_REQUEST', 'request body: expected a JSON object'))
        resolve(v as Record<string, unknown>)
      } catch (e) {
        reject(new ApiError(400, 'ADMIN_BAD_REQUEST', `request body: not JSON (${(e as Error).message.slice(0, 80)})`))
      }
    })
  })
}
