/**
 * FrameDecoder and encodeFrame over every structure of layouts.ts: seeded random instances of each command
 * round-trip through bytes (with and without size prefixes, with and without stack traces), decode at every
 * split point, and the limits hold (maxFrameSize refused from the prefix alone, nesting, counts). Random bytes,
 * mutated frames and truncations must yield commands or a coded BrokerError, never another exception or a hang.
 * A failing random case prints its seed; `SEED=<n> bun test src/protocol/openwire/frame-codec.test.ts` replays.
 */
import { describe, expect, test } from 'bun:test'
import { BrokerError } from '../../lib/errors.ts'
import { SeededRandom, seedFromEnv } from '../../lib/random.ts'
import { TypeCode, type TypeName } from './command-types.ts'
import type { Command, DataStructure, WireThrowable } from './commands.ts'
import { encodeFrame, FrameDecoder, type FrameOptions } from './frame-codec.ts'
import { DESTINATIONS, type Field, LAYOUTS } from './layouts.ts'
import { NESTING_DEPTH_MAX } from './loose-codec.ts'
import type { Primitive, PrimitiveMap } from './primitive-map.ts'

const OPTS: FrameOptions = { maxFrameSize: 1 << 20, sizePrefixDisabled: false, stackTraceEnabled: false }
const COMMANDS = (Object.keys(LAYOUTS) as TypeName[]).filter((t) => LAYOUTS[t].some((f) => f.name === 'commandId'))

function randomString(r: SeededRandom): string {
  const pool = ['a', 'Z', '0', ' ', '\u00e9', '\u2603', '\ud834\udd1e', '\u0000', ':', '>']
  let s = ''
  for (let i = r.int(0, 12); i > 0; i--) s += r.pick(pool)
  return s
}

function randomPrimitive(r: SeededRandom, depth: number): Primitive {
  const kinds = ['null', 'boolean', 'byte', 'short', 'int', 'long', 'float', 'double', 'char', 'string', 'bytes']
  const kind = r.pick(depth < 2 ? [...kinds, 'map', 'list'] : kinds)
  switch (kind) {
    case 'null':
      return { kind: 'null' }
    case 'boolean':
      return { kind: 'boolean', value: r.next() < 0.5 }
    case 'byte':
      return { kind: 'byte', value: r.int(-128, 127) }
    case 'short':
      return { kind: 'short', value: r.int(-32768, 32767) }
    case 'int':
      return { kind: 'int', value: r.int(-(2 ** 31), 2 ** 31 - 1) }
    case 'long':
      return { kind: 'long', value: BigInt(r.int(-(2 ** 31), 2 ** 31)) * 4294967296n + BigInt(r.int(0, 2 ** 31)) }
    case 'float':
      return { kind: 'float', value: Math.fround(r.next() * 1000 - 500) }
    case 'double':
      return { kind: 'double', value: r.next() * 1e9 }
    case 'char':
      return { kind: 'char', value: String.fromCharCode(r.int(0, 0xffff)) }
    case 'string':
      return { kind: 'string', value: randomString(r) }
    case 'bytes':
      return { kind: 'bytes', value: new Uint8Array(r.int(0, 5)).map(() => r.int(0, 255)) }
    case 'map':
      return { kind: 'map', value: randomMap(r, depth + 1) }
    default:
      return { kind: 'list', value: Array.from({ length: r.int(0, 3) }, () => randomPrimitive(r, depth + 1)) }
  }
}

function randomMap(r: SeededRandom, depth = 0): PrimitiveMap {
  const m: PrimitiveMap = new Map()
  for (let i = r.int(0, 4); i > 0; i--) m.set(`k${i}${randomString(r)}`, randomPrimitive(r, depth))
  return m
}

function randomThrowable(r: SeededRandom, stack: boolean, depth = 0): WireThrowable {
  const t: WireThrowable = { className: 'java.lang.Exception', message: r.next() < 0.3 ? null : randomString(r) }
  if (stack) {
    t.stackTrace = Array.from({ length: r.int(0, 2) }, () => ({
      className: 'C',
      methodName: r.next() < 0.5 ? null : 'm',
      fileName: 'C.java',
      line: r.int(-1, 500),
    }))
    t.cause = depth < 2 && r.next() < 0.5 ? randomThrowable(r, stack, depth + 1) : null
  }
  return t
}

function randomField(r: SeededRandom, f: Field, stack: boolean, depth: number): unknown {
  const maybe = <T>(v: () => T) => (r.next() < 0.2 ? null : v())
  switch (f.kind) {
    case 'bool':
      return r.next() < 0.5
    case 'byte':
      return r.int(-128, 127)
    case 'int':
      return r.int(-(2 ** 31), 2 ** 31 - 1)
    case 'long':
      return BigInt(r.int(-(2 ** 40), 2 ** 40))
    case 'string':
      return maybe(() => randomString(r))
    case 'bytes':
      return maybe(() => new Uint8Array(r.int(0, 6)).map(() => r.int(0, 255)))
    case 'magic':
      return new Uint8Array(8).map(() => r.int(0, 255))
    case 'map':
      return maybe(() => randomMap(r))
    case 'throwable':
      return maybe(() => randomThrowable(r, stack))
    case 'nested':
    case 'cached':
      return depth > 3 ? null : maybe(() => randomStructure(r, pickType(r, f), stack, depth + 1))
    case 'array':
      return depth > 3
        ? null
        : maybe(() => Array.from({ length: r.int(0, 2) }, () => randomStructure(r, pickType(r, f), stack, depth + 1)))
  }
}

