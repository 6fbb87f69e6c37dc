/**
 * The OpenWire data structures this codec reads and writes, as plain objects tagged by `type`. Field names
 * follow ActiveMQ's command classes (camelCase, minus typos); Java longs are bigints, Java `null` is `null`.
 * The wire order of the fields lives in layouts.ts, not here.
 */
import type { PrimitiveMap } from './primitive-map.ts'

// Identifiers and destinations.
export type ConnectionId = { type: 'ConnectionId'; value: string | null }
export type SessionId = { type: 'SessionId'; connectionId: string | null; value: bigint }
export type ConsumerId = { type: 'ConsumerId'; connectionId: string | null; sessionId: bigint; value: bigint }
export type ProducerId = { type: 'ProducerId'; connectionId: string | null; value: bigint; sessionId: bigint }
export type BrokerId = { type: 'BrokerId'; value: string | null }
export type MessageId = {
  type: 'MessageId'
  textView: string | null
  producerId: ProducerId | null
  producerSequenceId: bigint
  brokerSequenceId: bigint
}
export type LocalTransactionId = { type: 'LocalTransactionId'; value: bigint; connectionId: ConnectionId | null }
export type XATransactionId = {
  type: 'XATransactionId'
  formatId: number
  globalTransactionId: Uint8Array | null
  branchQualifier: Uint8Array | null
}
export type TransactionId = LocalTransactionId | XATransactionId
export type Destination = { type: 'Queue' | 'Topic' | 'TempQueue' | 'TempTopic'; physicalName: string | null }

/** A Java Throwable as OpenWire carries it; `stackTrace` and `cause` only when stack traces were negotiated. */
export type WireThrowable = {
  className: string | null
  message: string | null
  stackTrace?: { className: string | null; methodName: string | null; fileName: string | null; line: number }[]
  cause?: WireThrowable | null
}

export type WireFormatInfo = {
  type: 'WireFormatInfo'
  magic: Uint8Array
  version: number
  properties: PrimitiveMap | null
}

/** Fields every command (BaseCommand) carries. */
type Base = { commandId: number; responseRequired: boolean }

export type BrokerInfo = Base & {
  type: 'BrokerInfo'
  brokerId: BrokerId | null
  brokerUrl: string | null
  peerBrokerInfos: BrokerInfo[] | null
  brokerName: string | null
  slaveBroker: boolean
  masterBroker: boolean
  faultTolerantConfiguration: boolean
  duplexConnection: boolean
  networkConnection: boolean
  connectionId: bigint
  brokerUploadUrl: string | null
  networkProperties: string | null
}
export type ConnectionInfo = Base & {
  type: 'ConnectionInfo'
  connectionId: ConnectionId | null
  clientId: string | null
  password: string | null
  userName: string | null
  brokerPath: BrokerId[] | null
  brokerMasterConnector: boolean
  manageable: boolean
  clientMaster: boolean
  faultTolerant: boolean
  failoverReconnect: boolean
  clientIp: string | null
}
export type SessionInfo = Base & { type: 'SessionInfo'; sessionId: SessionId | null }
export type ConsumerInfo = Base & {
  type: 'ConsumerInfo'
  consumerId: ConsumerId | null
  browser: boolean
  destination: Destination | null
  prefetchSize: number
  maximumPendingMessageLimit: number
  dispatchAsync: boolean
  selector: string | null
  clientId: string | null
  subscriptionName: string | null
  noLocal: boolean
  exclusive: boolean
  retroactive: boolean
  priority: number
  brokerPath: BrokerId[] | null
  /** A BooleanExpression in Java; only network bridges send one, and no type here can carry it. */
  additionalPredicate: DataStructure | null
  networkSubscription: boolean
  optimizedAcknowledge: boolean
  noRangeAcks: boolean
  networkConsumerPath: ConsumerId[] | null
}
export type ProducerInfo = Base & {
  type: 'ProducerInfo'
  producerId: ProducerId | null
  destination: Destination | null
  brokerPath: BrokerId[] | null
  dispatchAsync: boolean
  windowSize: number
}
export type TransactionInfo = Base & {
  type: 'TransactionInfo'
  connectionId: ConnectionId | null
  transactionId: TransactionId | null
  transactionType: number
}
export type DestinationInfo = Base & {
  type: 'DestinationInfo'
  connectionId: ConnectionId | null
  destination: Destination | null
  operationType: number
  timeout: bigint
  brokerPath: BrokerId[] | null
}
export type RemoveSubscriptionInfo = Base & {
  type: 'RemoveSubscriptionInfo'
  connectionId: ConnectionId | null
  subscriptionName: string | null
  clientId: string | null
}
export type KeepAliveInfo = Base & { type: 'KeepAliveInfo' }
export type ShutdownInfo = Base & { type: 'ShutdownInfo' }
export type FlushCommand = Base & { type: 'FlushCommand' }
export type ControlCommand = Base & { type: 'ControlCommand'; command: string | null }
export type RemoveInfo = Base & {
  type: 'RemoveInfo'
  objectId: ConnectionId | SessionId | ConsumerId | ProducerId | null
  lastDeliveredSequenceId: bigint
}
export type ConnectionError = Base & {
  type: 'ConnectionError'
  exception: WireThrowable | null
  connectionId: ConnectionId | null
}
export type ConsumerControl = Base & {
  type: 'ConsumerControl'
  destination: Destination | null
  close: boolean
  consumerId: ConsumerId | null
  prefetch: number
  flush: boolean
  start: boolean
  stop: boolean
}
export type ConnectionControl = Base & {
  type: 'ConnectionControl'
  close: boolean
  exit: boolean
  faultTolerant: boolean
  resume: boolean
  suspend: boolean
  connectedBrokers: string | null
  reconnectTo: string | null
  rebalanceConnection: boolean
  token: Uint8Array | null
}
export type ProducerAck = Base & { type: 'ProducerAck'; producerId: ProducerId | null; size: number }
export type MessagePull = Base & {
  type: 'MessagePull'
  consumerId: ConsumerId | null
  destination: Destination | null
  timeout: bigint
  correlationId: string | null
  messageId: MessageId | null
}
export type MessageDispatch = Base & {
  type: 'MessageDispatch'
  consumerId: ConsumerId | null
  destination: Destination | null
  message: Message | null
  redeliveryCounter: number
}
export type MessageAck = Base & {
  type: 'MessageAck'
  destination: Destination | null
  transactionId: TransactionId | null
  consumerId: ConsumerId | null
  ackType: number
  firstMessageId: MessageId | null
  lastMessageId: MessageId | null
  messageCount: number
  poisonCause: WireThrowable | null
}

