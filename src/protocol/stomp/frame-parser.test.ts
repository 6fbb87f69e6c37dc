/**
 * FrameParser and encodeFrame: round trips, every split point, limits, escaping per version, and seeded
 * random/mutated input that must yield frames or a coded BrokerError (never another exception, never a hang).
 * A failing random case prints its seed; `SEED=<n> bun test src/protocol/stomp/frame-parser.test.ts` replays it.
 */
import { describe, expect, test } from 'bun:test'
import { BrokerError } from '../../lib/errors.ts'
import { FrameParser } from './frame-parser.ts'
import { encodeFrame, escapeHeader } from './frame-encoder.ts'
import type { StompFrame, StompVersion } from './frame.ts'
import { seededGenerator } from '../../lib/random.ts'

const enc = new TextEncoder()
const bytes = (s: string) => enc.encode(s)

function parseAll(input: Uint8Array | string, version: StompVersion = '1.2', limits = {}): StompFrame[] {
  const p = new FrameParser(limits)
  p.setVersion(version)
  const out: StompFrame[] = []
  p.push(typeof input === 'string' ? bytes(input) : input, (f) => void out.push(f))
  return out
}

function parseError(input: Uint8Array | string, version: StompVersion = '1.2', limits = {}): BrokerError {
  try {
    parseAll(input, version, limits)
  } catch (e) {
    expect(e).toBeInstanceOf(BrokerError)
    return e as BrokerError
  }
  throw new Error('expected a BrokerError, parsed fine')
}

