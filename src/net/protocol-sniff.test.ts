/**
 * Goal: sniffProtocol tells OpenWire, MQTT and STOMP apart from their first bytes, waits while undecided, and gives
 * up within SNIFF_BYTES_MAX. Method: a table of openings, each checked at every prefix length.
 */
import { describe, expect, test } from 'bun:test'
import { SNIFF_BYTES_MAX, sniffProtocol } from './protocol-sniff.ts'

const openwire = Buffer.concat([
  Buffer.from([0, 0, 1, 0x2a, 0x01]),
  Buffer.from('ActiveMQ'),
  Buffer.from([0, 0, 0, 12]),
])
const mqtt = Buffer.from([0x10, 0x1a, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54])
const cases: [string, Buffer, string][] = [
  ['OpenWire WireFormatInfo', openwire, 'openwire'],
  ['MQTT CONNECT', mqtt, 'mqtt'],
  ['STOMP CONNECT', Buffer.from('CONNECT\naccept-version:1.2\n\n\0'), 'stomp'],
  ['STOMP STOMP', Buffer.from('STOMP\n\n\0'), 'stomp'],
  ['STOMP after heart-beat EOLs', Buffer.from('\r\n\nCONNECT\n\n\0'), 'stomp'],
  ['HTTP', Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'unknown'],
  ['STOMP SEND before CONNECT', Buffer.from('SEND\n\n\0'), 'unknown'],
  [
    'size prefix, other command',
    Buffer.from([0, 0, 0, 9, 0x02, 0x41, 0x63, 0x74, 0x69, 0x76, 0x65, 0x4d, 0x51]),
    'unknown',
  ],
]

describe('sniffProtocol', () => {
  for (const [name, bytes, want] of cases) {
    test(`sniffProtocol decides ${name} as ${want} and is never wrong on a prefix`, () => {
      let decided: string | null = null
      for (let n = 1; n <= bytes.length; n++) {
        const got = sniffProtocol(bytes.subarray(0, n))
        if (got !== null) {
          decided ??= got
          expect(got as string).toBe(want)
        }
      }
      expect(decided).toBe(want)
    })
  }
  test('sniffProtocol gives up on end-of-lines alone within SNIFF_BYTES_MAX', () => {
    expect(sniffProtocol(Buffer.alloc(3, 0x0a))).toBeNull()
    expect(sniffProtocol(Buffer.alloc(SNIFF_BYTES_MAX, 0x0a))).toBe('unknown')
  })
})
