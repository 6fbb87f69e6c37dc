/**
 * Heart-beat negotiation (STOMP 1.2 "Heart-beating"), pure. The client's CONNECT says `heart-beat:cx,cy`:
 * it can send every cx ms and wants to receive every cy ms. Like ActiveMQ (ProtocolConverter
 * configureInactivityMonitor) the server takes the client's values as they are, swapped: it writes every cy and
 * expects a read every cx, and answers `heart-beat:cy,cx` in CONNECTED.
 *
 * Two differences from ActiveMQ, both on the safe side:
 * - a floor (`heartBeatMinMs`, default 100 ms): a client asking for 1 ms beats would otherwise make the
 *   server write an EOL every millisecond. The floor is declared in CONNECTED, so a compliant client
 *   computes the same intervals (max of both sides);
 * - the read grace multiplier defaults to 1.5 (ActiveMQ's `transport.hbGracePeriodMultiplier` defaults to 1.0,
 *   which its own docs call strict and replace with 1.5): a connection silent for more than cx × 1.5 is dead.
 *
 * A CONNECT without a `heart-beat` header (every STOMP 1.0 client) is negotiated as if it carried
 * `defaultHeartBeat` (ActiveMQ's `transport.defaultHeartBeat`, default "0,0" = none), so a connector can demand
 * reads from clients that never say what they send: "5000,0" closes a 1.0 client silent for 5000 × grace ms.
 */
import { BrokerError } from '../../lib/errors.ts'

export interface HeartBeatOptions {
  /** Read timeout = negotiated read interval × this. */
  graceMultiplier: number
  /** No interval below this is negotiated (0 stays 0 = off). */
  heartBeatMinMs: number
  /** "cx,cy" used when CONNECT has no heart-beat header (`transport.defaultHeartBeat`); "0,0" = none. */
  defaultHeartBeat: string
}

export const DEFAULT_HEART_BEAT_OPTIONS: Readonly<HeartBeatOptions> = Object.freeze({
  graceMultiplier: 1.5,
  heartBeatMinMs: 100,
  defaultHeartBeat: '0,0',
})

export interface HeartBeatPlan {
  /** Write an EOL when nothing else was written for this long; 0 = never. */
  sendEveryMs: number
  /** The client promised to send at least this often; 0 = no promise. */
  expectEveryMs: number
  /** Close the connection when nothing arrived for this long; 0 = never. */
  readTimeoutMs: number
  /** The CONNECTED `heart-beat` header value: what the server sends, what it wants. */
  header: string
}

/** `undefined` (no header, e.g. STOMP 1.0 clients) means `opts.defaultHeartBeat`. Throws STOMP_PROTOCOL on a malformed header. */
export function negotiateHeartBeat(
  header: string | undefined,
  opts: HeartBeatOptions = DEFAULT_HEART_BEAT_OPTIONS,
): HeartBeatPlan {
  let cx = 0
  let cy = 0
  header ??= opts.defaultHeartBeat
  if (header !== undefined) {
    const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(header)
    if (!m)
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `CONNECT heart-beat: ${JSON.stringify(header)} is not "<cx>,<cy>", expected two non-negative integers in ms`,
      )
    cx = Number(m[1])
    cy = Number(m[2])
  }
  const sendEveryMs = cy > 0 ? Math.max(cy, opts.heartBeatMinMs) : 0
  const expectEveryMs = cx > 0 ? Math.max(cx, opts.heartBeatMinMs) : 0
  return {
    sendEveryMs,
    expectEveryMs,
    readTimeoutMs: Math.ceil(expectEveryMs * opts.graceMultiplier),
    header: `${sendEveryMs},${expectEveryMs}`,
  }
}
