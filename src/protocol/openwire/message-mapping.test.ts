/**
 * Goal: OpenWire messages map onto CoreMessage and back without losing a JMS field, a property's type or a body,
 * and STOMP-made messages reach JMS as ActiveMQ delivers them. Method: tables of wire messages through
 * fromWireMessage → toWireMessage, and STOMP SENDs through fromStompSend → toWireMessage.
 */
import { describe, expect, test } from 'bun:test'
import { deflateSync } from 'node:zlib'
import { fromStompSend } from '../stomp/message-mapping.ts'
import type { Message, MessageType } from './commands.ts'
import { readTextBody, writeMapBody, writeTextBody } from './message-body.ts'
import { fromWireMessage, messageIdString, toWireMessage, toWireMessageId, wireMessageSize } from './message-mapping.ts'
import type { Primitive } from './primitive-map.ts'

const ctx = { bodyBytesMax: 1 << 20, nowMs: 1_000, userId: null }

function wire(type: MessageType, over: Partial<Message> = {}): Message {
  const producerId = { type: 'ProducerId' as const, connectionId: 'ID:h-1-2-1:1', sessionId: 1n, value: 3n }
  return {
    type,
    commandId: 5,
    responseRequired: true,
    producerId,
    destination: { type: 'Queue', physicalName: 'ORDERS.EU' },
    transactionId: null,
    originalDestination: null,
    messageId: { type: 'MessageId', textView: null, producerId, producerSequenceId: 7n, brokerSequenceId: 0n },
    originalTransactionId: null,
    groupId: null,
    groupSequence: 0,
    correlationId: null,
    persistent: true,
    expiration: 0n,
    priority: 4,
    replyTo: null,
    timestamp: 1234n,
    jmsType: null,
    content: null,
    properties: null,
    dataStructure: null,
    targetConsumerId: null,
    compressed: false,
    redeliveryCounter: 0,
    brokerPath: null,
    arrival: 0n,
    userId: null,
    receivedByDfBridge: false,
    droppable: false,
    cluster: null,
    brokerInTime: 0n,
    brokerOutTime: 0n,
    jmsxGroupFirstForConsumer: false,
    ...over,
  }
}

