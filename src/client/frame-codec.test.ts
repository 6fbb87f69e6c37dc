/**
 * Goal: the client codec round-trips frames (escaped headers, binary bodies with NUL, empty bodies), survives every
 * split point of its input, skips heart-beats, and fails with a coded error on malformed or oversized input.
 */
import { describe, expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import { ClientFrameParser, encodeFrame } from './frame-codec.ts'

const enc = new TextEncoder()

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

describe('ClientFrameParser', () => {
  const body = new Uint8Array([1, 0, 2, 10, 0, 255])
  const frames = [
    encodeFrame('MESSAGE', { destination: '/queue/a', 'message-id': 'ID:x:1', odd: 'a\nb\\c:d\re' }, body, '1.2'),
    enc.encode('\n\r\n'),
    encodeFrame('RECEIPT', { 'receipt-id': 'r-1' }, undefined, '1.2'),
    enc.encode('ERROR\r\nmessage:bad\r\n\r\nno length here\0'),
  ]
  const wire = concat(frames)

  test('ClientFrameParser round-trips escaped headers and binary bodies at every split point', () => {
    for (let cut = 0; cut <= wire.length; cut++) {
      const p = new ClientFrameParser()
      p.version = '1.2'
      const got = [...p.push(wire.subarray(0, cut)), ...p.push(wire.subarray(cut))]
      expect(got.map((f) => f.command)).toEqual(['MESSAGE', 'RECEIPT', 'ERROR'])
      expect(got[0].headers['odd']).toBe('a\nb\\c:d\re')
      expect(got[0].headers['message-id']).toBe('ID:x:1')
      expect([...got[0].body]).toEqual([...body])
      expect(got[1].body.length).toBe(0)
      expect(got[2].headers['message']).toBe('bad')
      expect(new TextDecoder().decode(got[2].body)).toBe('no length here')
      expect(p.heartbeats).toBe(2)
    }
  })

  test('ClientFrameParser keeps the first of repeated headers', () => {
    const p = new ClientFrameParser()
    const [f] = p.push(enc.encode('MESSAGE\nfoo:1\nfoo:2\n\n\0'))
    expect(f.headers['foo']).toBe('1')
  })

  test('ClientFrameParser does not unescape CONNECTED headers', () => {
    const p = new ClientFrameParser()
    p.version = '1.2'
    const [f] = p.push(enc.encode('CONNECTED\nserver:a\\cb\n\n\0'))
    expect(f.headers['server']).toBe('a\\cb')
  })

  test('ClientFrameParser rejects frames over frameBytesMax', () => {
    const p = new ClientFrameParser({ frameBytesMax: 100 })
    let err: unknown
    try {
      p.push(encodeFrame('MESSAGE', {}, new Uint8Array(200), '1.2'))
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'STOMP_FRAME_TOO_LARGE')).toBe(true)
    const q = new ClientFrameParser({ frameBytesMax: 100 })
    expect(() => q.push(enc.encode('MESSAGE\n\n' + 'x'.repeat(300)))).toThrow()
  })

  test('ClientFrameParser rejects a bad escape and a header without colon', () => {
    const p = new ClientFrameParser()
    p.version = '1.2'
    expect(() => p.push(enc.encode('MESSAGE\na:\\t\n\n\0'))).toThrow()
    const q = new ClientFrameParser()
    let err: unknown
    try {
      q.push(enc.encode('MESSAGE\nnocolon\n\n\0'))
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'STOMP_FRAME_INVALID')).toBe(true)
  })

  test('ClientFrameParser handles a large body arriving in many chunks', () => {
    const big = new Uint8Array(1_000_000).map((_, i) => i % 251)
    const w = encodeFrame('MESSAGE', { a: 'b' }, big, '1.2')
    const p = new ClientFrameParser()
    const got = []
    for (let i = 0; i < w.length; i += 4096) got.push(...p.push(w.subarray(i, i + 4096)))
    expect(got.length).toBe(1)
    expect(got[0].body.length).toBe(big.length)
    expect(got[0].body[999_999]).toBe(big[999_999])
  })
})

describe('encodeFrame', () => {
  test('encodeFrame leaves CONNECT headers unescaped and adds content-length to bodies', () => {
    const t = new TextDecoder().decode(encodeFrame('CONNECT', { login: 'a:b' }, undefined, '1.2'))
    expect(t).toBe('CONNECT\nlogin:a:b\n\n\0')
    const s = new TextDecoder().decode(encodeFrame('SEND', { destination: '/queue/x' }, enc.encode('hi'), '1.2'))
    expect(s).toBe('SEND\ndestination:/queue/x\ncontent-length:2\n\nhi\0')
  })
})