describe('FrameParser', () => {
  test('FrameParser parses a frame with headers and a NUL-terminated body', () => {
    const [f] = parseAll('SEND\ndestination:/queue/a\nreceipt:1\n\nhello\0')
    expect(f.command).toBe('SEND')
    expect(f.headers.destination).toBe('/queue/a')
    expect(f.headers.receipt).toBe('1')
    expect(Buffer.from(f.body).toString()).toBe('hello')
  })

  test('FrameParser skips heart-beat EOLs and accepts CR LF line endings', () => {
    const frames = parseAll('\n\r\n\nSEND\r\ndestination:/queue/a\r\n\r\nx\0\n\n\r\nDISCONNECT\n\n\0\n')
    expect(frames.map((f) => f.command)).toEqual(['SEND', 'DISCONNECT'])
    expect(frames[0].headers.destination).toBe('/queue/a')
  })

  test('FrameParser keeps the first of repeated headers', () => {
    const [f] = parseAll('SEND\nfoo:1\nfoo:2\ndestination:/queue/a\n\n\0')
    expect(f.headers.foo).toBe('1')
  })

  test('FrameParser reads content-length bodies containing NUL bytes', () => {
    const body = new Uint8Array([1, 0, 2, 0, 0, 3])
    const head = bytes('SEND\ndestination:/queue/a\ncontent-length:6\n\n')
    const input = Buffer.concat([head, body, new Uint8Array([0]), bytes('SEND\ndestination:/queue/b\n\nz\0')])
    const frames = parseAll(input)
    expect(frames.length).toBe(2)
    expect([...frames[0].body]).toEqual([...body])
    expect(Buffer.from(frames[1].body).toString()).toBe('z')
  })

  test('FrameParser rejects a content-length body not followed by NUL', () => {
    expect(parseError('SEND\ncontent-length:2\n\nabc\0').code).toBe('STOMP_FRAME_INVALID')
    expect(parseError('SEND\ncontent-length:x1\n\nabc\0').code).toBe('STOMP_FRAME_INVALID')
    expect(parseError('SEND\ncontent-length: 2\n\nab\0').code).toBe('STOMP_FRAME_INVALID')
  })

  test('FrameParser unescapes headers per version', () => {
    const raw = 'MESSAGE\nk\\cey:a\\nb\\\\c\\cd\n\n\0'
    expect(parseAll(raw, '1.1')[0].headers['k:ey']).toBe('a\nb\\c:d')
    expect(parseAll(raw, '1.0')[0].headers['k\\cey']).toBe('a\\nb\\\\c\\cd')
    expect(parseAll('SEND\nv:x\\ry\n\n\0', '1.2')[0].headers.v).toBe('x\ry')
    expect(parseError('SEND\nv:x\\ry\n\n\0', '1.1').code).toBe('STOMP_FRAME_INVALID')
    expect(parseError('SEND\nv:x\\ty\n\n\0', '1.2').code).toBe('STOMP_FRAME_INVALID')
    expect(parseError('SEND\nv:x\\\n\n\0', '1.2').code).toBe('STOMP_FRAME_INVALID')
  })

  test('FrameParser never unescapes CONNECT headers', () => {
    const [f] = parseAll('CONNECT\npasscode:a\\nb\n\n\0', '1.2')
    expect(f.headers.passcode).toBe('a\\nb')
  })

  test('FrameParser applies setVersion from the callback to the next frame of the same chunk', () => {
    const p = new FrameParser()
    const seen: string[] = []
    p.push(bytes('CONNECT\naccept-version:1.2\n\n\0SEND\nh:a\\cb\n\n\0'), (f) => {
      if (f.command === 'CONNECT') p.setVersion('1.2')
      else seen.push(f.headers.h)
    })
    expect(seen).toEqual(['a:b'])
  })

  test('FrameParser rejects a header line without a colon', () => {
    expect(parseError('SEND\nnocolon\n\n\0').code).toBe('STOMP_FRAME_INVALID')
  })

  test('FrameParser rejects invalid UTF-8 in the command, header names and values with STOMP_ENCODING_INVALID', () => {
    const bad: Array<[string, number[]]> = [
      ['lone continuation byte', [0x80]],
      ['0xff', [0xff]],
      ['overlong "/"', [0xc0, 0xaf]],
      ['truncated sequence', [0xe2, 0x82]],
      ['UTF-16 surrogate', [0xed, 0xa0, 0x80]],
      ['above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ]
    for (const [what, seq] of bad) {
      const b = Buffer.from(seq)
      for (const input of [
        Buffer.concat([bytes('SEND\ndestination:/queue/a'), b, bytes('\n\n\0')]),
        Buffer.concat([bytes('SEND\nh'), b, bytes(':v\n\n\0')]),
        Buffer.concat([bytes('SEN'), b, bytes('D\n\n\0')]),
      ]) {
        const e = parseError(input)
        expect({ what, code: e.code }).toEqual({ what, code: 'STOMP_ENCODING_INVALID' })
        // The message names the offset and bytes in hex, never the raw bytes.
        expect(e.message).not.toContain(b.toString('latin1'))
      }
    }
    // The same in CONNECT (never unescaped) and in STOMP 1.0 frames.
    expect(
      parseError(Buffer.concat([bytes('CONNECT\nlogin:'), Buffer.from([0xfe]), bytes('\n\n\0')]), '1.0').code,
    ).toBe('STOMP_ENCODING_INVALID')
  })

  test('FrameParser keeps valid UTF-8 (2-, 3-, 4-byte characters and a BOM) exactly as sent', () => {
    const [f] = parseAll('SEND\ndestination:/queue/é€😀\n\ufeffh:\ufeffv\n\n\0')
    expect(f.headers.destination).toBe('/queue/é€😀')
    expect(f.headers['\ufeffh']).toBe('\ufeffv')
  })

  test('FrameParser accepts only decimal digits in content-length', () => {
    const withLength = (v: string) => `SEND\ndestination:/queue/a\ncontent-length:${v}\n\nabcde\0`
    expect(parseAll(withLength('5'))[0].body.length).toBe(5)
    expect(parseAll(withLength('005'))[0].body.length).toBe(5)
    expect(parseAll('SEND\ncontent-length:0\n\n\0')[0].body.length).toBe(0)
    for (const v of ['', ' 5', '  5', '5 ', '\t5', '+5', '-5', '0x5', '5e0', '5.0', '٥', '5\u0000', 'five', '1_0']) {
      const e = parseError(withLength(v))
      expect({ v, code: e.code }).toEqual({ v, code: 'STOMP_FRAME_INVALID' })
    }
    // Syntactically fine but over any limit (and past exact doubles): too large, never wrapped or rounded.
    for (const v of ['9'.repeat(16), '9'.repeat(40), '18446744073709551621', String(100 * 1024 * 1024 + 1)]) {
      expect({ v, code: parseError(withLength(v)).code }).toEqual({ v, code: 'STOMP_FRAME_TOO_LARGE' })
    }
  })

  test('FrameParser quotes client text in errors only as a short escaped excerpt', () => {
    const evil = '\x1b]0;pwned\x07' + 'x'.repeat(2000)
    for (const input of [
      `SEND\n${evil}\n\n\0`, // header line without a colon
      `SEND\nh:\\q${evil}\n\n\0`, // undefined escape
      `SEND\ncontent-length:${evil}\n\n\0`,
      `${'\x1b[2J'.repeat(100)}\nh:\\q\n\n\0`, // odd command named in a later error
    ]) {
      const e = parseError(input, '1.2', { headerLineBytesMax: 4096 })
      expect(e.message).not.toMatch(/[\u0000-\u001f\u007f]/)
      expect(e.message.length).toBeLessThan(400)
    }
  })

  test('FrameParser rejects a command line over commandBytesMax, even without an EOL yet', () => {
    expect(parseError('X'.repeat(1100)).code).toBe('STOMP_FRAME_TOO_LARGE')
    expect(parseError('X'.repeat(1025) + '\n').code).toBe('STOMP_FRAME_TOO_LARGE')
    expect(parseAll('X'.repeat(1024) + '\n\n\0')[0].command.length).toBe(1024)
  })

  test('FrameParser rejects header lines over headerLineBytesMax', () => {
    const ok = 'h:' + 'v'.repeat(10240 - 2)
    expect(parseAll(`SEND\n${ok}\n\n\0`)[0].headers.h.length).toBe(10238)
    expect(parseError(`SEND\n${ok}v\n\n\0`).code).toBe('STOMP_FRAME_TOO_LARGE')
  })

  test('FrameParser rejects more than headersMax headers', () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `h${i}:v`).join('\n')
    expect(Object.keys(parseAll(`SEND\n${lines(1000)}\n\n\0`)[0].headers).length).toBe(1000)
    expect(parseError(`SEND\n${lines(1001)}\n\n\0`).code).toBe('STOMP_FRAME_TOO_LARGE')
  })

  test('FrameParser rejects frames over bodyBytesMax, with and without content-length', () => {
    expect(parseError('SEND\ncontent-length:101\n\n', '1.2', { bodyBytesMax: 100 }).code).toBe('STOMP_FRAME_TOO_LARGE')
    expect(parseError('SEND\n\n' + 'b'.repeat(101), '1.2', { bodyBytesMax: 100 }).code).toBe('STOMP_FRAME_TOO_LARGE')
    expect(parseAll('SEND\n\n' + 'b'.repeat(100) + '\0', '1.2', { bodyBytesMax: 100 })[0].body.length).toBe(100)
  })

  test('FrameParser copies a large body without content-length into place across reads, whole and exact', () => {
    // Over UNSIZED_JOIN_BYTES_MAX (64 KiB) and over the 1 MiB copy-out size; fed in 7,001-byte reads.
    for (const n of [70_000, (1 << 20) + 3, (3 << 20) + 11]) {
      const body = new Uint8Array(n)
      for (let i = 0; i < n; i++) body[i] = 1 + (i % 251)
      const input = Buffer.concat([
        bytes('SEND\ndestination:/queue/a\n\n'),
        body,
        new Uint8Array([0]),
        bytes('SEND\nn:2\n\nx\0'),
      ])
      const p = new FrameParser({ bodyBytesMax: 4 << 20 })
      const out: StompFrame[] = []
      for (let at = 0; at < input.length; at += 7001) p.push(input.subarray(at, at + 7001), (f) => void out.push(f))
      expect(out.map((f) => f.body.length)).toEqual([n, 1])
      expect(Buffer.compare(Buffer.from(out[0]!.body), Buffer.from(body))).toBe(0)
      expect(out[1]!.headers.n).toBe('2')
    }
    const over = new FrameParser({ bodyBytesMax: 100_000 })
    const chunk = bytes('b'.repeat(60_000))
    over.push(bytes('SEND\n\n'), () => {})
    over.push(chunk, () => {})
    expect(() => over.push(chunk, () => {})).toThrow(expect.objectContaining({ code: 'STOMP_FRAME_TOO_LARGE' }))
  })

  test('FrameParser asks bodyGate for an unsized body as it grows, and stops until fed again when refused', () => {
    const n = (2 << 20) + 5
    const body = new Uint8Array(n).fill(0x62)
    const input = Buffer.concat([bytes('SEND\n\n'), body, new Uint8Array([0])])
    const p = new FrameParser({ bodyBytesMax: 4 << 20 })
    const asked: number[] = []
    let allow = false
    p.bodyGate = (b) => {
      asked.push(b)
      return b === 0 || allow
    }
    const out: StompFrame[] = []
    let rest: Uint8Array = input
    for (let guard = 0; guard < 20 && rest.length > 0; guard++) {
      const used = p.push(rest, (f) => void out.push(f))
      rest = rest.subarray(used)
      allow = true // the caller's budget grants the refused step; it feeds the rest again
    }
    expect(out.length).toBe(1)
    expect(out[0]!.body.length).toBe(n)
    // 0 at body start, then 1 MiB steps past the first 64 KiB (the refused one is granted later, not asked again).
    expect(asked).toEqual([0, 1 << 20, 1 << 20])
  })

  test('FrameParser stays failed after an error', () => {
    const p = new FrameParser()
    expect(() => p.push(bytes('SEND\nbad\n\n\0'), () => {})).toThrow(BrokerError)
    expect(() => p.push(bytes('SEND\n\n\0'), () => {})).toThrow(BrokerError)
  })

  test('FrameParser gives the same frames for every split point', () => {
    const body = new Uint8Array([0, 1, 0, 255])
    const input = Buffer.concat([
      bytes('\nCONNECT\naccept-version:1.2\n\n\0\r\n'),
      bytes('SEND\r\ndestination:/queue/a\\cb\r\ncontent-length:4\r\n\r\n'),
      body,
      bytes('\0\nSEND\ndestination:/topic/x\nfoo:bar\nfoo:baz\n\nplain text\0'),
    ])
    const reference = parseAll(input)
    expect(reference.length).toBe(3)
    for (let i = 0; i <= input.length; i++) {
      for (const j of [i, Math.min(input.length, i + 1), Math.min(input.length, i + 7)]) {
        const p = new FrameParser()
        p.setVersion('1.2')
        const out: StompFrame[] = []
        p.push(input.subarray(0, i), (f) => void out.push(f))
        p.push(input.subarray(i, j), (f) => void out.push(f))
        p.push(input.subarray(j), (f) => void out.push(f))
        expect(out).toEqual(reference)
      }
    }
    // and byte by byte
    const p = new FrameParser()
    p.setVersion('1.2')
    const out: StompFrame[] = []
    for (let i = 0; i < input.length; i++) p.push(input.subarray(i, i + 1), (f) => void out.push(f))
    expect(out).toEqual(reference)
    expect(p.idle()).toBe(true)
  })

  test('FrameParser reports idle only between frames', () => {
    const p = new FrameParser()
    p.push(bytes('SEN'), () => {})
    expect(p.idle()).toBe(false)
    p.push(bytes('D\n\n\0'), () => {})
    expect(p.idle()).toBe(true)
  })
})

