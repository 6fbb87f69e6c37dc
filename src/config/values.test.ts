/**
 * Goal: the leaf parsers accept exactly the documented spellings (ActiveMQ sizes, millisecond integers within the
 * timer limit, booleans, host:port) and reject everything else with undefined. Method: tables of inputs.
 */
import { describe, expect, test } from 'bun:test'
import { DURATION_MS_MAX, parseBoolean, parseDurationMs, parseHostPort, parseSize } from './values.ts'
import { closest, editDistance } from './suggest.ts'

describe('config values', () => {
  test('parseSize reads byte counts and 1024-based units', () => {
    const ok: [unknown, number][] = [
      [1, 1],
      ['1', 1],
      ['32mb', 32 * 2 ** 20],
      ['64 mb', 64 * 2 ** 20],
      ['1 GB', 2 ** 30],
      ['1.5kb', 1536],
      ['2k', 2048],
      ['3MiB', 3 * 2 ** 20],
      ['1tb', 2 ** 40],
      [' 10 b ', 10],
      [33554432, 33554432],
    ]
    for (const [input, bytes] of ok) expect(parseSize(input)).toBe(bytes)
    for (const bad of [0, '0', -1, '-1mb', '32 parsecs', 'mb', '', '1e6', 1.5, '0.1b', true, null, '1 m b', 2 ** 60]) {
      expect(parseSize(bad)).toBeUndefined()
    }
  })

  test('parseDurationMs accepts whole milliseconds up to the timer limit', () => {
    expect(parseDurationMs(0)).toBe(0)
    expect(parseDurationMs('1000')).toBe(1000)
    expect(parseDurationMs(DURATION_MS_MAX)).toBe(DURATION_MS_MAX)
    for (const bad of [-1, '-1', 1.5, '1s', '', DURATION_MS_MAX + 1, false])
      expect(parseDurationMs(bad)).toBeUndefined()
  })

  test('parseBoolean accepts true and false in any case', () => {
    expect(parseBoolean('TRUE')).toBe(true)
    expect(parseBoolean(' false ')).toBe(false)
    expect(parseBoolean(true)).toBe(true)
    for (const bad of ['yes', '1', 1, '', null]) expect(parseBoolean(bad)).toBeUndefined()
  })

  test('parseHostPort reads host:port, [v6]:port and a bare port', () => {
    expect(parseHostPort('127.0.0.1:8161')).toEqual({ host: '127.0.0.1', port: 8161 })
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseHostPort('8161')).toEqual({ host: '127.0.0.1', port: 8161 })
    expect(parseHostPort('admin.local:80')).toEqual({ host: 'admin.local', port: 80 })
    for (const bad of ['127.0.0.1', 'h:65536', ':80', 'h:-1', '', 'a b:1']) expect(parseHostPort(bad)).toBeUndefined()
  })

  test('closest suggests only plausible typos', () => {
    expect(editDistance('directroy', 'directory')).toBe(2)
    expect(closest('directroy', ['directory', 'journalMaxFileLength'])).toBe('directory')
    expect(closest('zzz', ['directory', 'brokerName'])).toBeUndefined()
  })
})
