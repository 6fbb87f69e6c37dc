/**
 * mqtt-store.ts: keys parse back to their client id whatever it holds, and every record survives the store's
 * binary message codec (encodeMessage → decodeMessage) with its content intact.
 */
import { describe, expect, test } from 'bun:test'
import { decodeMessage, encodeMessage } from '../../model/index.ts'
import { mqttToCore } from './message-map.ts'
import {
  decodeSession,
  deliveryCopy,
  encodeSession,
  keys,
  parseSessionKey,
  readDeliveryCopy,
  receivedRecord,
  type SessionRecord,
} from './mqtt-store.ts'

const viaCodec = <T>(m: T) => decodeMessage(encodeMessage(m as never)) as T

describe('mqtt-store', () => {
  test('mqtt-store keys give the client id back, slashes and percent signs included', () => {
    for (const id of ['c', 'a/b', 'x%2Fy', 'retained', 'ünï/cøde'])
      for (const k of [keys.session(id), keys.queue(id), keys.inflight(id), keys.qos2In(id, 7)])
        expect(parseSessionKey(k)?.clientId).toBe(id)
    expect(parseSessionKey(keys.retained('a.b'))).toBeNull()
  })

  test('mqtt-store session records round-trip through the message codec', () => {
    const r: SessionRecord = {
      clientId: 'c/1',
      expirySec: 60,
      disconnectedAt: 123,
      subject: { user: 'u', groups: ['g1', 'g2'] },
      subs: [
        {
          filter: 'a.*',
          opts: { qos: 1, noLocal: true, retainAsPublished: false, retainHandling: 1, subscriptionId: 4 },
        },
      ],
      will: {
        message: {
          topic: 'w',
          payload: Buffer.from([0, 1, 255]),
          qos: 2,
          retain: true,
          properties: { correlationData: Buffer.from('c'), userProperties: [['a', 'b']] },
        },
        delaySec: 5,
      },
      nextPacketId: 9,
    }
    expect(decodeSession(viaCodec(encodeSession(r, 1)), 'k')).toEqual(r)
  })

  test('mqtt-store delivery copies carry their delivery info through the codec and drop the producer', () => {
    const m = mqttToCore(
      { topic: 't', payload: Buffer.from('p'), qos: 2, retain: false, properties: {} },
      {
        messageId: 'ID:9',
        nowMs: 5,
      },
    )
    m.producer = { id: 'prod', seq: 1 }
    const info = { qos: 1 as const, retain: true, subscriptionIds: [1, 2], packetId: 77, received: false }
    const copy = viaCodec(deliveryCopy(m, info))
    expect(copy.producer).toBeNull()
    const back = readDeliveryCopy(copy, 'k')
    expect(back.info).toEqual(info)
    expect(back.message.properties.size).toBe(0)
    expect(readDeliveryCopy(viaCodec(receivedRecord(3, 1)), 'k').info).toMatchObject({ packetId: 3, received: true })
  })
})
