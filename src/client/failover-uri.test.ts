/**
 * Goal: every accepted URI form parses to the right endpoints and options, every option is typed and checked, and
 * unknown or unsupported options fail with CLIENT_URI_INVALID naming the option. Method: a table of inputs.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { FAILOVER_DEFAULTS, parseBrokerUri } from './failover-uri.ts'

describe('parseBrokerUri forms', () => {
  const cases: [string, string[], boolean][] = [
    ['failover:(tcp://a:61613,tcp://b:61614)', ['tcp://a:61613', 'tcp://b:61614'], true],
    ['failover:(tcp://a:61613,tcp://b:61614)?randomize=false', ['tcp://a:61613', 'tcp://b:61614'], true],
    ['failover:tcp://a:61613,tcp://b:61614', ['tcp://a:61613', 'tcp://b:61614'], true],
    ['failover:tcp://a:1,tcp://b:2?randomize=false', ['tcp://a:1', 'tcp://b:2'], true],
    ['failover:(stomp://a,stomp+nio://b:7)', ['tcp://a:61613', 'tcp://b:7'], true],
    ['failover:( tcp://a:1 , tcp://a:1 , tcp://c:3 )', ['tcp://a:1', 'tcp://c:3'], true],
    ['failover:(tcp://[::1]:61613)', ['tcp://[::1]:61613'], true],
    ['tcp://127.0.0.1:61613', ['tcp://127.0.0.1:61613'], false],
    ['stomp://localhost:1234', ['tcp://localhost:1234'], false],
    ['stomp://localhost', ['tcp://localhost:61613'], false],
  ]
  for (const [uri, endpoints, failover] of cases) {
    test(`parseBrokerUri accepts ${uri}`, () => {
      const u = parseBrokerUri(uri)
      expect(u.endpoints.map((e) => e.uri)).toEqual(endpoints)
      expect(u.failover).toBe(failover)
    })
  }

  test('parseBrokerUri gives a plain URI no reconnect (as ActiveMQ tcp://)', () => {
    const u = parseBrokerUri('tcp://h:1')
    expect(u.options.maxReconnectAttempts).toBe(0)
    expect(u.options.startupMaxReconnectAttempts).toBe(0)
    expect(u.endpoints[0].host).toBe('h')
    expect(u.endpoints[0].port).toBe(1)
  })

  test('parseBrokerUri keeps ActiveMQ defaults except a finite timeout', () => {
    const o = parseBrokerUri('failover:(tcp://a:1)').options
    expect(o.randomize).toBe(true)
    expect(o.initialReconnectDelay).toBe(10)
    expect(o.maxReconnectDelay).toBe(30000)
    expect(o.useExponentialBackOff).toBe(true)
    expect(o.reconnectDelayExponent).toBe(2)
    expect(o.maxReconnectAttempts).toBe(-1)
    expect(o.startupMaxReconnectAttempts).toBe(-1)
    expect(o.warnAfterReconnectAttempts).toBe(10)
    expect(o.timeout).toBe(30000)
    expect(o.timeout).toBe(FAILOVER_DEFAULTS.timeout)
  })
})

describe('parseBrokerUri options', () => {
  const base = 'failover:(tcp://a:1,tcp://b:2)?'
  const cases: [string, string, unknown][] = [
    ['randomize=false', 'randomize', false],
    ['initialReconnectDelay=250', 'initialReconnectDelay', 250],
    ['maxReconnectDelay=5000', 'maxReconnectDelay', 5000],
    ['useExponentialBackOff=false', 'useExponentialBackOff', false],
    ['reconnectDelayExponent=1.5', 'reconnectDelayExponent', 1.5],
    ['maxReconnectAttempts=3', 'maxReconnectAttempts', 3],
    ['startupMaxReconnectAttempts=0', 'startupMaxReconnectAttempts', 0],
    ['timeout=-1', 'timeout', -1],
    ['timeout=1500', 'timeout', 1500],
    ['priorityBackup=true', 'priorityURIs', ['tcp://a:1']],
    ['priorityURIs=tcp://b:2', 'priorityURIs', ['tcp://b:2']],
    ['warnAfterReconnectAttempts=0', 'warnAfterReconnectAttempts', 0],
    ['reconnectDelayJitter=0', 'reconnectDelayJitter', 0],
  ]
  for (const [q, key, value] of cases) {
    test(`parseBrokerUri reads ${q}`, () => {
      const o = parseBrokerUri(base + q).options as unknown as Record<string, unknown>
      expect(o[key]).toEqual(value)
    })
  }

  test('parseBrokerUri applies nested.* to every endpoint and lets it win', () => {
    const u = parseBrokerUri(
      'failover:(tcp://a:1?connectionTimeout=100,tcp://b:2)?nested.connectionTimeout=700&nested.trace=true',
    )
    expect(u.endpoints.map((e) => e.connectionTimeoutMs)).toEqual([700, 700])
    expect(u.endpoints.every((e) => e.trace)).toBe(true)
  })

  test('parseBrokerUri reads per-endpoint options', () => {
    const u = parseBrokerUri('failover:(tcp://a:1?connectionTimeout=100&wireFormat.maxFrameSize=2048,tcp://b:2)')
    expect(u.endpoints[0].connectionTimeoutMs).toBe(100)
    expect(u.endpoints[0].frameBytesMax).toBe(2048)
    expect(u.endpoints[1].connectionTimeoutMs).toBe(10000)
  })
})

describe('parseBrokerUri errors', () => {
  const bad: [string, string][] = [
    ['failover:(tcp://a:1)?bogus=1', 'bogus'],
    ['failover:(tcp://a:1)?backOffMultiplier=2', 'backOffMultiplier'],
    ['failover:(tcp://a:1)?backup=true', 'backup'],
    ['failover:(tcp://a:1)?trackMessages=true', 'trackMessages'],
    ['failover:(tcp://a:1)?randomize=yes', 'randomize'],
    ['failover:(tcp://a:1)?maxReconnectAttempts=-2', 'maxReconnectAttempts'],
    ['failover:(tcp://a:1)?initialReconnectDelay=abc', 'initialReconnectDelay'],
    ['failover:(tcp://a:1)?reconnectDelayExponent=0.5', 'reconnectDelayExponent'],
    ['failover:(tcp://a:1)?timeout=0', 'timeout'],
    ['failover:(tcp://a:1)?reconnectDelayJitter=2', 'reconnectDelayJitter'],
    ['failover:(tcp://a:1)?randomize', 'randomize'],
    ['failover:(tcp://a:1)?randomize=true&randomize=false', 'randomize'],
    ['failover:(tcp://a:1)?priorityURIs=tcp://z:9', 'tcp://z:9'],
    ['failover:(tcp://a:1?soTimeout=5)', 'soTimeout'],
    ['failover:(tcp://a:1)?nested.bogus=1', 'bogus'],
    ['failover:(tcp://a:1', ')'],
    ['failover:()', 'no broker URIs'],
    ['failover:(tcp://a:1)x', 'after'],
    ['http://a:1', 'http'],
    ['ssl://a:1?caFile=', 'caFile'],
    ['tcp://a:99999', '99999'],
    ['a:1', 'a:1'],
    ['', 'empty'],
  ]
  for (const [uri, mention] of bad) {
    test(`parseBrokerUri rejects ${JSON.stringify(uri)} naming ${mention}`, () => {
      let err: unknown
      try {
        parseBrokerUri(uri)
      } catch (e) {
        err = e
      }
      expect(isBrokerError(err, 'CLIENT_URI_INVALID')).toBe(true)
      expect((err as Error).message).toContain(mention)
    })
  }
})
