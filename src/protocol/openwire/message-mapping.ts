/**
 * OpenWire message ↔ CoreMessage, with ActiveMQ's rules (its OpenWire commands are the JMS messages themselves):
 *
 * - Header fields map one to one: JMSMessageID (the MessageId's string form, `<connection>:<session>:<producer>:
 *   <seq>`, read back into a MessageId on the way out), destination, reply-to, correlation id, JMSType, timestamp,
 *   expiration, priority, delivery mode, JMSXGroupID/JMSXGroupSeq (fields on the wire), JMSXUserID, and the
 *   redelivery counter (JMSXDeliveryCount = counter + 1 on the client).
 * - Properties keep their JMS type (int stays int, long stays long); a char, nested map or list property (which
 *   JMS cannot set, but the wire can carry) is refused as MessageFormatException-worthy input.
 * - Bodies: TextMessage's text is kept as UTF-8 (`text`), so a STOMP subscriber reads it; BytesMessage `bytes`;
 *   MapMessage and StreamMessage keep their OpenWire encoding (`map`, `stream`) and ObjectMessage its serialized
 *   bytes (`object`), never decoded by the broker; a plain Message has no body (`none`). Compressed bodies are
 *   inflated on the way in (bounded by bodyBytesMax) and sent uncompressed.
 * - The other way, a STOMP SEND's `text` body becomes a TextMessage and `bytes` a BytesMessage (ActiveMQ's
 *   LegacyFrameTranslator: content-length decides), with STOMP headers as string properties.
 * - Dedupe: the producer id and sequence of the MessageId are the CoreMessage's producer, so dedupeKey() is the
 *   message id string.
 */
import { BrokerError } from '../../lib/errors.ts'
import {
  type BodyKind,
  type CoreMessage,
  type Destination,
  type DestinationKind,
  type Properties,
  type PropertyValue,
  validateMessage,
} from '../../model/index.ts'
import type * as W from './commands.ts'
import { plainContent, readTextBodyUtf8, writeMapBody, writeTextBodyUtf8 } from './message-body.ts'
import type { Primitive, PrimitiveMap } from './primitive-map.ts'

const KIND_OF_TYPE: Record<W.Destination['type'], DestinationKind> = {
  Queue: 'queue',
  Topic: 'topic',
  TempQueue: 'temp-queue',
  TempTopic: 'temp-topic',
}
const TYPE_OF_KIND: Record<DestinationKind, W.Destination['type']> = {
  queue: 'Queue',
  topic: 'Topic',
  'temp-queue': 'TempQueue',
  'temp-topic': 'TempTopic',
}

const BODY_OF_TYPE: Record<W.MessageType, BodyKind> = {
  Message: 'none',
  TextMessage: 'text',
  BytesMessage: 'bytes',
  MapMessage: 'map',
  StreamMessage: 'stream',
  ObjectMessage: 'object',
}
const TYPE_OF_BODY: Record<BodyKind, W.MessageType> = {
  none: 'Message',
  text: 'TextMessage',
  bytes: 'BytesMessage',
  map: 'MapMessage',
  stream: 'StreamMessage',
  object: 'ObjectMessage',
}

function invalid(where: string, found: string, expected: string): never {
  throw new BrokerError('BROKER_HEADER_INVALID', `openwire ${where}: found ${found}, expected ${expected}`)
}

/** An OpenWire destination as the model's; `filter` allows wildcard segments (consumers). */
export function fromWireDestination(d: W.Destination | null, where: string, filter = false): Destination {
  if (d === null || d.physicalName === null || d.physicalName === '')
    throw new BrokerError('BROKER_DESTINATION_INVALID', `openwire ${where}: found no destination, expected one`)
  const name = d.physicalName
  // Names are validated by the broker as well; checking here names the OpenWire field.
  if (name.includes(','))
    throw new BrokerError(
      'BROKER_DESTINATION_INVALID',
      `openwire ${where}: ${JSON.stringify(name)} is a composite destination, which is not supported`,
    )
  if (!filter && /(^|\.)[*>](\.|$)/.test(name))
    throw new BrokerError(
      'BROKER_DESTINATION_INVALID',
      `openwire ${where}: ${JSON.stringify(name)} has a wildcard segment; messages go to a name without * or >`,
    )
  return { kind: KIND_OF_TYPE[d.type], name }
}

