/**
 * FrameWriter: what reaches the socket and when. Method: a recording socket; frames are decoded back with the
 * FrameDecoder, so joins and order are checked on the bytes themselves. Turns end with a setImmediate.
 */
import { describe, expect, test } from 'bun:test'
import type { ByteSocket } from '../../net/index.ts'
import type { Command } from './commands.ts'
import { FrameDecoder, initialFrameOptions } from './frame-codec.ts'
import { JOIN_BYTES_MAX } from '../../net/index.ts'
import { FrameWriter } from './frame-writer.ts'

class RecordingSocket implements ByteSocket {
  writes: Uint8Array[] = []
  writableLength = 0
  on(): unknown {
    return this
  }
  write(chunk: Uint8Array): boolean {
    this.writes.push(chunk)
    return true
  }
  end(): unknown {
    return this
  }
  destroy(): unknown {
    return this
  }
  pause(): unknown {
    return this
  }
  resume(): unknown {
    return this
  }
}

const opts = initialFrameOptions(1 << 30)
const turn = () => new Promise((r) => setImmediate(r))

function control(command: string): Command {
  return { type: 'ControlCommand', commandId: 0, responseRequired: false, command }
}

function decodeAll(writes: Uint8Array[]): string[] {
  const d = new FrameDecoder(opts)
  const out: string[] = []
  const name = (c: Command) =>
    c.type === 'ControlCommand'
      ? (c.command ?? '')
      : `${c.type}:${c.type === 'ConnectionControl' ? c.token?.length : ''}`
  for (const w of writes) d.push(w, (c) => out.push(name(c)))
  return out
}

function setup(outBytesMax = 1 << 20) {
  const socket = new RecordingSocket()
  const paused: boolean[] = []
  const w = new FrameWriter(socket, outBytesMax, { setDispatchPaused: (p) => paused.push(p) })
  return { socket, w, paused }
}

describe('FrameWriter', () => {
  test('FrameWriter joins the frames of one turn into one socket write, in call order', async () => {
    const { socket, w } = setup()
    for (let i = 0; i < 100; i++) w.write(control(`c${i}`), opts)
    expect(socket.writes.length).toBe(0)
    await turn()
    expect(socket.writes.length).toBe(1)
    expect(decodeAll(socket.writes)).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`))
    w.write(control('next'), opts)
    await turn()
    expect(socket.writes.length).toBe(2)
    expect(decodeAll(socket.writes.slice(1))).toEqual(['next'])
  })

  test('FrameWriter starts a new buffer past JOIN_BYTES_MAX and writes a larger frame on its own', async () => {
    const { socket, w } = setup(1 << 30)
    const big = 'x'.repeat(JOIN_BYTES_MAX / 4)
    for (let i = 0; i < 6; i++) w.write(control(`${i}${big}`), opts)
    w.write(
      {
        type: 'ConnectionControl',
        commandId: 0,
        responseRequired: false,
        close: false,
        exit: false,
        faultTolerant: false,
        resume: false,
        suspend: false,
        connectedBrokers: null,
        reconnectTo: null,
        rebalanceConnection: false,
        token: new Uint8Array(JOIN_BYTES_MAX + 10),
      },
      opts,
    )
    w.write(control('tail'), opts)
    await turn()
    for (const b of socket.writes.slice(0, -2)) expect(b.length).toBeLessThanOrEqual(JOIN_BYTES_MAX)
    expect(socket.writes.some((b) => b.length > JOIN_BYTES_MAX)).toBe(true)
    const got = decodeAll(socket.writes)
    expect(got.length).toBe(8)
    expect(got.slice(0, 6).map((s) => s[0])).toEqual(['0', '1', '2', '3', '4', '5'])
    expect(got[6]).toBe(`ConnectionControl:${JOIN_BYTES_MAX + 10}`)
    expect(got[7]).toBe('tail')
  })

  test('FrameWriter pauses dispatch past outBytesMax and resumes once the socket drained to half of it', async () => {
    const { socket, w, paused } = setup(10_000)
    for (let i = 0; i < 20; i++) w.write(control('z'.repeat(1000)), opts)
    expect(paused).toEqual([true])
    socket.writableLength = 20_000
    await turn()
    expect(paused).toEqual([true])
    socket.writableLength = 4_000
    w.onDrain()
    expect(paused).toEqual([true, false])
  })

  test('FrameWriter end() writes what is queued at once; nothing after it', async () => {
    const { socket, w } = setup()
    w.write(control('last'), opts)
    w.end()
    expect(decodeAll(socket.writes)).toEqual(['last'])
    w.write(control('late'), opts)
    await turn()
    expect(decodeAll(socket.writes)).toEqual(['last'])
  })

  test('FrameWriter discard() drops what was queued', async () => {
    const { socket, w } = setup()
    w.write(control('lost'), opts)
    w.discard()
    await turn()
    expect(socket.writes.length).toBe(0)
  })
})
