/**
 * MQTT reason codes (MQTT 5 §2.4) and the 3.1.1 CONNACK return codes, MqttProtocolError (the one error a
 * connection turns into a CONNACK or DISCONNECT and a close), and the mapping of core failures (BrokerError codes)
 * onto reason codes. Does not own when a code is sent: the connection and its handlers decide that.
 */
import { isBrokerError } from '../../lib/errors.ts'

export const RC = {
  success: 0x00,
  grantedQos1: 0x01,
  grantedQos2: 0x02,
  disconnectWithWill: 0x04,
  noMatchingSubscribers: 0x10,
  noSubscriptionExisted: 0x11,
  continueAuthentication: 0x18,
  unspecified: 0x80,
  malformedPacket: 0x81,
  protocolError: 0x82,
  implementationSpecific: 0x83,
  unsupportedProtocolVersion: 0x84,
  clientIdNotValid: 0x85,
  badUserNameOrPassword: 0x86,
  notAuthorized: 0x87,
  serverUnavailable: 0x88,
  serverBusy: 0x89,
  badAuthenticationMethod: 0x8c,
  serverShuttingDown: 0x8b,
  keepAliveTimeout: 0x8d,
  sessionTakenOver: 0x8e,
  topicFilterInvalid: 0x8f,
  topicNameInvalid: 0x90,
  packetIdInUse: 0x91,
  packetIdNotFound: 0x92,
  receiveMaximumExceeded: 0x93,
  topicAliasInvalid: 0x94,
  packetTooLarge: 0x95,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
  qosNotSupported: 0x9b,
  sharedSubscriptionsNotSupported: 0x9e,
  subscriptionIdsNotSupported: 0xa1,
} as const

export type ReasonCode = (typeof RC)[keyof typeof RC]

/** MQTT 3.1.1 §3.2.2.3 CONNACK return codes. */
export const V3_CONNACK = {
  accepted: 0,
  unacceptableProtocolVersion: 1,
  identifierRejected: 2,
  serverUnavailable: 3,
  badUserNameOrPassword: 4,
  notAuthorized: 5,
} as const

/** The 3.1.1 CONNACK return code closest to a v5 CONNACK reason code. */
export function v3ConnackCode(reason: number): number {
  switch (reason) {
    case RC.success:
      return V3_CONNACK.accepted
    case RC.unsupportedProtocolVersion:
      return V3_CONNACK.unacceptableProtocolVersion
    case RC.clientIdNotValid:
      return V3_CONNACK.identifierRejected
    case RC.badUserNameOrPassword:
    case RC.badAuthenticationMethod:
      return V3_CONNACK.badUserNameOrPassword
    case RC.notAuthorized:
      return V3_CONNACK.notAuthorized
    default:
      return V3_CONNACK.serverUnavailable
  }
}

/**
 * A violation by the peer or a refusal that ends the connection: `reason` is the v5 code sent in CONNACK (before
 * CONNECT completed) or DISCONNECT (after), the message becomes the reason string and the log line.
 */
export class MqttProtocolError extends Error {
  constructor(
    readonly reason: number,
    message: string,
  ) {
    super(message)
    this.name = 'MqttProtocolError'
  }
}

/** Reason code for a failure of a core call (BrokerError codes from the broker and security parts). */
export function reasonOfCoreError(e: unknown): number {
  if (e instanceof MqttProtocolError) return e.reason
  if (isBrokerError(e, 'SECURITY_AUTHENTICATION_FAILED')) return RC.badUserNameOrPassword
  if (isBrokerError(e, 'SECURITY_NOT_AUTHORIZED')) return RC.notAuthorized
  if (isBrokerError(e, 'BROKER_LIMIT')) return RC.quotaExceeded
  if (isBrokerError(e, 'BROKER_DESTINATION_INVALID')) return RC.topicNameInvalid
  if (isBrokerError(e, 'BROKER_SUBSCRIPTION_INVALID')) return RC.topicFilterInvalid
  if (isBrokerError(e, 'BROKER_CLIENT_ID_IN_USE')) return RC.clientIdNotValid
  if (isBrokerError(e, 'BROKER_STOPPED')) return RC.serverShuttingDown
  if (isBrokerError(e, 'BROKER_SESSION_CLOSED')) return RC.serverUnavailable
  return RC.unspecified
}

/** Reason codes a server may put in DISCONNECT (MQTT 5 §3.14.2.1); others become 0x80. */
const DISCONNECT_CODES = new Set([
  0x00, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
])

export function disconnectCode(reason: number): number {
  return DISCONNECT_CODES.has(reason) ? reason : RC.unspecified
}
