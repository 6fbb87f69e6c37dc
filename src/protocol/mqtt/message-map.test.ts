/**
 * message-map.ts as tables: MQTT → CoreMessage fields, CoreMessage → MQTT, and round trips of every MQTT 5 property
 * (repeated user properties included), plus how messages of other protocols look to MQTT (QoS, retain flag).
 */
import { describe, expect, test } from 'bun:test'
import { createMessage, prop, validateMessage } from '../../model/index.ts'
import type { MqttMessage } from './core-port.ts'
import { coreToMqtt, mqttToCore, publishedQos, wantsRetain } from './message-map.ts'

const ctx = { messageId: 'ID:1', nowMs: 1_000 }
const msg = (over: Partial<MqttMessage> = {}): MqttMessage => ({
  topic: 'a.b',
  payload: Buffer.from('x'),
  qos: 1,
  retain: false,
  properties: {},
  ...over,
})

describe('message-map', () => {
  test('mqttToCore maps topic, payload, QoS, retain, expiry and MQTT 5 properties onto CoreMessage fields', () => {
    const m = mqttToCore(
      msg({
        qos: 2,
        retain: true,
        expiresAt: 5_000,
        properties: {
          payloadFormatIndicator: true,
          contentType: 'text/plain',
          responseTopic: 'r.s',
          correlationData: Buffer.from('corr'),
          userProperties: [['k', 'v']],
        },
      }),
      ctx,
    )
    validateMessage(m)
    expect(m).toMatchObject({
      messageId: 'ID:1',
      destination: { kind: 'topic', name: 'a.b' },
      persistent: true,
      expiration: 5_000,
      timestamp: 1_000,
      bodyKind: 'text',
      replyTo: { kind: 'topic', name: 'r.s' },
      correlationId: 'corr',
      origin: { protocol: 'mqtt', mqtt: { qos: 2, retain: true } },
    })
    expect([...m.properties]).toEqual([
      ['content-type', prop.string('text/plain')],
      ['k', prop.string('v')],
    ])
    expect(mqttToCore(msg({ qos: 0 }), ctx)).toMatchObject({ persistent: false, bodyKind: 'bytes', expiration: 0 })
  })

  test('message-map round-trips every MQTT 5 property, repeated user properties and binary correlation data', () => {
    const cases: MqttMessage[] = [
      msg(),
      msg({ qos: 0, payload: Buffer.alloc(0) }),
      msg({ qos: 2, retain: true, expiresAt: 99_000 }),
      msg({
        properties: {
          payloadFormatIndicator: true,
          contentType: 'application/json',
          responseTopic: 'reply.to',
          correlationData: Buffer.from([0xff, 0x00, 0x80]),
          userProperties: [
            ['k', '1'],
            ['z', 'last'],
            ['k', '2'],
          ],
        },
      }),
    ]
    for (const c of cases) expect(coreToMqtt(mqttToCore(c, ctx))).toEqual(c)
  })

  test('message-map: other protocols see the last value of a repeated user property', () => {
    const m = mqttToCore(
      msg({
        properties: {
          userProperties: [
            ['k', '1'],
            ['k', '2'],
          ],
        },
      }),
      ctx,
    )
    expect(m.properties.get('k')).toEqual(prop.string('2'))
  })

  test('message-map gives messages of other protocols a QoS by persistence and a retain flag by ActiveMQ.Retain', () => {
    const base = { messageId: 'm', destination: { kind: 'topic' as const, name: 't' }, timestamp: 1 }
    const persistent = createMessage({ ...base, persistent: true, properties: new Map([['n', prop.int(5)]]) })
    expect(publishedQos(persistent)).toBe(1)
    expect(publishedQos(createMessage(base))).toBe(0)
    expect(coreToMqtt(persistent)).toMatchObject({
      qos: 1,
      retain: false,
      properties: { userProperties: [['n', '5']] },
    })
    const retained = createMessage({ ...base, properties: new Map([['ActiveMQ.Retain', prop.boolean(true)]]) })
    expect(wantsRetain(retained)).toBe(true)
    expect(coreToMqtt(retained).properties.userProperties).toBeUndefined()
  })
})
