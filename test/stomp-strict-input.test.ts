/**
 * Goal (issue #19, "strict, safe input" and "selectors in bounded time"): against a real `sfbroker run` process,
 * a malformed content-length gets a coded ERROR and closes only that connection; a destination that is not valid
 * UTF-8 is refused and creates no destination; an ERROR before CONNECT never echoes the client's raw control
 * bytes; a pathological LIKE selector does not stall the broker; and through all of it a healthy second client
 * keeps its connection and completes receipt round trips.
 * Method: one broker process (from source, with --admin) on a temp dir; raw STOMP over real sockets; "no
 * destination created" is read from /metrics (whose per-destination series name every destination); assertions
 * are on codes, closes and completed round trips, never on timing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import { FROM_SOURCE, TestProcesses, startBroker, type BrokerProcess } from './fixtures/broker-process.ts'
import { freePorts } from '../src/testing/net-probe.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'

const procs = new TestProcesses()
let broker: BrokerProcess
let adminPort = 0
let healthy: RawClient
let receiptSeq = 0

beforeAll(async () => {
  const dir = procs.tempDir('sfb-strict-')
  const [stompPort, admin] = await freePorts(2)
  adminPort = admin!
  broker = await startBroker(procs, {
    command: FROM_SOURCE,
    args: ['--data', dir, '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'warn'],
    port: stompPort!,
    timeoutMs: 45_000,
  })
  healthy = await connected()
}, 60_000)

afterAll(() => {
  healthy?.destroy()
  procs.cleanup()
})

async function connected(): Promise<RawClient> {
  const c = await RawClient.connect(broker.port)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' }))
  expect((await c.frame(0, 15_000)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  return c
}

/** The healthy client sends a persistent message and waits for its RECEIPT: it must complete. */
async function healthyRoundTrip(timeoutMs = 15_000): Promise<void> {
  const id = `healthy-${++receiptSeq}`
  healthy.write(frame('SEND', { destination: '/queue/strict.healthy', persistent: 'true', receipt: id }, 'ping'))
  await healthy.receipt(id, timeoutMs)
  expect(healthy.isClosed).toBe(false)
}

/** Every destination the broker has, as /metrics names them. */
async function destinations(): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text()
  const out = new Set<string>()
  for (const m of text.matchAll(/^sfbroker_destination_depth\{[^}]*destination="((?:[^"\\]|\\.)*)"/gm))
    out.add(JSON.parse(`"${m[1]}"`))
  return [...out]
}

/** Raw bytes of everything the broker writes to a socket until it closes it. */
function rawExchange(input: Buffer, timeoutMs = 15_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = net.connect({ port: broker.port, host: '127.0.0.1' }, () => s.write(input))
    const t = setTimeout(() => {
      s.destroy()
      reject(
        new Error(`no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`),
      )
    }, timeoutMs)
    s.on('data', (d: Buffer) => chunks.push(d))
    s.on('error', () => {})
    s.on('close', () => {
      clearTimeout(t)
      resolve(Buffer.concat(chunks))
    })
  })
}