describe('encodeFrame', () => {
  test('encodeFrame escapes per version and never for CONNECTED', () => {
    expect(escapeHeader('a:b\\c\nd\re', '1.2')).toBe('a\\cb\\\\c\\nd\\re')
    expect(escapeHeader('a:b\\c\nd\re', '1.1')).toBe('a\\cb\\\\c\\nd\re')
    expect(escapeHeader('a:b\nc', '1.0')).toBe('a:b c')
    const connected = Buffer.from(encodeFrame('CONNECTED', { version: '1.2', server: 'x:y' }, null, '1.2')).toString()
    expect(connected).toBe('CONNECTED\nversion:1.2\nserver:x:y\n\n\0')
  })

  test('encodeFrame and FrameParser round-trip headers and binary bodies for each version', () => {
    const rnd = seededGenerator(7)
    for (const version of ['1.0', '1.1', '1.2'] as StompVersion[]) {
      for (let n = 0; n < 50; n++) {
        const headers: Record<string, string> = {}
        const alphabet = version === '1.0' ? 'abc:=\\ é' : 'abc:=\\\n é' + (version === '1.2' ? '\r' : '')
        for (let h = 0; h < 5; h++) {
          let v = ''
          for (let k = 0; k < 1 + Math.floor(rnd() * 12); k++) v += alphabet[Math.floor(rnd() * alphabet.length)]
          headers[`h${h}`] = v
        }
        const body = new Uint8Array(Math.floor(rnd() * 40)).map(() => Math.floor(rnd() * 256))
        const wire = encodeFrame('MESSAGE', headers, body, version)
        const [f] = parseAll(wire, version)
        expect(f.command).toBe('MESSAGE')
        expect([...f.body]).toEqual([...body])
        for (const [k, v] of Object.entries(headers)) expect(f.headers[k]).toBe(v)
        expect(f.headers['content-length']).toBe(String(body.length))
      }
    }
  })
})