export function toWireDestination(d: Destination): W.Destination {
  return { type: TYPE_OF_KIND[d.kind], physicalName: d.name }
}

/** ActiveMQ ProducerId.toString(): `<connection id>:<session>:<producer>`. */
export function producerKey(p: W.ProducerId): string {
  return `${p.connectionId}:${p.sessionId}:${p.value}`
}

/** ActiveMQ MessageId.toString(): the text view when set (prefixed `ID:` if it lacks it), else producer:seq. */
export function messageIdString(id: W.MessageId): string {
  if (id.textView !== null) return id.textView.startsWith('ID:') ? id.textView : `ID:${id.textView}`
  if (id.producerId === null) return `null:${id.producerSequenceId}`
  return `${producerKey(id.producerId)}:${id.producerSequenceId}`
}

/**
 * The MessageId for a message id string: `<conn>:<session>:<producer>:<seq>` with numeric tails is split into its
 * parts (what the ActiveMQ client's audit expects); anything else (a STOMP client's own id) is a text view over a
 * producer id of its own, so each such message looks like a new producer's first message to the client's audit.
 */
export function toWireMessageId(messageId: string, brokerSeq: bigint): W.MessageId {
  const m = /^(.+):(\d{1,18}):(\d{1,18}):(\d{1,18})$/.exec(messageId)
  if (m !== null && messageId.startsWith('ID:'))
    return {
      type: 'MessageId',
      textView: null,
      producerId: { type: 'ProducerId', connectionId: m[1]!, sessionId: BigInt(m[2]!), value: BigInt(m[3]!) },
      producerSequenceId: BigInt(m[4]!),
      brokerSequenceId: brokerSeq,
    }
  return {
    type: 'MessageId',
    textView: messageId,
    producerId: { type: 'ProducerId', connectionId: messageId, sessionId: 0n, value: 0n },
    producerSequenceId: 0n,
    brokerSequenceId: brokerSeq,
  }
}

function fromPrimitive(name: string, p: Primitive): PropertyValue | null {
  switch (p.kind) {
    case 'null':
      return null
    case 'boolean':
      return { type: 'boolean', value: p.value }
    case 'string':
      return { type: 'string', value: p.value }
    case 'byte':
    case 'short':
    case 'int':
    case 'float':
    case 'double':
      return { type: p.kind, value: p.value }
    case 'long':
      return { type: 'long', value: p.value }
    case 'bytes':
      return { type: 'bytes', value: p.value }
    default:
      return invalid(`message property ${JSON.stringify(name)}`, `a ${p.kind}`, 'a JMS property type')
  }
}

export function toPrimitive(v: PropertyValue): Primitive {
  switch (v.type) {
    case 'long':
      return { kind: 'long', value: v.value }
    case 'bytes':
      return { kind: 'bytes', value: v.value }
    case 'string':
      return { kind: 'string', value: v.value }
    case 'boolean':
      return { kind: 'boolean', value: v.value }
    default:
      return { kind: v.type, value: v.value }
  }
}

export interface FromWireContext {
  /** Largest inflated body accepted (compressed bodies). */
  bodyBytesMax: number
  /** Broker time, for a message without a timestamp. */
  nowMs: number
  /** JMSXUserID to stamp (populateJMSXUserID); null keeps none (a client may not claim a user). */
  userId: string | null
}

/** ActiveMQ Message.DEFAULT_MINIMUM_MESSAGE_SIZE. */
const MINIMUM_MESSAGE_SIZE = 1024

function long(where: string, v: bigint): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(where, String(v), 'a value in 0..2^53-1')
  return Number(v)
}