function pickType(r: SeededRandom, f: Field): TypeName {
  return f.accepts!.length > 0 ? r.pick(f.accepts!) : r.pick([...DESTINATIONS, 'ConsumerId', 'BrokerId'])
}

function randomStructure(r: SeededRandom, type: TypeName, stack: boolean, depth = 0): DataStructure {
  const out: Record<string, unknown> = { type }
  for (const f of LAYOUTS[type]) out[f.name] = randomField(r, f, stack, depth)
  return out as DataStructure
}

function decodeAll(bytes: Uint8Array, opts = OPTS, splits: number[] = []): Command[] {
  const d = new FrameDecoder(opts)
  const out: Command[] = []
  let at = 0
  for (const s of [...splits, bytes.length]) {
    d.push(bytes.subarray(at, s), (c) => void out.push(c))
    at = s
  }
  return out
}

function decodeError(bytes: Uint8Array, opts = OPTS): BrokerError {
  try {
    decodeAll(bytes, opts)
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e
    return e
  }
  throw new Error('expected a BrokerError, decoded fine')
}

describe('FrameDecoder round trips', () => {
  for (const stack of [false, true])
    for (const prefix of [true, false])
      test(`FrameDecoder round-trips every command (stackTraces=${stack}, sizePrefix=${prefix})`, () => {
        const seed = seedFromEnv()
        const r = new SeededRandom(seed)
        const opts = { ...OPTS, stackTraceEnabled: stack, sizePrefixDisabled: !prefix }
        try {
          for (let round = 0; round < 20; round++)
            for (const type of COMMANDS) {
              const c = randomStructure(r, type, stack) as Command
              const bytes = encodeFrame(c, opts)
              expect(decodeAll(bytes, opts)).toEqual([c])
              expect(encodeFrame(decodeAll(bytes, opts)[0]!, opts)).toEqual(bytes)
            }
        } catch (e) {
          console.error(`SEED=${seed}`)
          throw e
        }
      })

  test('FrameDecoder decodes a stream of frames at every split point', () => {
    const r = new SeededRandom(7)
    const cmds = COMMANDS.slice(0, 12).map((t) => randomStructure(r, t, false) as Command)
    for (const opts of [OPTS, { ...OPTS, sizePrefixDisabled: true }]) {
      const frames = cmds.map((c) => encodeFrame(c, opts))
      const all = new Uint8Array(frames.reduce((n, f) => n + f.length, 0))
      frames.reduce((at, f) => (all.set(f, at), at + f.length), 0)
      for (let i = 0; i <= all.length; i += opts.sizePrefixDisabled ? 7 : 1)
        expect(decodeAll(all, opts, [i])).toEqual(cmds)
      expect(
        decodeAll(
          all,
          opts,
          Array.from({ length: all.length }, (_, i) => i),
        ),
      ).toEqual(cmds)
    }
  })

  test('FrameDecoder keeps its own copy of a partial chunk the caller then reuses', () => {
    const bytes = encodeFrame({ type: 'KeepAliveInfo', commandId: 5, responseRequired: false }, OPTS)
    const chunk = bytes.slice(0, 6)
    const d = new FrameDecoder(OPTS)
    const out: Command[] = []
    d.push(chunk, (c) => void out.push(c))
    chunk.fill(0xff)
    d.push(bytes.subarray(6), (c) => void out.push(c))
    expect(out).toEqual([{ type: 'KeepAliveInfo', commandId: 5, responseRequired: false }])
  })
})

