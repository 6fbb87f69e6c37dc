/**
 * CONNECT: validation (client id rules per version, will, MQTT 5 properties, enhanced authentication refused),
 * the OpenRequest for the core, and the CONNACK answering it (MQTT 5 §3.1, §3.2; 3.1.1 §3.1, §3.2).
 * Does not own the socket or the session once open: connection.ts does.
 */
import { randomUUID } from 'node:crypto'
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet'
import type { Credentials } from '../../security/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { OpenRequest, DeliverySink, QoS, Will } from './core-port.ts'
import { MqttProtocolError, RC, v3ConnackCode } from './reason-codes.ts'
import { topicNameToInternal } from './topic-mapping.ts'
import { checkPayloadFormat, fromPublishProperties } from './message-properties.ts'

/** 3.1.1 session that outlives its connection without limit (MQTT 5 expiry 0xFFFFFFFF). */
export const NEVER_EXPIRES = 0xffffffff
/** MQTT 3.1 (MQIsdp) client identifiers are 1 to 23 characters (3.1 §3.1). */
const V31_CLIENT_ID_MAX = 23

/** Server-side limits announced in CONNACK and enforced by the connection. */
export interface ServerLimits {
  /** Largest packet accepted from clients, bytes. */
  packetBytesMax: number
  /** Inbound QoS 1/2 PUBLISH awaiting their PUBACK/PUBCOMP (MQTT 5 receive maximum of the server). */
  receiveMaximum: number
  /** Outbound QoS 1/2 deliveries unacknowledged at once, whatever the client's receive maximum. */
  inFlightMax: number
  /** Topic aliases a client may set (MQTT 5 topic alias maximum of the server). */
  topicAliasMaximum: number
  /** When set, the keep-alive the server imposes on MQTT 5 clients (server keep alive), seconds. */
  serverKeepAliveSec?: number
}

export interface ConnectPlan {
  version: 3 | 4 | 5
  request: Omit<OpenRequest, 'sink'>
  assignedClientId?: string
  keepAliveSec: number
  /** The client's limits on what it receives (MQTT 5; unlimited otherwise). */
  clientPacketBytesMax: number
  clientTopicAliasMaximum: number
  /** MQTT 5 request problem information: false keeps reason strings off all but CONNACK, DISCONNECT, PUBLISH. */
  problemInfo: boolean
}

