/**
 * Bad input against the real Broker behind a real StompServer: each kind of bad frame gets an ERROR and closes
 * only its own connection, while a bystander connection keeps working and nothing already accepted is lost.
 * Then a seeded fuzz: random bytes and mutated valid frames over many sockets (bounded count and time), after
 * which the broker must still answer a fresh client and hold every message receipted before the fuzz.
 * `SEED=<n> bun test test/stomp-bad-input.test.ts` replays a fuzz run; the seed is printed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import net from 'node:net'
import type { Client, IMessage } from '@stomp/stompjs'
import { startBroker, type Harness } from '../src/protocol/stomp/testing/broker-harness.ts'
import { connectStompJs } from '../src/protocol/stomp/testing/stompjs-tcp.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'
import { seededGenerator } from '../src/lib/random.ts'

const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const f of cleanups.reverse()) await f()
})

async function setup(over: Parameters<typeof startBroker>[0] = {}): Promise<Harness> {
  const h = await startBroker({ connector: { maxFrameSize: 64 * 1024 }, ...over })
  cleanups.push(() => h.stop())
  return h
}

async function stompjs(port: number): Promise<Client> {
  const c = await connectStompJs(port, {
    connectHeaders: { host: 'localhost' },
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  })
  cleanups.push(() => c.deactivate({ force: true }))
  return c
}

async function raw(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port)
  cleanups.push(() => c.destroy())
  return c
}

async function rawConnected(port: number): Promise<RawClient> {
  const c = await raw(port)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x' }))
  expect((await c.frame(0)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  return c
}

function publishReceipted(c: Client, destination: string, body: string, persistent = true): Promise<void> {
  const receipt = `r-${Math.random().toString(36).slice(2)}`
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no RECEIPT for ${destination}`)), 5000)
    c.watchForReceipt(receipt, () => {
      clearTimeout(t)
      resolve()
    })
    c.publish({ destination, body, headers: { receipt, ...(persistent ? { persistent: 'true' } : {}) } })
  })
}

async function drain(c: Client, destination: string, n: number, timeoutMs = 5000): Promise<string[]> {
  const got: IMessage[] = []
  const sub = c.subscribe(destination, (m) => got.push(m))
  const deadline = Date.now() + timeoutMs
  while (got.length < n && Date.now() < deadline) await Bun.sleep(10)
  await Bun.sleep(100) // anything extra would show up now
  sub.unsubscribe()
  return got.map((m) => m.body)
}

describe('STOMP bad input against the real broker', () => {
  test('each bad frame closes only its own connection; bystanders and accepted messages survive', async () => {
    const h = await setup()
    const bystander = await stompjs(h.port)
    for (let i = 0; i < 3; i++) await publishReceipted(bystander, '/queue/keep', `k${i}`)

    const cases: Array<{ name: string; input: string; code: string; receipt?: string }> = [
      {
        name: 'bad destination',
        input: frame('SEND', { destination: '/bogus/x', receipt: 'bd' }, 'x'),
        code: 'BROKER_DESTINATION_INVALID',
        receipt: 'bd',
      },
      { name: 'unknown command', input: frame('PUBLISH', { destination: '/queue/a' }, 'x'), code: 'STOMP_PROTOCOL' },
      { name: 'malformed header', input: 'SEND\ndestination /queue/a\n\nx\0', code: 'STOMP_FRAME_INVALID' },
      { name: 'bad escape', input: 'SEND\ndestination:/queue/a\nh:\\q\n\nx\0', code: 'STOMP_FRAME_INVALID' },
      {
        name: 'oversized body',
        input: frame('SEND', { destination: '/queue/a', 'content-length': String(100 * 1024) }, 'x'.repeat(100 * 1024)),
        code: 'STOMP_FRAME_TOO_LARGE',
      },
      {
        name: 'bad selector',
        input: frame('SUBSCRIBE', { id: '1', destination: '/queue/a', selector: "a = = 'b'", receipt: 'sel' }),
        code: 'BROKER_SELECTOR_INVALID',
        receipt: 'sel',
      },
      {
        name: 'unknown transaction',
        input: frame('COMMIT', { transaction: 'nope', receipt: 'tx' }),
        code: 'BROKER_TX_UNKNOWN',
        receipt: 'tx',
      },
    ]
    for (const c of cases) {
      const client = await rawConnected(h.port)
      client.write(c.input)
      const err = await client.next('ERROR')
      expect({ name: c.name, code: err.headers.code }).toEqual({ name: c.name, code: c.code })
      expect(err.headers.message.length).toBeGreaterThan(0)
      if (c.receipt) expect(err.headers['receipt-id']).toBe(c.receipt)
      await client.waitClosed()
    }
    expect(bystander.connected).toBe(true)
    await publishReceipted(bystander, '/queue/keep', 'k3')
    expect(await drain(bystander, '/queue/keep', 4)).toEqual(['k0', 'k1', 'k2', 'k3'])
  })

  test('frames pipelined behind a bad SEND are not applied: the transaction it precedes is never committed', async () => {
    const h = await setup()
    const client = await rawConnected(h.port)
    client.write(
      frame('BEGIN', { transaction: 't1' }) +
        frame('SEND', { destination: '/queue/pipelined', transaction: 't1', persistent: 'true' }, 'in tx') +
        frame('SEND', { destination: '/nowhere/x', receipt: 'bad' }, 'x') +
        frame('COMMIT', { transaction: 't1', receipt: 'commit' }) +
        frame('SEND', { destination: '/queue/pipelined', persistent: 'true', receipt: 'after' }, 'after the error'),
    )
    const err = await client.next('ERROR')
    expect(err.headers.code).toBe('BROKER_DESTINATION_INVALID')
    expect(err.headers['receipt-id']).toBe('bad')
    await client.waitClosed()
    expect(client.frames.some((f) => f.command === 'RECEIPT')).toBe(false)
    const reader = await stompjs(h.port)
    expect(await drain(reader, '/queue/pipelined', 1, 1000)).toEqual([])
  })

  test('fuzz: random and mutated frames over many sockets leave the broker serving and the data intact', async () => {
    const h = await setup()
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000)
    console.log(`stomp fuzz: SEED=${seed}`)
    const rnd = seededGenerator(seed)
    const int = (n: number) => Math.floor(rnd() * n)

    const observer = await stompjs(h.port)
    for (let i = 0; i < 5; i++) await publishReceipted(observer, '/queue/keep', `k${i}`)

    const valid = [
      frame('SEND', { destination: '/queue/fuzz', receipt: '1', persistent: 'true' }, 'body'),
      frame('SEND', { destination: '/topic/fuzz', 'content-length': '3' }, 'a\0b'),
      frame('SUBSCRIBE', { id: 's', destination: '/queue/fuzz', ack: 'client-individual', selector: "x = 'y'" }),
      frame('ACK', { id: 'whatever' }),
      frame('NACK', { id: 'x' }),
      frame('BEGIN', { transaction: 't' }),
      frame('SEND', { destination: '/queue/fuzz', transaction: 't' }, 'in tx'),
      frame('COMMIT', { transaction: 't' }),
      frame('UNSUBSCRIBE', { id: 's' }),
      frame('SUBSCRIBE', { id: 'b', destination: '/queue/fuzz', browser: 'true' }),
      '\n\n',
    ]
    const connect = frame('CONNECT', { 'accept-version': '1.0,1.1,1.2', host: 'x', 'heart-beat': '0,0' })

    function input(): Buffer {
      const kind = int(3)
      if (kind === 0) {
        const n = 1 + int(400)
        return Buffer.from(Array.from({ length: n }, () => (rnd() < 0.2 ? [0x0a, 0x00, 0x3a, 0x5c][int(4)] : int(256))))
      }
      let text = ''
      for (let i = 0, n = 1 + int(6); i < n; i++) text += valid[int(valid.length)]
      const b = Buffer.from(text)
      for (let m = 0, n = int(6); m < n; m++) b[int(b.length)] = int(256)
      return kind === 1 ? b : b.subarray(0, int(b.length + 1)) // truncated
    }

    async function round(): Promise<void> {
      const sock = net.connect({ host: '127.0.0.1', port: h.port })
      sock.on('error', () => {})
      sock.on('data', () => {})
      const closed = new Promise<void>((r) => sock.on('close', () => r()))
      await new Promise<void>((r) => sock.once('connect', () => r()))
      const payload = Buffer.concat([rnd() < 0.7 ? Buffer.from(connect) : Buffer.alloc(0), input()])
      for (let pos = 0; pos < payload.length; ) {
        const step = 1 + int(64)
        sock.write(payload.subarray(pos, pos + step))
        pos += step
      }
      await Promise.race([closed, Bun.sleep(150)])
      sock.destroy()
      await closed
    }

    const rounds = 160
    const parallel = 4
    for (let i = 0; i < rounds; i += parallel) await Promise.all(Array.from({ length: parallel }, () => round()))

    // Still serving: the observer connection, a fresh client, and every receipted message is there.
    expect(observer.connected).toBe(true)
    const fresh = await stompjs(h.port)
    await publishReceipted(fresh, '/queue/keep', 'k5')
    expect(await drain(fresh, '/queue/keep', 6)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5'])
    const deadline = Date.now() + 10_000
    while (h.server.connections() > 2 && Date.now() < deadline) await Bun.sleep(20)
    expect(h.server.connections()).toBe(2)
  }, 60_000)
})