describe('STOMP strict input against a broker process', () => {
  test('a malformed content-length gets a coded ERROR and closes only that connection', async () => {
    await healthyRoundTrip()
    const cases: Array<[string, string]> = [
      [' 5', 'STOMP_FRAME_INVALID'],
      ['5 ', 'STOMP_FRAME_INVALID'],
      ['+5', 'STOMP_FRAME_INVALID'],
      ['-5', 'STOMP_FRAME_INVALID'],
      ['0x5', 'STOMP_FRAME_INVALID'],
      ['', 'STOMP_FRAME_INVALID'],
      ['5x', 'STOMP_FRAME_INVALID'],
      ['99999999999999999999999', 'STOMP_FRAME_TOO_LARGE'],
    ]
    for (const [value, code] of cases) {
      const c = await connected()
      c.write(`SEND\ndestination:/queue/strict.cl\ncontent-length:${value}\nreceipt:cl\n\nhello\0`)
      const err = await c.next('ERROR', 0, 15_000)
      expect({ value, code: err.headers.code }).toEqual({ value, code })
      await c.waitClosed(15_000)
      expect(c.frames.some((f) => f.command === 'RECEIPT')).toBe(false)
    }
    await healthyRoundTrip()
    expect(await destinations()).not.toContain('/queue/strict.cl')
  }, 120_000)

  test('a destination that is not valid UTF-8 is refused and creates no destination', async () => {
    await healthyRoundTrip()
    const bad = Buffer.from([0xff])
    const overlong = Buffer.from([0xc0, 0xaf]) // an overlong "/"
    for (const [command, seq] of [
      ['SEND', bad],
      ['SEND', overlong],
      ['SUBSCRIBE', bad],
    ] as const) {
      const c = await connected()
      const head = command === 'SEND' ? 'SEND\nreceipt:u\npersistent:true\n' : 'SUBSCRIBE\nid:1\nreceipt:u\n'
      c.write(Buffer.concat([Buffer.from(`${head}destination:/queue/strict.bad`), seq, Buffer.from('\n\nbody\0')]))
      const err = await c.next('ERROR', 0, 15_000)
      expect({ command, code: err.headers.code }).toEqual({ command, code: 'STOMP_ENCODING_INVALID' })
      await c.waitClosed(15_000)
    }
    await healthyRoundTrip()
    const names = await destinations()
    expect(names).toContain('/queue/strict.healthy') // the check would see a created destination
    expect(names.filter((n) => n.includes('strict.bad'))).toEqual([])
  }, 120_000)

  test('an ERROR before CONNECT does not echo the raw control bytes the client sent', async () => {
    const evil = '\x1b]0;owned\x07\x1b[2J\x00\x7f\x9b'
    const inputs = [
      Buffer.from(`${evil}${'A'.repeat(900)}\n\n\0`, 'latin1'), // an odd command line, ~1 KB
      Buffer.from(`CONNECT\n${evil}${'B'.repeat(900)}\n\n\0`, 'latin1'), // a header line without a colon
      Buffer.from(`CONNECT\naccept-version:${evil}${'C'.repeat(900)}\n\n\0`, 'latin1'), // no supported version
    ]
    for (const input of inputs) {
      const out = await rawExchange(input)
      expect(out.subarray(0, 6).toString('latin1')).toBe('ERROR\n')
      // Framing bytes only: LF between lines and the final NUL; no ESC, BEL, CR, DEL, C1 or other NUL.
      const body = out.subarray(0, out.length - 1)
      expect([...body].filter((b) => (b < 0x20 && b !== 0x0a) || b === 0x7f)).toEqual([])
      expect(out[out.length - 1]).toBe(0)
      expect(out.toString('latin1')).not.toContain('A'.repeat(100))
      expect(out.toString('latin1')).not.toContain('B'.repeat(100))
      expect(out.toString('latin1')).not.toContain('C'.repeat(100))
      expect(out.toString('latin1')).toMatch(/\ncode:STOMP_[A-Z_]+\n/)
    }
    await healthyRoundTrip()
  }, 120_000)

  test('a pathological LIKE selector does not stall a concurrent client; an over-complex one is refused', async () => {
    const sub = await connected()
    sub.write(
      frame('SUBSCRIBE', {
        id: 's1',
        destination: '/queue/strict.like',
        selector: "a LIKE '%a%a%a%a%a%a%a%a%b'",
        receipt: 's1',
      }),
    )
    sub.write(
      frame('SUBSCRIBE', {
        id: 's2',
        destination: '/queue/strict.like',
        selector: `a LIKE '${'%a'.repeat(30)}%b'`,
        receipt: 's2',
      }),
    )
    await sub.receipt('s2', 15_000)
    const producer = await connected()
    producer.write(frame('SEND', { destination: '/queue/strict.like', a: 'a'.repeat(60), receipt: 'p1' }, 'x'))
    producer.write(frame('SEND', { destination: '/queue/strict.like', a: 'a'.repeat(5_000), receipt: 'p2' }, 'y'))
    await producer.receipt('p2', 15_000)
    await healthyRoundTrip()
    // Neither message matches, so neither is delivered; both consumers keep their connection.
    expect(sub.frames.filter((f) => f.command === 'MESSAGE')).toEqual([])
    expect(sub.isClosed).toBe(false)

    const complex = await connected()
    complex.write(
      frame('SUBSCRIBE', {
        id: 'c',
        destination: '/queue/strict.like',
        selector: `a LIKE '${'%a'.repeat(600)}'`,
        receipt: 'c',
      }),
    )
    const err = await complex.next('ERROR', 0, 15_000)
    expect(err.headers.code).toBe('BROKER_SELECTOR_TOO_COMPLEX')
    expect(err.headers['receipt-id']).toBe('c')
    await complex.waitClosed(15_000)
    await healthyRoundTrip()
    sub.destroy()
    producer.destroy()
  }, 120_000)

  test('the healthy client was never disconnected and the broker is still running', async () => {
    await healthyRoundTrip()
    expect(healthy.frames.some((f) => f.command === 'ERROR')).toBe(false)
    expect(broker.child.exitCode).toBeNull()
  })
})