describe('FrameParser with random input', () => {
  test('FrameParser turns random and mutated bytes into frames or a coded error', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)
    console.log(`FrameParser random input: SEED=${seed}`)
    const rnd = seededGenerator(seed)
    const good = Buffer.concat([
      bytes('SEND\ndestination:/queue/a\ncontent-length:3\n\nab\0\0'),
      bytes('SUBSCRIBE\nid:1\ndestination:/topic/t\nack:client\n\n\0\n'),
      bytes('ACK\nid:x\\cy\n\n\0'),
    ])
    let frames = 0
    let errors = 0
    try {
      for (let round = 0; round < 400; round++) {
        let input: Uint8Array
        if (round % 2 === 0) {
          input = new Uint8Array(1 + Math.floor(rnd() * 300)).map(() => {
            const r = rnd()
            // bias toward structural bytes so some inputs get deep into the parser
            return r < 0.1 ? 0x0a : r < 0.15 ? 0 : r < 0.2 ? 0x3a : r < 0.25 ? 0x5c : Math.floor(rnd() * 256)
          })
        } else {
          input = Buffer.from(good)
          for (let m = 0; m < 1 + Math.floor(rnd() * 4); m++)
            input[Math.floor(rnd() * input.length)] = Math.floor(rnd() * 256)
        }
        const p = new FrameParser({ bodyBytesMax: 1000, headerLineBytesMax: 100, headersMax: 20, commandBytesMax: 50 })
        p.setVersion(rnd() < 0.5 ? '1.2' : '1.0')
        let pos = 0
        try {
          while (pos < input.length) {
            const step = 1 + Math.floor(rnd() * 40)
            p.push(input.subarray(pos, pos + step), () => void frames++)
            pos += step
          }
        } catch (e) {
          if (
            !(e instanceof BrokerError) ||
            !['STOMP_FRAME_INVALID', 'STOMP_FRAME_TOO_LARGE', 'STOMP_ENCODING_INVALID'].includes(e.code)
          )
            throw e
          errors++
        }
      }
    } catch (e) {
      console.error(`FrameParser random input failed with SEED=${seed}`)
      throw e
    }
    expect(frames + errors).toBeGreaterThan(0)
  })
})

describe('FrameParser flow control', () => {
  test('FrameParser stops after a frame when the callback returns false and resumes with the rest', () => {
    const input = bytes('SEND\nn:1\n\n\0SEND\nn:2\n\n\0\nSEND\nn:3\n\n\0')
    const p = new FrameParser()
    const seen: string[] = []
    let rest: Uint8Array = input
    for (let guard = 0; guard < 10 && rest.length > 0; guard++) {
      const used = p.push(rest, (f) => {
        seen.push(f.headers.n)
        return false
      })
      expect(used).toBeGreaterThan(0)
      rest = rest.subarray(used)
    }
    expect(seen).toEqual(['1', '2', '3'])
    expect(p.idle()).toBe(true)
  })
})
