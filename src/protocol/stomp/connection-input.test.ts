/**
 * Goal: ConnectionInput keeps input in order across pauses, charges large bodies to the receive budget before
 * reading them (pausing the port until granted) and hands parser errors to its hook. Method: a stub port that
 * records pause/resume, frames pushed as bytes, a MemoryUsage small enough to be full.
 */
import { describe, expect, test } from 'bun:test'
import { MemoryUsage } from '../../broker/index.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { ConnectionInput } from './connection-input.ts'
import { RECEIVE_SMALL_BYTES } from './connection-options.ts'
import type { DuplexPort } from './duplex-port.ts'
import { DEFAULT_FRAME_LIMITS, type StompFrame } from './frame.ts'

function setup(usage: MemoryUsage | null = null) {
  const calls: string[] = []
  const port = { pause: () => calls.push('pause'), resume: () => calls.push('resume') } as unknown as DuplexPort
  const frames: StompFrame[] = []
  const errors: unknown[] = []
  const input = new ConnectionInput(port, DEFAULT_FRAME_LIMITS, usage, {
    accepting: () => true,
    closed: () => false,
    frame: (f) => frames.push(f),
    parseFailed: (err) => errors.push(err),
  })
  return { input, calls, frames, errors }
}

const send = (dest: string, body = ''): Buffer =>
  Buffer.from(`SEND\ndestination:${dest}\ncontent-length:${body.length}\n\n${body}\0`)

describe('ConnectionInput', () => {
  test('ConnectionInput keeps what arrives while paused and parses it, in order, on resume', () => {
    const { input, calls, frames } = setup()
    input.onData(send('/queue/a'))
    input.pause()
    input.onData(send('/queue/b'))
    input.onData(send('/queue/c'))
    expect(frames.map((f) => f.headers.destination)).toEqual(['/queue/a'])
    input.resume()
    expect(frames.map((f) => f.headers.destination)).toEqual(['/queue/a', '/queue/b', '/queue/c'])
    expect(calls).toEqual(['pause', 'resume'])
  })

  test('ConnectionInput pauses a body over RECEIVE_SMALL_BYTES until the receive budget grants it', () => {
    const usage = new MemoryUsage(RECEIVE_SMALL_BYTES * 4)
    const big = 'x'.repeat(RECEIVE_SMALL_BYTES * 3)
    const { input, calls, frames } = setup(usage)
    expect(usage.reserve(RECEIVE_SMALL_BYTES * 2, () => {})).toBe(true)
    input.onData(send('/queue/big', big))
    expect(frames).toEqual([])
    expect(input.paused).toBe(true)
    expect(calls).toEqual(['pause'])
    usage.release(RECEIVE_SMALL_BYTES * 2)
    expect(frames.map((f) => f.body?.length)).toEqual([big.length])
    expect(input.paused).toBe(false)
    // The frame was applied without an outcome taking its charge: released.
    expect(usage.reserve(RECEIVE_SMALL_BYTES * 4, () => {})).toBe(true)
  })

  test('ConnectionInput hands a parser error to parseFailed', () => {
    const { input, frames, errors } = setup()
    input.onData(Buffer.from('SEND\ncontent-length:abc\n\n\0'))
    expect(frames).toEqual([])
    expect(errors.length).toBe(1)
    expect(isBrokerError(errors[0])).toBe(true)
  })
})
