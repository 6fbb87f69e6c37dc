/**
 * The schemes a transport connector URI may name, and what each means: `stomp://` or `stomp+nio://` (the same
 * listener in sfbroker: Bun's sockets are non-blocking either way) and their `+ssl` forms, the MQTT schemes
 * `mqtt://`, `mqtt+nio://`, `mqtt+ssl://`, `mqtt+nio+ssl://`, WebSocket `ws://` / `wss://` (STOMP or MQTT per
 * connection, chosen by the WebSocket subprotocol, as ActiveMQ's ws transport does), OpenWire `tcp://`, `nio://`,
 * `ssl://`, `nio+ssl://` (default port 61616, ssl 61617) and `auto://`, `auto+nio://`, `auto+ssl://`,
 * `auto+nio+ssl://` (OpenWire, STOMP or MQTT per connection, from its first bytes, as ActiveMQ's auto transport).
 * Each maps to a `transport` (tcp | tls | ws | wss) and a `protocol` (stomp | mqtt | both | openwire | auto), so the
 * node can pick the server; and to its default port, if it has one. ActiveMQ's other schemes are listed so they
 * can be refused as unsupported rather than unknown.
 */
import type { ConnectorProtocol, ConnectorTransport } from './types.ts'

export const STOMP_SCHEMES = ['stomp', 'stomp+nio', 'stomp+ssl', 'stomp+nio+ssl'] as const
export const MQTT_SCHEMES = ['mqtt', 'mqtt+nio', 'mqtt+ssl', 'mqtt+nio+ssl'] as const
export const WS_SCHEMES = ['ws', 'wss'] as const
/** ActiveMQ's OpenWire schemes (nio is the same listener in sfbroker, as for stomp+nio). */
export const OPENWIRE_SCHEMES = ['tcp', 'nio', 'ssl', 'nio+ssl'] as const
/** ActiveMQ's auto-detecting schemes: OpenWire, STOMP or MQTT per connection, from its first bytes. */
export const AUTO_SCHEMES = ['auto', 'auto+nio', 'auto+ssl', 'auto+nio+ssl'] as const
/** Every scheme sfbroker serves, in the order error messages list them. */
export const CONNECTOR_SCHEMES: readonly string[] = [
  ...STOMP_SCHEMES,
  ...MQTT_SCHEMES,
  ...WS_SCHEMES,
  ...OPENWIRE_SCHEMES,
  ...AUTO_SCHEMES,
]
/** Schemes served over TLS (src/net/tls-server.ts; keys from `<sslContext>`). */
export const TLS_SCHEMES: readonly string[] = [
  'stomp+ssl',
  'stomp+nio+ssl',
  'mqtt+ssl',
  'mqtt+nio+ssl',
  'wss',
  'ssl',
  'nio+ssl',
  'auto+ssl',
  'auto+nio+ssl',
]
/** ActiveMQ's default port of `stomp+ssl://` when the URI gives none. */
export const DEFAULT_STOMP_SSL_PORT = 61614
/** The IANA MQTT ports, used when an mqtt URI gives none. */
export const DEFAULT_MQTT_PORT = 1883
export const DEFAULT_MQTT_SSL_PORT = 8883
/** ActiveMQ's ws:// port in its shipped activemq.xml, used when a ws URI gives none. */
export const DEFAULT_WS_PORT = 61614
/** ActiveMQ's OpenWire port (tcp://, nio://, auto://) and its usual ssl:// port, used when a URI gives none. */
export const DEFAULT_OPENWIRE_PORT = 61616
export const DEFAULT_OPENWIRE_SSL_PORT = 61617
/** The port used when a URI gives none; a scheme not here needs host:port (stomp:// as before, wss://). */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'stomp+ssl': DEFAULT_STOMP_SSL_PORT,
  'stomp+nio+ssl': DEFAULT_STOMP_SSL_PORT,
  mqtt: DEFAULT_MQTT_PORT,
  'mqtt+nio': DEFAULT_MQTT_PORT,
  'mqtt+ssl': DEFAULT_MQTT_SSL_PORT,
  'mqtt+nio+ssl': DEFAULT_MQTT_SSL_PORT,
  ws: DEFAULT_WS_PORT,
  tcp: DEFAULT_OPENWIRE_PORT,
  nio: DEFAULT_OPENWIRE_PORT,
  auto: DEFAULT_OPENWIRE_PORT,
  'auto+nio': DEFAULT_OPENWIRE_PORT,
  ssl: DEFAULT_OPENWIRE_SSL_PORT,
  'nio+ssl': DEFAULT_OPENWIRE_SSL_PORT,
  'auto+ssl': DEFAULT_OPENWIRE_SSL_PORT,
  'auto+nio+ssl': DEFAULT_OPENWIRE_SSL_PORT,
}
/** A port to show in a "host:port" example, per scheme (ActiveMQ's usual ones). */
export const EXAMPLE_PORTS: Readonly<Record<string, number>> = {
  stomp: 61613,
  'stomp+nio': 61613,
  ...DEFAULT_PORTS,
  wss: DEFAULT_WS_PORT,
}
export const SCHEMES_EXPECTED = `expected one of ${CONNECTOR_SCHEMES.map((x) => `${x}://`).join(', ')}`
/** ActiveMQ schemes sfbroker does not serve: refused as CONFIG_UNSUPPORTED, not as unknown. */
export const OTHER_ACTIVEMQ_SCHEMES: readonly string[] = [
  'amqp',
  'amqp+ssl',
  'amqp+nio',
  'amqp+nio+ssl',
  'vm',
  'udp',
  'http',
  'https',
  'openwire',
  'failover',
  'discovery',
  'multicast',
  'static',
  'peer',
  'fanout',
]

/** What a scheme is served with and what it speaks (ws carries either protocol, chosen per connection). */
export function schemeKind(scheme: string): { transport: ConnectorTransport; protocol: ConnectorProtocol } {
  if (scheme === 'ws' || scheme === 'wss') return { transport: scheme, protocol: 'both' }
  const transport = TLS_SCHEMES.includes(scheme) ? 'tls' : 'tcp'
  if (scheme.startsWith('mqtt')) return { transport, protocol: 'mqtt' }
  if (scheme.startsWith('stomp')) return { transport, protocol: 'stomp' }
  if (scheme.startsWith('auto')) return { transport, protocol: 'auto' }
  return { transport, protocol: 'openwire' }
}