describe('FrameDecoder limits and errors', () => {
  test('FrameDecoder refuses a size prefix over maxFrameSize before buffering the body', () => {
    const d = new FrameDecoder({ ...OPTS, maxFrameSize: 100 })
    expect(() => d.push(new Uint8Array([0, 0, 0, 101]), () => {})).toThrow(
      expect.objectContaining({ code: 'OPENWIRE_FRAME_TOO_LARGE' }),
    )
    expect(d.bufferedBytes).toBe(0)
    expect(decodeError(new Uint8Array([0xff, 0xff, 0xff, 0xff])).code).toBe('OPENWIRE_FRAME_INVALID')
  })

  test('FrameDecoder refuses a frame without a prefix that outgrows maxFrameSize', () => {
    const opts = { ...OPTS, sizePrefixDisabled: true, maxFrameSize: 64 }
    const big = encodeFrame(
      { type: 'ControlCommand', commandId: 1, responseRequired: false, command: 'x'.repeat(200) },
      {
        ...opts,
        maxFrameSize: 1000,
      },
    )
    expect(decodeError(big.subarray(0, 100), opts).code).toBe('OPENWIRE_FRAME_TOO_LARGE')
  })

  test('encodeFrame refuses a command over maxFrameSize', () => {
    const c: Command = { type: 'ControlCommand', commandId: 1, responseRequired: false, command: 'x'.repeat(200) }
    expect(() => encodeFrame(c, { ...OPTS, maxFrameSize: 100 })).toThrow(
      expect.objectContaining({ code: 'OPENWIRE_FRAME_TOO_LARGE' }),
    )
  })

  test('FrameDecoder names type, field and offset of a bad byte', () => {
    const bytes = encodeFrame(
      { type: 'SessionInfo', commandId: 1, responseRequired: false, sessionId: null },
      OPTS,
    ).slice()
    bytes[9] = 2 // SessionInfo.responseRequired
    const e = decodeError(bytes)
    expect(e.code).toBe('OPENWIRE_FRAME_INVALID')
    expect(e.details).toEqual({ where: 'SessionInfo.responseRequired', offset: 9 })
    expect(e.message).toContain('expected 0 or 1')
  })

  test('FrameDecoder refuses trailing bytes, unknown and refused types, and wrongly typed nested values', () => {
    const ka = encodeFrame({ type: 'KeepAliveInfo', commandId: 1, responseRequired: false }, OPTS)
    const padded = new Uint8Array([0, 0, 0, 7, ...ka.subarray(4), 0])
    expect(decodeError(padded).message).toContain('after the KeepAliveInfo')
    expect(decodeError(new Uint8Array([0, 0, 0, 1, 13])).code).toBe('OPENWIRE_FRAME_INVALID')
    expect(decodeError(new Uint8Array([0, 0, 0, 1, 29])).code).toBe('OPENWIRE_UNSUPPORTED')
    const si = encodeFrame({ type: 'SessionInfo', commandId: 1, responseRequired: false, sessionId: null }, OPTS)
    // A SessionInfo whose sessionId is a Queue.
    const bad = new Uint8Array([0, 0, 0, 10, ...si.subarray(4, 9), 0, 1, TypeCode.Queue, 0])
    bad[3] = bad.length - 4
    const e = decodeError(bad)
    expect(e.details?.where).toBe('SessionInfo.sessionId')
    expect(e.message).toContain('found a Queue, expected SessionId')
  })

  test(`FrameDecoder refuses structures nested past NESTING_DEPTH_MAX (${NESTING_DEPTH_MAX})`, () => {
    // DataResponse.data holding a DataResponse, and so on: each level is "present", type, int, bool, int.
    const level = [1, TypeCode.DataResponse, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    const body = [TypeCode.DataResponse, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    for (let i = 0; i < NESTING_DEPTH_MAX + 2; i++) body.push(...level)
    body.push(0)
    const frame = new Uint8Array([0, 0, 0, 0, ...body])
    new DataView(frame.buffer).setInt32(0, body.length)
    expect(decodeError(frame).message).toContain('nesting depth')
  })

  test('FrameDecoder refuses forged counts without allocating for them', () => {
    // ConnectionInfo.brokerPath present with a count of 32767 and nothing after it.
    const ci = encodeFrame(
      {
        type: 'ConnectionInfo',
        commandId: 1,
        responseRequired: false,
        connectionId: null,
        clientId: null,
        password: null,
        userName: null,
        brokerPath: [],
        brokerMasterConnector: false,
        manageable: false,
        clientMaster: false,
        faultTolerant: false,
        failoverReconnect: false,
        clientIp: null,
      },
      OPTS,
    ).slice()
    const countAt = 4 + 1 + 5 + 4 + 1
    new DataView(ci.buffer).setInt16(countAt, 32767)
    expect(decodeError(ci).details?.where).toBe('ConnectionInfo.brokerPath')
  })
})

describe('FrameDecoder fuzz', () => {
  function mustBeCleanOutcome(bytes: Uint8Array, opts: FrameOptions, splits: number[] = []): void {
    try {
      decodeAll(bytes, opts, splits)
    } catch (e) {
      if (!(e instanceof BrokerError) || !e.code.startsWith('OPENWIRE_')) throw e
    }
  }

  test('FrameDecoder turns random bytes, mutations and truncations into commands or coded errors', () => {
    const seed = seedFromEnv()
    const r = new SeededRandom(seed)
    try {
      for (let i = 0; i < 3000; i++) {
        const opts = { ...OPTS, sizePrefixDisabled: r.next() < 0.2, stackTraceEnabled: r.next() < 0.3 }
        const mode = r.int(0, 2)
        let bytes: Uint8Array
        if (mode === 0) bytes = new Uint8Array(r.int(0, 64)).map(() => r.int(0, 255))
        else {
          bytes = encodeFrame(randomStructure(r, r.pick(COMMANDS), opts.stackTraceEnabled) as Command, opts).slice()
          if (mode === 1) for (let k = r.int(1, 4); k > 0; k--) bytes[r.int(0, bytes.length - 1)] = r.int(0, 255)
          else bytes = bytes.subarray(0, r.int(0, bytes.length))
        }
        const split = r.int(0, bytes.length)
        mustBeCleanOutcome(bytes, opts, [split])
      }
    } catch (e) {
      console.error(`SEED=${seed}`)
      throw e
    }
  })
})
