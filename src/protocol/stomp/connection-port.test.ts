/**
 * Goal: StompConnection runs over any DuplexPort, and its ordering and flow control hold there: RECEIPTs in frame
 * order each after its own operation settled, reading stopped at the in-flight window and resumed at half,
 * dispatch paused while the port does not drain, ERROR after earlier RECEIPTs then the half-close.
 * Method: the connection over an in-memory pair (src/testing/duplex-pair.ts) against the recording FakeBroker,
 * whose sends are held and released by the test; the client end parses with the connector's own FrameParser.
 * Waits are bounded polls for a state, never timings.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { duplexPair, type MemoryDuplex } from '../../testing/duplex-pair.ts'
import { until } from '../../testing/net-probe.ts'
import { StompConnection, type ConnectionOptions } from './connection.ts'
import { FrameParser } from './frame-parser.ts'
import { DEFAULT_FRAME_LIMITS, type StompFrame } from './frame.ts'
import { FakeBroker, type FakeSession, delivery } from './testing/fake-broker.ts'
import { frame } from './testing/raw-client.ts'

const open: StompConnection[] = []
afterEach(() => {
  for (const c of open.splice(0)) c.destroy()
})

interface Peer {
  end: MemoryDuplex
  server: MemoryDuplex
  conn: StompConnection
  broker: FakeBroker
  frames: StompFrame[]
  ended: () => boolean
}

function connect(opts: Partial<ConnectionOptions> = {}, highWaterMark?: number): Peer {
  const [end, server] = duplexPair({ highWaterMark })
  const broker = new FakeBroker()
  const conn = new StompConnection({ broker, socket: server, serverName: 'sfbroker/test', ...opts })
  open.push(conn)
  const parser = new FrameParser(DEFAULT_FRAME_LIMITS)
  parser.setVersion('1.2')
  const frames: StompFrame[] = []
  let ended = false
  end.on('data', (chunk: Buffer) => parser.push(chunk, (f) => void frames.push(f)))
  end.on('end', () => (ended = true))
  end.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x' }))
  return { end, server, conn, broker, frames, ended: () => ended }
}

/** Let the connection and the pair run `n` event-loop turns (settle, flush, delivery each take at most one). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

const fast = (fn: () => unknown, what: string) => until(fn, what, 5000, 5)

async function connected(p: Peer): Promise<FakeSession> {
  await fast(() => p.frames.some((f) => f.command === 'CONNECTED'), 'CONNECTED')
  return p.broker.sessions[0] as FakeSession
}

/** Hold every SEND of the session until the test releases it. */
function holdSends(s: FakeSession): Array<() => void> {
  const held: Array<() => void> = []
  s.sendImpl = () => new Promise<void>((resolve) => held.push(resolve))
  return held
}

const commands = (p: Peer) => p.frames.map((f) => f.command)
const receipts = (p: Peer) => p.frames.filter((f) => f.command === 'RECEIPT').map((f) => f.headers['receipt-id'])
const sends = (s: FakeSession) => s.calls.filter((c) => c.op === 'send').length

describe('StompConnection over a DuplexPort', () => {
  test('StompConnection writes RECEIPTs in frame order, each after its own SEND settled', async () => {
    const p = connect()
    const s = await connected(p)
    const held = holdSends(s)
    p.end.write(['r1', 'r2', 'r3'].map((r) => frame('SEND', { destination: '/queue/a', receipt: r }, r)).join(''))
    await fast(() => held.length === 3, 'three sends at the broker')
    held[1]!()
    held[2]!()
    // r2 and r3 settled, but r1 has not: nothing may overtake it. Its release writes all three, in order.
    await turns(4)
    expect(receipts(p)).toEqual([])
    held[0]!()
    await fast(() => receipts(p).length === 3, 'three RECEIPTs')
    expect(receipts(p)).toEqual(['r1', 'r2', 'r3'])
  })

  test('StompConnection stops reading at inFlightFramesMax and resumes once at most half are in flight', async () => {
    const p = connect({ inFlightFramesMax: 4 })
    const s = await connected(p)
    const held = holdSends(s)
    let burst = ''
    for (let i = 0; i < 10; i++)
      burst += frame('SEND', { destination: '/queue/a', ...(i === 9 ? { receipt: 'last' } : {}) }, `m${i}`)
    p.end.write(burst)
    await fast(() => sends(s) === 4, 'four sends at the broker')
    expect(p.server.isPaused()).toBe(true)
    // One settled: three in flight, above half, so still paused and nothing more parsed.
    held[0]!()
    await turns(4)
    expect(p.server.isPaused()).toBe(true)
    expect(sends(s)).toBe(4)
    // Two settled: at half, reading resumes and parses until the window is full again.
    held[1]!()
    await fast(() => sends(s) === 6, 'six sends at the broker')
    expect(p.server.isPaused()).toBe(true)
    for (let i = 2; sends(s) < 10 || i < held.length; i++) {
      await fast(() => held.length > i, `send ${i} at the broker`)
      held[i]!()
    }
    await fast(() => receipts(p).includes('last'), 'the last RECEIPT')
    expect(sends(s)).toBe(10)
    expect(p.server.isPaused()).toBe(false)
  })

  test('StompConnection pauses dispatch while its port does not drain, and resumes after', async () => {
    const p = connect({ outBytesMax: 4096 }, 1024)
    const s = await connected(p)
    p.end.write(frame('SUBSCRIBE', { destination: '/queue/a', id: 's1', receipt: 'sub' }))
    await fast(() => receipts(p).includes('sub'), 'the SUBSCRIBE RECEIPT')
    // The client stops reading: what the connection writes stays unread, and past outBytesMax dispatch pauses.
    p.end.pause()
    const deliver = s.deliverTo.get('s1')!
    let n = 0
    while (!s.calls.some((c) => c.op === 'pause' && c.paused)) {
      deliver(delivery('s1', ++n, { body: Buffer.alloc(1000, 'x') }))
      if (n % 4 === 0) await new Promise((r) => setImmediate(r))
      expect(n).toBeLessThan(100)
    }
    p.end.resume()
    await fast(() => s.calls.some((c) => c.op === 'pause' && !c.paused), 'dispatch resumed')
    await fast(() => p.frames.filter((f) => f.command === 'MESSAGE').length === n, `${n} MESSAGE frames`)
  })

  test("StompConnection writes a bad frame's ERROR after the earlier RECEIPTs, then half-closes its port", async () => {
    const p = connect()
    const s = await connected(p)
    const held = holdSends(s)
    p.end.write(
      frame('SEND', { destination: '/queue/a', receipt: 'ok' }, 'x') + frame('SUBSCRIBE', { id: 's', receipt: 'bad' }),
    )
    await fast(() => held.length === 1, 'the send at the broker')
    expect(commands(p)).toEqual(['CONNECTED'])
    held[0]!()
    await fast(() => p.ended(), 'the half-close')
    expect(commands(p)).toEqual(['CONNECTED', 'RECEIPT', 'ERROR'])
    const err = p.frames[2]!
    expect(err.headers['receipt-id']).toBe('bad')
    expect(err.headers.code).toBe('STOMP_PROTOCOL')
    expect(s.closed).toBe(true)
  })
})
