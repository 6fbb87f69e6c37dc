/**
 * Goal: producer flow control holds over real sockets against the real Broker. A producer flooding non-persistent
 * messages into a queue nobody consumes is stopped at the destination memory limit: the connector stops reading
 * its socket instead of parsing (and holding) frame after frame while the broker waits for memory; a consumer then
 * drains everything and the producer's last RECEIPT arrives. Another client is served while the producer is blocked.
 * Method: Broker + StompServer in process (broker-harness) with a 256 KiB destination limit; the broker's connect()
 * is wrapped to count SEND bodies the broker has been handed but not yet accepted (what the connector holds for a
 * blocked producer); raw 127.0.0.1 sockets. Bounded counts and waits, no timing assertion.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import type { BrokerSession } from '../src/broker/types.ts'
import { startBroker, type Harness } from '../src/protocol/stomp/testing/broker-harness.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const f of cleanups.reverse()) await f()
})

const DEST_LIMIT = 256 * 1024
const IN_FLIGHT_BYTES_MAX = 512 * 1024
const BODY = 64 * 1024
const COUNT = 200 // 12.5 MiB: far past the limit plus the in-flight window

/** Wrap the broker's sessions: count SEND body bytes handed to the broker and not settled yet, and their peak. */
function meterSends(h: Harness): { pendingBytes: () => number; peakBytes: () => number } {
  let pending = 0
  let peak = 0
  const connect = h.broker.connect.bind(h.broker)
  h.broker.connect = (info) => {
    const s: BrokerSession = connect(info)
    const send = s.send.bind(s)
    s.send = (req, tx) => {
      const n = req.message.body.length
      pending += n
      peak = Math.max(peak, pending)
      const p = send(req, tx)
      p.then(
        () => (pending -= n),
        () => (pending -= n),
      )
      return p
    }
    return s
  }
  return { pendingBytes: () => pending, peakBytes: () => peak }
}

async function rawConnected(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port)
  cleanups.push(() => c.destroy())
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x' }))
  expect((await c.frame(0)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  return c
}

describe('STOMP producer flow control over real sockets', () => {
  test('a producer past the destination memory limit is stopped at the socket, not buffered; a consumer frees it', async () => {
    const h = await startBroker({
      server: { inFlightBytesMax: IN_FLIGHT_BYTES_MAX },
      config: (c) => ({ ...c, limits: { ...c.limits, destinationMemoryLimit: DEST_LIMIT } }),
    })
    cleanups.push(() => h.stop())
    const meter = meterSends(h)
    const producer = await rawConnected(h.port)
    const body = 'p'.repeat(BODY)
    let burst = ''
    for (let i = 0; i < COUNT; i++)
      burst += frame('SEND', { destination: '/queue/flow', ...(i === COUNT - 1 ? { receipt: 'last' } : {}) }, body)
    producer.write(burst)
    // The broker blocks the producer: sends pile up in the in-flight window, then the connector stops reading. How
    // full the window is when reading stops depends on how the kernel split the burst into reads (a send accepted
    // from the same read can settle after the pause), so wait for "more than half full", which always comes true
    // while the producer is blocked; the bound below is the real check.
    await producer.waitFor(
      () => meter.pendingBytes() > IN_FLIGHT_BYTES_MAX / 2,
      10_000,
      'sends waiting for memory to fill more than half the in-flight window',
    )
    // A bystander is served meanwhile (another destination, its own memory).
    const other = await rawConnected(h.port)
    other.write(frame('SEND', { destination: '/queue/other', receipt: 'o1' }, 'hi'))
    await other.receipt('o1')
    // Bounded: the window plus one frame, never the 12.5 MiB the producer wrote.
    expect(meter.peakBytes()).toBeLessThanOrEqual(IN_FLIGHT_BYTES_MAX + BODY)
    expect(producer.frames.some((f) => f.command === 'RECEIPT')).toBe(false)
    // A consumer drains the queue; the producer's reads resume and its last RECEIPT arrives.
    const consumer = await rawConnected(h.port)
    consumer.write(frame('SUBSCRIBE', { destination: '/queue/flow', id: 's', ack: 'auto' }))
    await consumer.waitFor(
      () => consumer.frames.filter((f) => f.command === 'MESSAGE').length >= COUNT,
      30_000,
      `${COUNT} messages`,
    )
    await producer.receipt('last', 30_000)
    const got = consumer.frames.filter((f) => f.command === 'MESSAGE')
    expect(got.length).toBe(COUNT)
    expect(got.every((f) => f.body.length === BODY)).toBe(true)
    expect(meter.peakBytes()).toBeLessThanOrEqual(IN_FLIGHT_BYTES_MAX + BODY)
  }, 60_000)
})
