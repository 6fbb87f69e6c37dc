/**
 * The loose-encoding layout of every structure this codec knows, for OpenWire versions 10 to 12 (they agree on
 * all of these): field names in wire order and how each is written. Read from the v12 marshallers of the
 * ActiveMQ client and written down as data, so one interpreter (loose-codec.ts) reads and writes them all.
 * A nested field lists the types it accepts, so a frame with, say, a ConsumerId where a destination belongs is
 * refused at decode time instead of surprising the connector.
 */
import type { TypeName } from './command-types.ts'

export type FieldKind =
  | 'bool'
  | 'byte'
  | 'int'
  | 'long'
  /** boolean "present", then DataOutput.writeUTF. */
  | 'string'
  /** boolean "present", then an int length and the bytes. */
  | 'bytes'
  /** 'bytes' whose content is a MarshallingSupport primitive map. */
  | 'map'
  /** 8 bytes, always present (WireFormatInfo.magic). */
  | 'magic'
  /** boolean "present", then the type byte and the structure. */
  | 'nested'
  /** 'nested', or an index into the marshal cache when caching is on (never: sfbroker declines the cache). */
  | 'cached'
  /** boolean "present", then a short count of 'nested' values. */
  | 'array'
  /** boolean "present", class name and message, then (stack traces on) the frames and the cause. */
  | 'throwable'

export type Field = { name: string; kind: FieldKind; accepts?: readonly TypeName[] }
export type Layout = readonly Field[]

export const DESTINATIONS: readonly TypeName[] = ['Queue', 'Topic', 'TempQueue', 'TempTopic']
export const MESSAGES: readonly TypeName[] = [
  'Message',
  'BytesMessage',
  'MapMessage',
  'ObjectMessage',
  'StreamMessage',
  'TextMessage',
]
const TX_IDS: readonly TypeName[] = ['LocalTransactionId', 'XATransactionId']
/** Fields typed DataStructure in Java: any known structure. */
const ANY: readonly TypeName[] = []

const bool = (name: string): Field => ({ name, kind: 'bool' })
const byte = (name: string): Field => ({ name, kind: 'byte' })
const int = (name: string): Field => ({ name, kind: 'int' })
const long = (name: string): Field => ({ name, kind: 'long' })
const str = (name: string): Field => ({ name, kind: 'string' })
const bytes = (name: string): Field => ({ name, kind: 'bytes' })
const nested = (name: string, accepts: readonly TypeName[]): Field => ({ name, kind: 'nested', accepts })
const cached = (name: string, accepts: readonly TypeName[]): Field => ({ name, kind: 'cached', accepts })
const array = (name: string, accepts: readonly TypeName[]): Field => ({ name, kind: 'array', accepts })
const throwable = (name: string): Field => ({ name, kind: 'throwable' })

const BASE: Layout = [int('commandId'), bool('responseRequired')]
const RESPONSE: Layout = [...BASE, int('correlationId')]
const DESTINATION: Layout = [str('physicalName')]

const MESSAGE: Layout = [
  ...BASE,
  cached('producerId', ['ProducerId']),
  cached('destination', DESTINATIONS),
  cached('transactionId', TX_IDS),
  cached('originalDestination', DESTINATIONS),
  nested('messageId', ['MessageId']),
  cached('originalTransactionId', TX_IDS),
  str('groupId'),
  int('groupSequence'),
  str('correlationId'),
  bool('persistent'),
  long('expiration'),
  byte('priority'),
  nested('replyTo', DESTINATIONS),
  long('timestamp'),
  str('jmsType'),
  bytes('content'),
  { name: 'properties', kind: 'map' },
  nested('dataStructure', ANY),
  cached('targetConsumerId', ['ConsumerId']),
  bool('compressed'),
  int('redeliveryCounter'),
  array('brokerPath', ['BrokerId']),
  long('arrival'),
  str('userId'),
  bool('receivedByDfBridge'),
  bool('droppable'),
  array('cluster', ['BrokerId']),
  long('brokerInTime'),
  long('brokerOutTime'),
  bool('jmsxGroupFirstForConsumer'),
]

