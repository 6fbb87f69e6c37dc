/**
 * OpenWire data structure type codes (ActiveMQ CommandTypes) for the structures this codec knows, and the
 * codes it recognises but refuses. Versions 10, 11 and 12 share every layout here, so one table serves them.
 */

export const TypeCode = {
  WireFormatInfo: 1,
  BrokerInfo: 2,
  ConnectionInfo: 3,
  SessionInfo: 4,
  ConsumerInfo: 5,
  ProducerInfo: 6,
  TransactionInfo: 7,
  DestinationInfo: 8,
  RemoveSubscriptionInfo: 9,
  KeepAliveInfo: 10,
  ShutdownInfo: 11,
  RemoveInfo: 12,
  ControlCommand: 14,
  FlushCommand: 15,
  ConnectionError: 16,
  ConsumerControl: 17,
  ConnectionControl: 18,
  ProducerAck: 19,
  MessagePull: 20,
  MessageDispatch: 21,
  MessageAck: 22,
  Message: 23,
  BytesMessage: 24,
  MapMessage: 25,
  ObjectMessage: 26,
  StreamMessage: 27,
  TextMessage: 28,
  Response: 30,
  ExceptionResponse: 31,
  DataResponse: 32,
  DataArrayResponse: 33,
  IntegerResponse: 34,
  Queue: 100,
  Topic: 101,
  TempQueue: 102,
  TempTopic: 103,
  MessageId: 110,
  LocalTransactionId: 111,
  XATransactionId: 112,
  ConnectionId: 120,
  SessionId: 121,
  ConsumerId: 122,
  ProducerId: 123,
  BrokerId: 124,
} as const

export type TypeName = keyof typeof TypeCode

const names = new Map<number, TypeName>(Object.entries(TypeCode).map(([k, v]) => [v, k as TypeName]))

export function typeName(code: number): TypeName | undefined {
  return names.get(code)
}

/** Known OpenWire types sfbroker refuses, with the reason given to the peer. */
export const REFUSED_TYPES: ReadonlyMap<number, string> = new Map([
  [29, 'ActiveMQBlobMessage (blob transfer is not supported)'],
  [40, 'DiscoveryEvent (broker networks are not supported)'],
  [50, 'JournalQueueAck (store record, not a wire command)'],
  [52, 'JournalTopicAck (store record, not a wire command)'],
  [53, 'JournalTrace (store record, not a wire command)'],
  [54, 'JournalTransaction (store record, not a wire command)'],
  [55, 'SubscriptionInfo (broker networks are not supported)'],
  [60, 'PartialCommand (UDP transport is not supported)'],
  [61, 'LastPartialCommand (UDP transport is not supported)'],
  [65, 'ReplayCommand (UDP transport is not supported)'],
  [90, 'MessageDispatchNotification (broker networks are not supported)'],
  [91, 'NetworkBridgeFilter (broker networks are not supported)'],
  [92, 'BrokerSubscriptionInfo (broker networks are not supported)'],
])

/** Values of MessageAck.ackType. */
export const AckType = {
  DELIVERED: 0,
  STANDARD: 2,
  POISON: 1,
  REDELIVERED: 3,
  INDIVIDUAL: 4,
  UNMATCHED: 5,
  EXPIRED: 6,
} as const

/** Values of TransactionInfo.type. */
export const TransactionType = {
  BEGIN: 0,
  PREPARE: 1,
  COMMIT_ONE_PHASE: 2,
  COMMIT_TWO_PHASE: 3,
  ROLLBACK: 4,
  RECOVER: 5,
  FORGET: 6,
  END: 7,
} as const

/** Values of DestinationInfo.operationType. */
export const DestinationOperation = { ADD: 0, REMOVE: 1 } as const
