/**
 * Goal: every connector scheme parses to the transport and protocol the node picks its server by, with the
 * ActiveMQ default ports, and bad MQTT/WebSocket URIs fail naming the URI, the problem and what was expected.
 * Method: parseConnectorUri on tables of URIs; errors are checked by code and by the part of the message that
 * names the expectation. (STOMP and TLS options are covered by load-config.test.ts and ssl-context.test.ts.)
 */
import { describe, expect, test } from 'bun:test'
import type { BrokerError } from '../lib/errors.ts'
import { parseConnectorUri } from './connector-uri.ts'

const parse = (uri: string) => parseConnectorUri(uri, undefined, 'test')
const err = (uri: string): BrokerError => {
  try {
    parse(uri)
  } catch (e) {
    return e as BrokerError
  }
  throw new Error(`expected ${uri} to be refused`)
}

describe('parseConnectorUri schemes', () => {
  const table: [string, string, string, number, boolean][] = [
    // uri, transport, protocol, port, tls
    ['stomp://0.0.0.0:61613', 'tcp', 'stomp', 61613, false],
    ['stomp+nio://0.0.0.0:61613', 'tcp', 'stomp', 61613, false],
    ['stomp+ssl://0.0.0.0', 'tls', 'stomp', 61614, true],
    ['stomp+nio+ssl://0.0.0.0:7000', 'tls', 'stomp', 7000, true],
    ['mqtt://0.0.0.0:1883', 'tcp', 'mqtt', 1883, false],
    ['mqtt://0.0.0.0', 'tcp', 'mqtt', 1883, false],
    ['mqtt+nio://[::1]', 'tcp', 'mqtt', 1883, false],
    ['mqtt+ssl://0.0.0.0', 'tls', 'mqtt', 8883, true],
    ['mqtt+nio+ssl://0.0.0.0:9883', 'tls', 'mqtt', 9883, true],
    ['ws://0.0.0.0', 'ws', 'both', 61614, false],
    ['ws://127.0.0.1:0', 'ws', 'both', 0, false],
    ['wss://0.0.0.0:61619', 'wss', 'both', 61619, true],
    ['WS://0.0.0.0:61614/', 'ws', 'both', 61614, false],
  ]
  for (const [uri, transport, protocol, port, tls] of table) {
    test(`parseConnectorUri ${uri} is ${transport} ${protocol} on port ${port}`, () => {
      const c = parse(uri)
      expect([c.transport, c.protocol, c.port, c.tls != null]).toEqual([transport, protocol, port, tls] as never)
    })
  }

  test('parseConnectorUri takes the common options on mqtt and ws connectors', () => {
    const m = parse('mqtt://0.0.0.0:1883?maximumConnections=10&wireFormat.maxFrameSize=256kb')
    expect([m.maximumConnections, m.maxFrameSize]).toEqual([10, 256 * 1024])
    const w = parse(
      'ws://0.0.0.0:61614?transport.defaultHeartBeat=5000,0&transport.maximumPendingConnects=3&transport.connectAttemptTimeout=2000',
    )
    expect([w.defaultHeartBeat, w.maximumPendingConnects, w.connectAttemptTimeout]).toEqual(['5000,0', 3, 2000])
    const s = parse('wss://h:1?transport.needClientAuth=true&transport.enabledProtocols=TLSv1.3')
    expect([s.tls?.needClientAuth, s.tls?.enabledProtocols]).toEqual([true, ['TLSv1.3']])
    expect(parse('mqtt+ssl://h?transport.wantClientAuth=true').tls?.wantClientAuth).toBe(true)
  })
})