export const LAYOUTS: Readonly<Record<TypeName, Layout>> = {
  WireFormatInfo: [{ name: 'magic', kind: 'magic' }, int('version'), { name: 'properties', kind: 'map' }],
  BrokerInfo: [
    ...BASE,
    cached('brokerId', ['BrokerId']),
    str('brokerUrl'),
    array('peerBrokerInfos', ['BrokerInfo']),
    str('brokerName'),
    bool('slaveBroker'),
    bool('masterBroker'),
    bool('faultTolerantConfiguration'),
    bool('duplexConnection'),
    bool('networkConnection'),
    long('connectionId'),
    str('brokerUploadUrl'),
    str('networkProperties'),
  ],
  ConnectionInfo: [
    ...BASE,
    cached('connectionId', ['ConnectionId']),
    str('clientId'),
    str('password'),
    str('userName'),
    array('brokerPath', ['BrokerId']),
    bool('brokerMasterConnector'),
    bool('manageable'),
    bool('clientMaster'),
    bool('faultTolerant'),
    bool('failoverReconnect'),
    str('clientIp'),
  ],
  SessionInfo: [...BASE, cached('sessionId', ['SessionId'])],
  ConsumerInfo: [
    ...BASE,
    cached('consumerId', ['ConsumerId']),
    bool('browser'),
    cached('destination', DESTINATIONS),
    int('prefetchSize'),
    int('maximumPendingMessageLimit'),
    bool('dispatchAsync'),
    str('selector'),
    str('clientId'),
    str('subscriptionName'),
    bool('noLocal'),
    bool('exclusive'),
    bool('retroactive'),
    byte('priority'),
    array('brokerPath', ['BrokerId']),
    nested('additionalPredicate', ANY),
    bool('networkSubscription'),
    bool('optimizedAcknowledge'),
    bool('noRangeAcks'),
    array('networkConsumerPath', ['ConsumerId']),
  ],
  ProducerInfo: [
    ...BASE,
    cached('producerId', ['ProducerId']),
    cached('destination', DESTINATIONS),
    array('brokerPath', ['BrokerId']),
    bool('dispatchAsync'),
    int('windowSize'),
  ],
  TransactionInfo: [
    ...BASE,
    cached('connectionId', ['ConnectionId']),
    cached('transactionId', TX_IDS),
    byte('transactionType'),
  ],
  DestinationInfo: [
    ...BASE,
    cached('connectionId', ['ConnectionId']),
    cached('destination', DESTINATIONS),
    byte('operationType'),
    long('timeout'),
    array('brokerPath', ['BrokerId']),
  ],
  RemoveSubscriptionInfo: [...BASE, cached('connectionId', ['ConnectionId']), str('subscriptionName'), str('clientId')],
  KeepAliveInfo: BASE,
  ShutdownInfo: BASE,
  FlushCommand: BASE,
  ControlCommand: [...BASE, str('command')],
  RemoveInfo: [
    ...BASE,
    cached('objectId', ['ConnectionId', 'SessionId', 'ConsumerId', 'ProducerId']),
    long('lastDeliveredSequenceId'),
  ],
  ConnectionError: [...BASE, throwable('exception'), nested('connectionId', ['ConnectionId'])],
  ConsumerControl: [
    ...BASE,
    nested('destination', DESTINATIONS),
    bool('close'),
    nested('consumerId', ['ConsumerId']),
    int('prefetch'),
    bool('flush'),
    bool('start'),
    bool('stop'),
  ],
  ConnectionControl: [
    ...BASE,
    bool('close'),
    bool('exit'),
    bool('faultTolerant'),
    bool('resume'),
    bool('suspend'),
    str('connectedBrokers'),
    str('reconnectTo'),
    bool('rebalanceConnection'),
    bytes('token'),
  ],
  ProducerAck: [...BASE, nested('producerId', ['ProducerId']), int('size')],
  MessagePull: [
    ...BASE,
    cached('consumerId', ['ConsumerId']),
    cached('destination', DESTINATIONS),
    long('timeout'),
    str('correlationId'),
    nested('messageId', ['MessageId']),
  ],
  MessageDispatch: [
    ...BASE,
    cached('consumerId', ['ConsumerId']),
    cached('destination', DESTINATIONS),
    nested('message', MESSAGES),
    int('redeliveryCounter'),
  ],
  MessageAck: [
    ...BASE,
    cached('destination', DESTINATIONS),
    cached('transactionId', TX_IDS),
    cached('consumerId', ['ConsumerId']),
    byte('ackType'),
    nested('firstMessageId', ['MessageId']),
    nested('lastMessageId', ['MessageId']),
    int('messageCount'),
    throwable('poisonCause'),
  ],
  Message: MESSAGE,
  BytesMessage: MESSAGE,
  MapMessage: MESSAGE,
  ObjectMessage: MESSAGE,
  StreamMessage: MESSAGE,
  TextMessage: MESSAGE,
  Response: RESPONSE,
  ExceptionResponse: [...RESPONSE, throwable('exception')],
  DataResponse: [...RESPONSE, nested('data', ANY)],
  DataArrayResponse: [...RESPONSE, array('data', ANY)],
  IntegerResponse: [...RESPONSE, int('result')],
  Queue: DESTINATION,
  Topic: DESTINATION,
  TempQueue: DESTINATION,
  TempTopic: DESTINATION,
  MessageId: [
    str('textView'),
    cached('producerId', ['ProducerId']),
    long('producerSequenceId'),
    long('brokerSequenceId'),
  ],
  LocalTransactionId: [long('value'), cached('connectionId', ['ConnectionId'])],
  XATransactionId: [int('formatId'), bytes('globalTransactionId'), bytes('branchQualifier')],
  ConnectionId: [str('value')],
  SessionId: [str('connectionId'), long('value')],
  ConsumerId: [str('connectionId'), long('sessionId'), long('value')],
  ProducerId: [str('connectionId'), long('value'), long('sessionId')],
  BrokerId: [str('value')],
}
