/**
 * CONNECT and STOMP (STOMP 1.2 "Connecting"): version and heart-beat negotiation, login through the
 * authenticator (asynchronous), then the broker session and the CONNECTED frame. Frames pipelined behind the
 * CONNECT wait unparsed until it is decided. Whether a frame is allowed before CONNECT is the dispatcher's call.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { excerpt } from '../../../lib/excerpt.ts'
import { logger } from '../../../lib/log.ts'
import type { Subject } from '../../../security/index.ts'
import { encodeFrame } from '../frame-encoder.ts'
import { SUPPORTED_VERSIONS, type StompFrame, type StompVersion } from '../frame.ts'
import { negotiateHeartBeat, type HeartBeatPlan } from '../heart-beat.ts'
import type { HandlerContext } from './context.ts'

const log = logger('stomp')

export function handleConnect(ctx: HandlerContext, frame: StompFrame): void {
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
  // CONNECT wait unparsed until it has. A failed login is ActiveMQ's ERROR, then close.
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
  ctx: HandlerContext,
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