describe('parseConnectorUri refuses bad mqtt and ws URIs', () => {
  const bad: [string, 'CONFIG_INVALID' | 'CONFIG_UNSUPPORTED', string][] = [
    ['mqt://0.0.0.0:1883', 'CONFIG_INVALID', 'did you mean "mqtt"'],
    ['wws://0.0.0.0:61614', 'CONFIG_INVALID', 'did you mean "ws'],
    ['amqp://0.0.0.0:5672', 'CONFIG_UNSUPPORTED', 'sfbroker speaks STOMP, MQTT and OpenWire only'],
    ['vm://localhost', 'CONFIG_UNSUPPORTED', 'expected one of stomp://'],
    ['wss://0.0.0.0', 'CONFIG_INVALID', 'expected host:port after the scheme, e.g. wss://0.0.0.0:61614'],
    ['stomp://0.0.0.0', 'CONFIG_INVALID', 'e.g. stomp://0.0.0.0:61613'],
    ['ws://0.0.0.0:61614/stomp', 'CONFIG_INVALID', 'no path'],
    ['mqtt://0.0.0.0:70000', 'CONFIG_INVALID', 'out of range'],
    ['mqtt://0.0.0.0:1883?transport.defaultHeartBeat=0,0', 'CONFIG_INVALID', 'not mqtt://'],
    ['mqtt+ssl://0.0.0.0?transport.hbGracePeriodMultiplier=2', 'CONFIG_INVALID', 'STOMP heart-beats'],
    ['mqtt://0.0.0.0:1883?transport.needClientAuth=true', 'CONFIG_INVALID', 'mqtt+ssl://'],
    ['ws://0.0.0.0:61614?transport.needClientAuth=true', 'CONFIG_INVALID', 'wss://'],
    ['ws://0.0.0.0:61614?maximumConection=3', 'CONFIG_INVALID', 'did you mean "maximumConnections"'],
    ['ws://0.0.0.0:61614?transport.subscriptionStrategy=x', 'CONFIG_UNSUPPORTED', 'transport.subscriptionStrategy'],
    ['wss://0.0.0.0:61614#frag', 'CONFIG_INVALID', 'fragment'],
  ]
  for (const [uri, code, part] of bad) {
    test(`parseConnectorUri refuses ${uri}`, () => {
      const e = err(uri)
      expect(e.code).toBe(code)
      expect(e.message).toContain(`test: found "${uri}"`)
      expect(e.message).toContain(part)
    })
  }
})

describe('parseConnectorUri OpenWire schemes', () => {
  test('parseConnectorUri reads tcp, nio, ssl and auto schemes with ActiveMQ default ports', () => {
    const table: [string, string, string, number][] = [
      ['tcp://0.0.0.0:61616', 'tcp', 'openwire', 61616],
      ['nio://0.0.0.0', 'tcp', 'openwire', 61616],
      ['ssl://0.0.0.0', 'tls', 'openwire', 61617],
      ['nio+ssl://h:1', 'tls', 'openwire', 1],
      ['auto://0.0.0.0', 'tcp', 'auto', 61616],
      ['auto+nio+ssl://0.0.0.0:5671', 'tls', 'auto', 5671],
    ]
    for (const [uri, transport, protocol, port] of table)
      expect(parseConnectorUri(uri, undefined, 'test')).toMatchObject({ transport, protocol, port })
  })
  test('parseConnectorUri refuses STOMP heart-beat options on tcp:// and takes them on auto://', () => {
    expect(() => parseConnectorUri('tcp://0.0.0.0:1?transport.defaultHeartBeat=1000,0', undefined, 't')).toThrow(
      'configures STOMP heart-beats',
    )
    expect(parseConnectorUri('auto://0.0.0.0:1?transport.defaultHeartBeat=1000,0', undefined, 't')).toMatchObject({
      defaultHeartBeat: '1000,0',
    })
  })
})

describe('parseConnectorUri MQTT options', () => {
  test('parseConnectorUri takes the pre-CONNECT budgets on mqtt:// and ws://, refuses them on tcp:// (OpenWire)', () => {
    expect(parseConnectorUri('mqtt://0.0.0.0:1883?transport.maximumPendingConnects=5', undefined, 't')).toMatchObject({
      protocol: 'mqtt',
      maximumPendingConnects: 5,
    })
    expect(() => parseConnectorUri('tcp://0.0.0.0:61616?transport.maximumPendingConnects=5', undefined, 't')).toThrow(
      'sets a pre-CONNECT budget',
    )
    expect(parseConnectorUri('ws://0.0.0.0:61614?transport.maximumPendingConnects=5', undefined, 't')).toMatchObject({
      protocol: 'both',
      maximumPendingConnects: 5,
    })
  })
})