/** The message types share one layout; `type` says how `content` is to be read (see message-body.ts). */
export type MessageType = 'Message' | 'BytesMessage' | 'MapMessage' | 'ObjectMessage' | 'StreamMessage' | 'TextMessage'
export type Message = Base & {
  type: MessageType
  producerId: ProducerId | null
  destination: Destination | null
  transactionId: TransactionId | null
  originalDestination: Destination | null
  messageId: MessageId | null
  originalTransactionId: TransactionId | null
  groupId: string | null
  groupSequence: number
  correlationId: string | null
  persistent: boolean
  expiration: bigint
  priority: number
  replyTo: Destination | null
  timestamp: bigint
  jmsType: string | null
  content: Uint8Array | null
  properties: PrimitiveMap | null
  dataStructure: DataStructure | null
  targetConsumerId: ConsumerId | null
  compressed: boolean
  redeliveryCounter: number
  brokerPath: BrokerId[] | null
  arrival: bigint
  userId: string | null
  receivedByDfBridge: boolean
  droppable: boolean
  cluster: BrokerId[] | null
  brokerInTime: bigint
  brokerOutTime: bigint
  jmsxGroupFirstForConsumer: boolean
}

type ResponseBase = Base & { correlationId: number }
export type Response = ResponseBase & { type: 'Response' }
export type ExceptionResponse = ResponseBase & { type: 'ExceptionResponse'; exception: WireThrowable | null }
export type DataResponse = ResponseBase & { type: 'DataResponse'; data: DataStructure | null }
export type DataArrayResponse = ResponseBase & { type: 'DataArrayResponse'; data: DataStructure[] | null }
export type IntegerResponse = ResponseBase & { type: 'IntegerResponse'; result: number }

/** Every command (what a frame carries). */
export type Command =
  | WireFormatInfo
  | BrokerInfo
  | ConnectionInfo
  | SessionInfo
  | ConsumerInfo
  | ProducerInfo
  | TransactionInfo
  | DestinationInfo
  | RemoveSubscriptionInfo
  | KeepAliveInfo
  | ShutdownInfo
  | FlushCommand
  | ControlCommand
  | RemoveInfo
  | ConnectionError
  | ConsumerControl
  | ConnectionControl
  | ProducerAck
  | MessagePull
  | MessageDispatch
  | MessageAck
  | Message
  | Response
  | ExceptionResponse
  | DataResponse
  | DataArrayResponse
  | IntegerResponse

/** Every structure, commands and the ids and destinations nested in them. */
export type DataStructure =
  | Command
  | ConnectionId
  | SessionId
  | ConsumerId
  | ProducerId
  | BrokerId
  | MessageId
  | LocalTransactionId
  | XATransactionId
  | Destination
