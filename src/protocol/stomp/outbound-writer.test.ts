/**
 * OutboundWriter's joining of one turn's writes. Goal: frames given as head + body (writeFrame) and frames given as
 * bytes (write) reach the port in call order, small ones joined into one port write with the body copied once, and
 * a body over OUT_SLICE_BYTES handed over uncopied. Method: a recording port; flushNow() stands for the turn's end.
 */
import { describe, expect, test } from 'bun:test'
import { FakeClock } from '../../testing/fake-clock.ts'
import type { DuplexPort } from './duplex-port.ts'
import { OUT_SLICE_BYTES, OutboundWriter } from './outbound-writer.ts'

function recordingPort(): { port: DuplexPort; writes: Buffer[] } {
  const writes: Buffer[] = []
  const port = {
    destroyed: false,
    writableLength: 0,
    write: (b: Buffer | string) => {
      writes.push(typeof b === 'string' ? Buffer.from(b) : b)
      return true
    },
    pause: () => undefined,
    resume: () => undefined,
    end: () => undefined,
    destroy: () => undefined,
    on: () => undefined,
  } as DuplexPort
  return { port, writes }
}

function writer(port: DuplexPort): OutboundWriter {
  return new OutboundWriter(port, new FakeClock(0), 1 << 30, {
    writesEnded: () => false,
    closed: () => false,
    session: () => null,
  })
}

describe('OutboundWriter', () => {
  test('OutboundWriter joins head + body frames and byte frames of one turn into one write, in call order', () => {
    const { port, writes } = recordingPort()
    const out = writer(port)
    out.writeFrame('MESSAGE\nmessage-id:ü\n\n', new Uint8Array([104, 105]))
    out.write(Buffer.from('RECEIPT\nreceipt-id:1\n\n\0'))
    out.writeFrame('MESSAGE\n\n', new Uint8Array(0))
    out.flushNow()
    expect(writes.length).toBe(1)
    expect(writes[0]!.toString('utf8')).toBe('MESSAGE\nmessage-id:ü\n\nhi\0RECEIPT\nreceipt-id:1\n\n\0MESSAGE\n\n\0')
    expect(out.idle()).toBe(true)
  })

  test('OutboundWriter hands a body over OUT_SLICE_BYTES to the port uncopied, between the joined small frames', () => {
    const { port, writes } = recordingPort()
    const out = writer(port)
    const big = new Uint8Array(OUT_SLICE_BYTES + 1).fill(120)
    out.writeFrame('MESSAGE\na:1\n\n', new Uint8Array([1]))
    out.writeFrame('MESSAGE\nb:2\n\n', big)
    out.writeFrame('MESSAGE\nc:3\n\n', new Uint8Array([3]))
    out.flushNow()
    // The pump hands over at most OUT_SLICE_BYTES per turn; the rest goes on setImmediate turns.
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (!out.idle()) return void setImmediate(check)
        const all = Buffer.concat(writes)
        const head = Buffer.from('MESSAGE\na:1\n\n\x01\0MESSAGE\nb:2\n\n')
        expect(all.subarray(0, head.length).equals(head)).toBe(true)
        expect(all.subarray(head.length, head.length + big.length).every((c) => c === 120)).toBe(true)
        expect(all.subarray(head.length + big.length).toString('latin1')).toBe('\0MESSAGE\nc:3\n\n\x03\0')
        expect(writes.some((w) => w.buffer === big.buffer)).toBe(true)
        resolve()
      }
      check()
    })
  })
})
