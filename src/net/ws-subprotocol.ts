/**
 * WebSocket subprotocol negotiation for a ws:// connector: which protocol a connection speaks, from the
 * `Sec-WebSocket-Protocol` names its client offers (RFC 6455 §1.9, §4.2.2). Pure; the listener answers with the
 * result. The names are ActiveMQ's: `v12.stomp`, `v11.stomp`, `v10.stomp`, `stomp` for STOMP (the subprotocol does
 * not limit the STOMP version: CONNECT's accept-version does); `mqttv3.1`, `mqtt` for MQTT.
 *
 * As ActiveMQ's WSServlet: a client that offers no subprotocol speaks STOMP (browsers' old STOMP libraries offer
 * none), and of the offered names of the chosen protocol the newest is answered. Unlike ActiveMQ, which answers
 * `stomp` to offers it does not know (a subprotocol the client did not offer, which RFC 6455 clients then fail on),
 * a client offering only names this connector does not serve is refused before the upgrade, saying what is served.
 */

export type WsProtocol = 'stomp' | 'mqtt'

/** Subprotocol names per protocol, the preferred (newest) first. */
export const WS_SUBPROTOCOLS: Readonly<Record<WsProtocol, readonly string[]>> = {
  stomp: ['v12.stomp', 'v11.stomp', 'v10.stomp', 'stomp'],
  mqtt: ['mqtt', 'mqttv3.1'],
}

/** Most names considered in one offer; a longer header is refused (it costs parsing, and no client needs it). */
export const WS_OFFERED_SUBPROTOCOLS_MAX = 32

export type WsNegotiation =
  | { ok: true; protocol: WsProtocol /** null: the client offered none, answer none. */; subprotocol: string | null }
  | { ok: false; reason: string }

/**
 * Choose for `offered` (the raw Sec-WebSocket-Protocol header values, or undefined) among `serves`. The first
 * offered name this connector serves picks the protocol (the client lists its preference first); of that
 * protocol's offered names the newest is answered.
 */
export function negotiateSubprotocol(
  offered: string | string[] | undefined,
  serves: readonly WsProtocol[],
): WsNegotiation {
  const names = (Array.isArray(offered) ? offered.join(',') : (offered ?? ''))
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  const served = serves.flatMap((p) => WS_SUBPROTOCOLS[p])
  if (names.length === 0) {
    if (serves.includes('stomp')) return { ok: true, protocol: 'stomp', subprotocol: null }
    return { ok: false, reason: `no WebSocket subprotocol offered; expected one of ${served.join(', ')}` }
  }
  if (names.length > WS_OFFERED_SUBPROTOCOLS_MAX)
    return {
      ok: false,
      reason: `${names.length} WebSocket subprotocols offered; expected at most ${WS_OFFERED_SUBPROTOCOLS_MAX}`,
    }
  // Subprotocol names are case-sensitive tokens (RFC 6455 §11.3.4); match them exactly.
  const first = names.find((n) => served.includes(n))
  if (first === undefined) {
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '')
    return {
      ok: false,
      reason: `WebSocket subprotocol ${shown} not served here; expected one of ${served.join(', ')}`,
    }
  }
  const protocol = serves.find((p) => WS_SUBPROTOCOLS[p].includes(first))!
  const subprotocol = WS_SUBPROTOCOLS[protocol].find((n) => names.includes(n))!
  return { ok: true, protocol, subprotocol }
}