describe('openwire message mapping', () => {
  test('message mapping keeps header fields and the message id', () => {
    const m = wire('TextMessage', {
      content: writeTextBody('héllo'),
      correlationId: 'c-1',
      jmsType: 'order',
      priority: 7,
      expiration: 99_999n,
      replyTo: { type: 'TempQueue', physicalName: 'ID:h-1-2-1:1:1' },
      groupId: 'g',
      groupSequence: 3,
    })
    const core = fromWireMessage(m, ctx)
    expect(core.messageId).toBe('ID:h-1-2-1:1:1:3:7')
    expect(core.producer).toEqual({ id: 'ID:h-1-2-1:1:1:3', seq: 7 })
    expect(core).toMatchObject({
      bodyKind: 'text',
      priority: 7,
      expiration: 99_999,
      correlationId: 'c-1',
      type: 'order',
    })
    expect(new TextDecoder().decode(core.body)).toBe('héllo')
    expect(core.replyTo).toEqual({ kind: 'temp-queue', name: 'ID:h-1-2-1:1:1' })
    expect([core.groupId, core.groupSeq]).toEqual(['g', 3])
    const back = toWireMessage(core, 2, 1n)
    expect(back.type).toBe('TextMessage')
    expect(messageIdString(back.messageId!)).toBe(core.messageId)
    expect(readTextBody(back, 1 << 20)).toBe('héllo')
    expect(back).toMatchObject({ priority: 7, correlationId: 'c-1', jmsType: 'order', groupId: 'g', groupSequence: 3 })
    expect(back.redeliveryCounter).toBe(2)
    expect(back.replyTo).toEqual({ type: 'TempQueue', physicalName: 'ID:h-1-2-1:1:1' })
  })

  test('message mapping round-trips a property of every JMS type', () => {
    const props = new Map<string, Primitive>([
      ['s', { kind: 'string', value: 'x' }],
      ['b', { kind: 'boolean', value: true }],
      ['y', { kind: 'byte', value: -3 }],
      ['h', { kind: 'short', value: 300 }],
      ['i', { kind: 'int', value: 70_000 }],
      ['l', { kind: 'long', value: 2n ** 40n }],
      ['f', { kind: 'float', value: Math.fround(1.5) }],
      ['d', { kind: 'double', value: 2.25 }],
    ])
    const core = fromWireMessage(wire('Message', { properties: props }), ctx)
    expect(core.properties.get('i')).toEqual({ type: 'int', value: 70_000 })
    expect(core.properties.get('l')).toEqual({ type: 'long', value: 2n ** 40n })
    expect(toWireMessage(core, 0, 1n).properties).toEqual(props)
  })

  test('message mapping keeps map, stream, object and bytes bodies as bytes and inflates compressed ones', () => {
    const mapBody = writeMapBody(new Map([['k', { kind: 'int', value: 1 }]]))
    for (const [type, kind] of [
      ['MapMessage', 'map'],
      ['StreamMessage', 'stream'],
      ['ObjectMessage', 'object'],
      ['BytesMessage', 'bytes'],
    ] as const) {
      const core = fromWireMessage(wire(type, { content: mapBody }), ctx)
      expect(core.bodyKind).toBe(kind)
      const back = toWireMessage(core, 0, 1n)
      expect(back.type).toBe(type)
      expect(back.content).toEqual(mapBody)
    }
    const packed = deflateSync(mapBody)
    const obj = fromWireMessage(wire('ObjectMessage', { content: new Uint8Array(packed), compressed: true }), ctx)
    expect(obj.body).toEqual(mapBody)
  })

  test('message mapping refuses a wildcard or composite send destination and a char property', () => {
    const code = (f: () => unknown) => {
      try {
        f()
      } catch (e) {
        return (e as { code: string }).code
      }
      return 'none'
    }
    expect(
      code(() => fromWireMessage(wire('Message', { destination: { type: 'Queue', physicalName: 'a.*' } }), ctx)),
    ).toBe('BROKER_DESTINATION_INVALID')
    expect(
      code(() => fromWireMessage(wire('Message', { destination: { type: 'Queue', physicalName: 'a,b' } }), ctx)),
    ).toBe('BROKER_DESTINATION_INVALID')
    const chars = new Map<string, Primitive>([['c', { kind: 'char', value: 'x' }]])
    expect(code(() => fromWireMessage(wire('Message', { properties: chars }), ctx))).toBe('BROKER_HEADER_INVALID')
  })

  test('message mapping gives a STOMP SEND to JMS as TextMessage without content-length, BytesMessage with', () => {
    const text = fromStompSend('/queue/a', { persistent: 'true', color: 'red' }, new TextEncoder().encode('hi'), {
      nowMs: 5,
      newMessageId: () => 'ID:broker-1:1:1:9',
    })
    const t = toWireMessage(text, 0, 1n)
    expect(t.type).toBe('TextMessage')
    expect(readTextBody(t, 100)).toBe('hi')
    expect(t.properties!.get('color')).toEqual({ kind: 'string', value: 'red' })
    expect(messageIdString(t.messageId!)).toBe('ID:broker-1:1:1:9')
    const bytes = fromStompSend('/queue/a', { 'content-length': '2' }, new Uint8Array([0, 1]), {
      nowMs: 5,
      newMessageId: () => 'ID:broker-1:1:1:10',
    })
    expect(toWireMessage(bytes, 0, 1n).type).toBe('BytesMessage')
  })

  test('message mapping gives a non-ActiveMQ message id back as a text view', () => {
    const id = toWireMessageId('client-42', 3n)
    expect(id.textView).toBe('client-42')
    expect(messageIdString(id)).toBe('ID:client-42')
  })

  test('message mapping sizes a message as the client counts its producer window', () => {
    const m = wire('BytesMessage', {
      content: new Uint8Array(10),
      properties: new Map([['a', { kind: 'int', value: 1 }]]),
    })
    expect(wireMessageSize(m)).toBe(1024 + 10 + writeMapBody(m.properties).length)
  })
})
