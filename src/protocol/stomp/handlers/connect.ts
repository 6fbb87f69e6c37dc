/**
 * CONNECT and STOMP: version and heart-beat negotiation, login through the authenticator (async), then the
 * session and the CONNECTED frame. Frames pipelined behind the CONNECT wait unparsed until it is decided.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { excerpt } from '../../../lib/excerpt.ts'
import { logger } from '../../../lib/log.ts'
import type { BrokerSession, ConnectInfo } from '../../../broker/types.ts'
import type { Authenticator, Subject } from '../../../security/index.ts'
import { encodeFrame } from '../frame-encoder.ts'
import { SUPPORTED_VERSIONS, type StompFrame, type StompVersion } from '../frame.ts'
import { negotiateHeartBeat, type HeartBeatOptions, type HeartBeatPlan } from '../heart-beat.ts'

const log = logger('stomp')

/** What CONNECT needs of its connection (before a session exists). */
export interface ConnectContext {
  readonly id: string
  readonly remoteAddress: string
  /** The socket's own remote address, if known (handed to the authenticator). */
  readonly peerAddress: string | undefined
  readonly serverName: string
  readonly heartBeat: HeartBeatOptions
  readonly authenticator: Authenticator | null
  /** Still waiting for CONNECT (not failed nor closed meanwhile). */
  awaitingConnect(): boolean
  /** Stop parsing input (what arrives waits, in order) until resumeReading(). */
  pauseReading(): void
  resumeReading(): void
  /** ERROR (with receipt-id when asked), then close. */
  fail(err: unknown, frame: StompFrame): void
  /** Open the broker session; it becomes the connection's session. */
  openSession(info: ConnectInfo): BrokerSession
  /** The connection is connected with this version (parser, state, connect timer). */
  connected(version: StompVersion): void
  write(bytes: Buffer): void
  startHeartBeat(plan: HeartBeatPlan): void
}

export function handleConnect(ctx: ConnectContext, frame: StompFrame): void {
  const h = frame.headers
  const accepted = h['accept-version'] === undefined ? ['1.0'] : h['accept-version'].split(',').map((v) => v.trim())
  const version = SUPPORTED_VERSIONS.find((v) => accepted.includes(v))
  if (!version) {
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `CONNECT accept-version: ${excerpt(h['accept-version'] ?? '')} names no supported version, expected one of ${SUPPORTED_VERSIONS.join(',')}`,
      {
        details: { errorHeaders: { version: SUPPORTED_VERSIONS.join(',') } },
      },
    )
  }
  const hb = negotiateHeartBeat(h['heart-beat'], ctx.heartBeat)
  const auth = ctx.authenticator
  if (!auth) return completeConnect(ctx, frame, version, hb, null)
  // Security (src/security) decides asynchronously (password hash, login backoff): frames pipelined behind the
  // CONNECT wait unparsed in pendingInput until it has. A failed login is ActiveMQ's ERROR, then close.
  ctx.pauseReading()
  auth
    .authenticate({
      username: h.login,
      password: h.passcode,
      remoteAddress: ctx.peerAddress ?? ctx.remoteAddress,
    })
    .then(
      (subject) => {
        if (!ctx.awaitingConnect()) return
        try {
          completeConnect(ctx, frame, version, hb, subject)
        } catch (err) {
          return ctx.fail(err, frame)
        }
        ctx.resumeReading()
      },
      (err: unknown) => {
        if (ctx.awaitingConnect()) ctx.fail(err, frame)
      },
    )
}

function completeConnect(
  ctx: ConnectContext,
  frame: StompFrame,
  version: StompVersion,
  hb: HeartBeatPlan,
  subject: Subject | null,
): void {
  const h = frame.headers
  const clientId = h['client-id'] || undefined
  const session = ctx.openSession({
    clientId,
    login: h.login || undefined,
    remoteAddress: ctx.remoteAddress,
    protocol: 'stomp',
    subject,
  })
  ctx.connected(version)
  const headers: Array<[string, string]> = [
    ['version', version],
    ['session', session.sessionId],
    ['server', ctx.serverName],
    ['heart-beat', hb.header],
  ]
  const requestId = h['request-id'] ?? h.receipt
  if (requestId !== undefined) headers.push(['response-id', requestId], ['receipt-id', requestId])
  ctx.write(encodeFrame('CONNECTED', headers, null, version))
  ctx.startHeartBeat(hb)
  log.debug(
    `connection ${ctx.id} ${ctx.remoteAddress}: CONNECTED v${version} session ${session.sessionId} heart-beat ${hb.header}`,
  )
}