/** Validates a CONNECT (already past the parser) into a plan; throws MqttProtocolError with the CONNACK reason. */
export function planConnect(p: IConnectPacket, limits: ServerLimits, remoteAddress: string, clock: Clock): ConnectPlan {
  const version = (p.protocolVersion ?? 4) as 3 | 4 | 5
  const props = p.properties ?? {}
  if (version === 5 && props.authenticationMethod !== undefined)
    throw new MqttProtocolError(
      RC.badAuthenticationMethod,
      `CONNECT: authentication method "${props.authenticationMethod}" is not supported, expected none (user name and password)`,
    )
  // 3.1.1 §3.1.2.9 (and 3.1): a password only with a user name; MQTT 5 lifted this.
  if (version !== 5 && p.password !== undefined && p.username === undefined)
    throw new MqttProtocolError(
      RC.protocolError,
      'CONNECT: password flag set without the user name flag (MQTT-3.1.2-22)',
    )
  let clientId = p.clientId
  let assignedClientId: string | undefined
  const clean = p.clean !== false
  if (clientId.length === 0) {
    // 3.1.1 §3.1.3.1: only with clean session; MQTT 5 §3.1.3.1: the server assigns one and says so in CONNACK.
    if (version === 3 || (version === 4 && !clean))
      throw new MqttProtocolError(
        RC.clientIdNotValid,
        `CONNECT: empty client identifier with ${version === 3 ? 'MQTT 3.1' : 'clean session 0'}, expected a client id`,
      )
    clientId = `sfbroker-${randomUUID()}`
    if (version === 5) assignedClientId = clientId
  } else if (version === 3 && clientId.length > V31_CLIENT_ID_MAX) {
    throw new MqttProtocolError(
      RC.clientIdNotValid,
      `CONNECT: MQTT 3.1 client identifier of ${clientId.length} characters, expected at most ${V31_CLIENT_ID_MAX}`,
    )
  }
  const sessionExpirySec = version === 5 ? (props.sessionExpiryInterval ?? 0) : clean ? 0 : NEVER_EXPIRES
  if (version === 5 && props.receiveMaximum === 0)
    throw new MqttProtocolError(RC.protocolError, 'CONNECT: receive maximum 0, expected 1 to 65535')
  if (version === 5 && props.maximumPacketSize === 0)
    throw new MqttProtocolError(RC.protocolError, 'CONNECT: maximum packet size 0, expected at least 1')
  const credentials: Credentials = { remoteAddress }
  if (p.username !== undefined) credentials.username = p.username
  if (p.password !== undefined) credentials.password = Buffer.from(p.password).toString('utf8')
  let will: Will | undefined
  if (p.will) {
    const w = p.will
    const topic = topicNameToInternal(w.topic, 'CONNECT will')
    const payload = Buffer.from(w.payload)
    const properties = version === 5 ? fromPublishProperties(w.properties, 'CONNECT will') : {}
    checkPayloadFormat(properties, payload, 'CONNECT will')
    const expiry = version === 5 ? w.properties?.messageExpiryInterval : undefined
    will = {
      message: {
        topic,
        payload,
        qos: (w.qos ?? 0) as QoS,
        retain: w.retain === true,
        properties,
        ...(expiry !== undefined ? { expiresAt: clock.now() + expiry * 1000 } : {}),
      },
      delaySec: version === 5 ? (w.properties?.willDelayInterval ?? 0) : 0,
    }
  }
  const clientReceiveMax = version === 5 ? (props.receiveMaximum ?? 65535) : 65535
  let keepAliveSec = p.keepalive ?? 0
  if (version === 5 && limits.serverKeepAliveSec !== undefined) keepAliveSec = limits.serverKeepAliveSec
  return {
    version,
    request: {
      clientId,
      cleanStart: clean,
      sessionExpirySec,
      credentials,
      protocolVersion: version,
      will,
      inFlightMax: Math.min(clientReceiveMax, limits.inFlightMax),
    },
    assignedClientId,
    keepAliveSec,
    clientPacketBytesMax:
      version === 5 ? (props.maximumPacketSize ?? Number.MAX_SAFE_INTEGER) : Number.MAX_SAFE_INTEGER,
    clientTopicAliasMaximum: version === 5 ? (props.topicAliasMaximum ?? 0) : 0,
    problemInfo: version === 5 ? props.requestProblemInformation !== false : true,
  }
}

/** The CONNACK accepting a plan. */
export function acceptConnack(plan: ConnectPlan, sessionPresent: boolean, limits: ServerLimits): IConnackPacket {
  if (plan.version !== 5) return { cmd: 'connack', returnCode: 0, sessionPresent }
  const properties: NonNullable<IConnackPacket['properties']> = {
    receiveMaximum: limits.receiveMaximum,
    maximumPacketSize: limits.packetBytesMax,
    topicAliasMaximum: limits.topicAliasMaximum,
    retainAvailable: true,
    wildcardSubscriptionAvailable: true,
    subscriptionIdentifiersAvailable: true,
    sharedSubscriptionAvailable: true,
  }
  if (plan.assignedClientId !== undefined) properties.assignedClientIdentifier = plan.assignedClientId
  if (limits.serverKeepAliveSec !== undefined) properties.serverKeepAlive = limits.serverKeepAliveSec
  return { cmd: 'connack', reasonCode: 0, sessionPresent, properties }
}

/** The CONNACK refusing a connection (sessionPresent 0, §3.2.2.1.1); null when 3.1.1 has no code for it. */
export function refuseConnack(version: 3 | 4 | 5, reason: number, message: string): IConnackPacket | null {
  if (version === 5)
    return { cmd: 'connack', reasonCode: reason, sessionPresent: false, properties: { reasonString: message } }
  const code = v3ConnackCode(reason)
  // 3.1.1 defines no code for a malformed CONNECT: the connection just closes (§3.1.4).
  if (reason === RC.malformedPacket || reason === RC.protocolError) return null
  return { cmd: 'connack', returnCode: code, sessionPresent: false }
}

export type { DeliverySink }