/** A message a producer sent, as the broker's CoreMessage. Throws BrokerError naming the field. */
export function fromWireMessage(m: W.Message, ctx: FromWireContext): CoreMessage {
  if (m.messageId === null || m.messageId.producerId === null)
    invalid(`${m.type}.messageId`, 'null or without a producer id', 'the MessageId the producer assigned')
  const id = m.messageId
  const messageId = messageIdString(id)
  const properties: Properties = new Map()
  for (const [k, p] of m.properties ?? new Map<string, Primitive>()) {
    const v = fromPrimitive(k, p)
    if (v !== null) properties.set(k, v)
  }
  const bodyKind = BODY_OF_TYPE[m.type]
  let body: Uint8Array
  if (bodyKind === 'text') {
    body = readTextBodyUtf8(m, ctx.bodyBytesMax) ?? new Uint8Array(0)
  } else body = plainContent(m, ctx.bodyBytesMax) ?? new Uint8Array(0)
  if (bodyKind === 'none' && body.length > 0) invalid('Message.content', `${body.length} bytes`, 'no body')
  const out: CoreMessage = {
    messageId,
    destination: fromWireDestination(m.destination, `${m.type}.destination`),
    replyTo: m.replyTo === null ? null : fromWireDestination(m.replyTo, `${m.type}.replyTo`),
    correlationId: m.correlationId,
    type: m.jmsType,
    timestamp: m.timestamp === 0n ? ctx.nowMs : long(`${m.type}.timestamp`, m.timestamp),
    expiration: long(`${m.type}.expiration`, m.expiration),
    priority: m.priority,
    persistent: m.persistent,
    redeliveryCount: 0,
    groupId: m.groupId === null || m.groupId === '' ? null : m.groupId,
    groupSeq: m.groupId === null || m.groupId === '' ? null : m.groupSequence,
    properties,
    bodyKind,
    body,
    producer: textViewless(id)
      ? { id: producerKey(id.producerId!), seq: long('MessageId.producerSequenceId', id.producerSequenceId) }
      : { id: messageId, seq: null },
    origin: { protocol: 'openwire' },
    userId: ctx.userId,
  }
  validateMessage(out, `openwire ${m.type}`)
  return out
}

function textViewless(id: W.MessageId): boolean {
  return id.textView === null && id.producerId !== null
}

/** ActiveMQ Message.getSize() as the client computes it for its producer window: 1024 + properties + content. */
export function wireMessageSize(m: W.Message): number {
  const props = m.properties === null || m.properties.size === 0 ? 0 : writeMapBody(m.properties).length
  return MINIMUM_MESSAGE_SIZE + props + (m.content?.length ?? 0)
}

/** A delivery's message as the OpenWire command a JMS consumer reads. */
export function toWireMessage(msg: CoreMessage, redeliveryCount: number, brokerSeq: bigint): W.Message {
  const type = TYPE_OF_BODY[msg.bodyKind]
  let content: Uint8Array | null
  if (msg.bodyKind === 'text') content = writeTextBodyUtf8(msg.body)
  else if (msg.bodyKind === 'none') content = null
  else content = msg.body
  const props: PrimitiveMap = new Map()
  for (const [k, v] of msg.properties) {
    if (k === 'JMSXGroupID' || k === 'JMSXGroupSeq' || k === 'JMSXUserID') continue
    props.set(k, toPrimitive(v))
  }
  return {
    type,
    commandId: 0,
    responseRequired: false,
    producerId: null,
    destination: toWireDestination(msg.destination),
    transactionId: null,
    originalDestination: null,
    messageId: toWireMessageId(msg.messageId, brokerSeq),
    originalTransactionId: null,
    groupId: msg.groupId,
    groupSequence: msg.groupSeq ?? 0,
    correlationId: msg.correlationId,
    persistent: msg.persistent,
    expiration: BigInt(msg.expiration),
    priority: msg.priority,
    replyTo: msg.replyTo === null ? null : toWireDestination(msg.replyTo),
    timestamp: BigInt(msg.timestamp),
    jmsType: msg.type,
    content,
    properties: props.size > 0 ? props : null,
    dataStructure: null,
    targetConsumerId: null,
    compressed: false,
    redeliveryCounter: redeliveryCount,
    brokerPath: null,
    arrival: 0n,
    userId: msg.userId,
    receivedByDfBridge: false,
    droppable: false,
    cluster: null,
    brokerInTime: 0n,
    brokerOutTime: 0n,
    jmsxGroupFirstForConsumer: false,
  }
}
