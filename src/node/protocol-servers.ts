/**
 * The MQTT and OpenWire servers of one connector, their limits taken from the connector URI. Each protocol's code
 * (mqtt-packet and its streams, the OpenWire codec) is imported here on first use, so a broker whose connectors speak
 * only STOMP never evaluates it: in the compiled binary a module reached only through `import()` runs when that
 * import does. Owns that loading and the URI → server options mapping; framing and limits belong to the servers.
 */
import { DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS, type ConnectorConfig } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import type { MqttServer } from '../protocol/mqtt/index.ts'
import type { OpenWireServer } from '../protocol/openwire/index.ts'
import type { ClusterUrlBook } from './cluster-urls.ts'
import type { ConnectorDeps } from './connector.ts'

/** The MqttServer of a connector; fails with CONFIG_INVALID when the node built no MQTT core. */
export async function mqttServerFor(c: ConnectorConfig, deps: ConnectorDeps): Promise<MqttServer> {
  if (!deps.mqtt)
    throw new BrokerError('CONFIG_INVALID', `connector ${c.name} (${c.uri}): speaks MQTT but the node has no MQTT core`)
  const { MqttServer } = await import('../protocol/mqtt/index.ts')
  return new MqttServer({
    core: deps.mqtt.core,
    name: c.name,
    host: c.host,
    port: c.port,
    maximumConnections: c.maximumConnections,
    maximumConnectionsPerAddress: c.maximumConnectionsPerAddress,
    maximumPendingConnects: c.maximumPendingConnects,
    maximumPendingConnectsPerAddress: c.maximumPendingConnectsPerAddress,
    receiveBytesMax: c.maxReceiveSize,
    outBytesMax: c.maxOutboundSize,
    limits: { packetBytesMax: c.maxFrameSize },
    connectTimeoutMs: c.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
    clock: deps.clock,
  })
}

/** The OpenWireServer of a connector; `cluster` set: updateClusterClients. */
export async function openWireServerFor(
  c: ConnectorConfig,
  deps: ConnectorDeps,
  cluster: ClusterUrlBook | null,
): Promise<OpenWireServer> {
  const { OpenWireServer } = await import('../protocol/openwire/index.ts')
  return new OpenWireServer({
    core: deps.broker,
    authenticator: deps.authenticator,
    name: c.name,
    brokerName: deps.brokerName,
    host: c.host,
    port: c.port,
    maximumConnections: c.maximumConnections,
    limits: {
      maxFrameSize: c.maxFrameSize,
      handshakeTimeoutMs: c.connectAttemptTimeout ?? DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS,
      ...(c.maxOutboundSize !== undefined ? { outBytesMax: c.maxOutboundSize } : {}),
    },
    clock: deps.clock,
    clusterUrls: cluster ? () => cluster.urls() : null,
  })
}
