/**
 * StompServer + StompConnection against a recording FakeBroker, over real 127.0.0.1 sockets with a raw client:
 * version negotiation, the frame → BrokerSession mapping, MESSAGE headers, receipt ordering and durability
 * (RECEIPT only after send settles), ERROR-then-close for each kind of bad input, timeouts, heart-beats, limits
 * and both directions of flow control. Semantics of the real broker are covered in test/stomp-*.test.ts.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import net from 'node:net'
import type { ConnectorConfig } from '../../config/types.ts'
import { isBrokerError } from '../../lib/errors.ts'
import { StompServer, type StompServerOptions } from './server.ts'
import { FakeBroker, FakeSession, delivery, type Call } from './testing/fake-broker.ts'
import { RawClient, frame } from './testing/raw-client.ts'

const servers: StompServer[] = []
const clients: RawClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

function connector(over: Partial<ConnectorConfig> = {}): ConnectorConfig {
  return {
    name: 'test',
    uri: 'stomp://127.0.0.1:0',
    protocol: 'stomp',
    host: '127.0.0.1',
    port: 0,
    maximumConnections: 1000,
    maxFrameSize: 100 * 1024 * 1024,
    ...over,
  }
}

async function start(over: Partial<ConnectorConfig> = {}, opts: Partial<StompServerOptions> = {}) {
  const broker = new FakeBroker()
  const server = new StompServer({
    broker,
    connector: connector(over),
    serverName: 'sfbroker/test',
    closeLingerMs: 2000,
    ...opts,
  })
  servers.push(server)
  await server.listen()
  return { broker, server, port: server.address().port }
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port)
  clients.push(c)
  return c
}

/** Connect with a version; returns the client, its CONNECTED frame and the broker session. */
async function connected(
  port: number,
  broker: FakeBroker,
  headers: Record<string, string> = { 'accept-version': '1.2', host: 'x' },
) {
  const c = await client(port)
  c.write(frame('CONNECT', headers))
  const f = await c.frame(0)
  expect(f.command).toBe('CONNECTED')
  c.setVersion(f.headers.version as '1.0' | '1.1' | '1.2')
  const session = broker.sessions[broker.sessions.length - 1]
  return { c, f, session }
}

async function until(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

const ops = (s: FakeSession) => s.calls.map((c) => c.op)

describe('StompConnection CONNECT', () => {
  test('StompConnection negotiates the highest common version and answers CONNECTED', async () => {
    const { broker, port } = await start()
    const { f, session } = await connected(port, broker, {
      'accept-version': '1.0,1.1,1.2',
      host: 'h',
      login: 'guest',
      passcode: 'pw',
      'client-id': 'c1',
      'heart-beat': '0,0',
      receipt: 'r0',
    })
    expect(f.headers.version).toBe('1.2')
    expect(f.headers.server).toBe('sfbroker/test')
    expect(f.headers.session).toBe(session.sessionId)
    expect(f.headers['heart-beat']).toBe('0,0')
    expect(f.headers['receipt-id']).toBe('r0')
    expect(session.info.clientId).toBe('c1')
    expect(session.info.login).toBe('guest')
    expect(session.info.protocol).toBe('stomp')

    expect((await connected(port, broker, { 'accept-version': '1.1' })).f.headers.version).toBe('1.1')
    expect((await connected(port, broker, {})).f.headers.version).toBe('1.0')
  })

  test('StompConnection refuses an unsupported version with ERROR listing ours, then closes', async () => {
    const { port } = await start()
    const c = await client(port)
    c.write(frame('CONNECT', { 'accept-version': '2.0' }))
    const e = await c.next('ERROR')
    expect(e.headers.version).toBe('1.2,1.1,1.0')
    expect(e.headers.code).toBe('STOMP_PROTOCOL')
    await c.waitClosed()
  })

  test('StompConnection answers a frame before CONNECT with ERROR and closes', async () => {
    const { port } = await start()
    const c = await client(port)
    c.write(frame('SEND', { destination: '/queue/a', receipt: '9' }, 'x'))
    const e = await c.next('ERROR')
    expect(e.headers.message).toContain('before CONNECT')
    expect(e.headers['receipt-id']).toBe('9')
    await c.waitClosed()
  })

  test('StompConnection closes a connection that sends no CONNECT within connectTimeoutMs', async () => {
    const { port, server } = await start({}, { connectTimeoutMs: 200 })
    const c = await client(port)
    await c.waitClosed(5000)
    expect((await c.next('ERROR')).headers.message).toContain('no CONNECT')
    await until(() => server.connections() === 0, 'connection count to drop')
  })

  test('StompConnection refuses a second client with a client-id in use', async () => {
    const { broker, port } = await start()
    await connected(port, broker, { 'accept-version': '1.2', 'client-id': 'same' })
    const c = await client(port)
    c.write(frame('CONNECT', { 'accept-version': '1.2', 'client-id': 'same' }))
    expect((await c.next('ERROR')).headers.code).toBe('BROKER_CLIENT_ID_IN_USE')
    await c.waitClosed()
  })

  test('StompConnection rejects a second CONNECT and a malformed heart-beat', async () => {
    const { broker, port } = await start()
    const { c } = await connected(port, broker)
    c.write(frame('CONNECT', { 'accept-version': '1.2' }))
    expect((await c.next('ERROR')).headers.message).toContain('already connected')
    await c.waitClosed()
    const d = await client(port)
    d.write(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': 'fast' }))
    expect((await d.next('ERROR')).headers.code).toBe('STOMP_PROTOCOL')
    await d.waitClosed()
  })
})

describe('StompConnection frames', () => {
  test('StompConnection maps SEND headers and writes RECEIPT only after send settles, in frame order', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    const pending: Array<() => void> = []
    session.sendImpl = () => new Promise<void>((resolve) => pending.push(resolve))
    c.write(
      frame(
        'SEND',
        {
          destination: '/queue/a',
          receipt: 'r1',
          persistent: 'true',
          priority: '7',
          foo: 'a\\cb',
          'content-type': 'text/plain',
        },
        'one',
      ),
    )
    c.write(frame('SEND', { destination: '/queue/a', receipt: 'r2', timestamp: '42' }, 'two'))
    await until(() => pending.length === 2, 'two sends at the broker')
    const first = session.calls[0] as Extract<Call, { op: 'send' }>
    const second = session.calls[1] as Extract<Call, { op: 'send' }>
    // Only a SEND without a timestamp header has the broker's time (scheduled copies restamp those).
    expect([first.req.timestampDefaulted, second.req.timestampDefaulted, second.req.message.timestamp]).toEqual([
      true,
      false,
      42,
    ])
    const m1 = first.req.message
    expect(m1.destination).toEqual({ kind: 'queue', name: 'a' })
    expect([m1.persistent, m1.priority, m1.messageId]).toEqual([true, 7, ''])
    expect(Object.fromEntries([...m1.properties].map(([k, v]) => [k, v.value]))).toEqual({
      foo: 'a:b',
      'content-type': 'text/plain',
    })
    expect(Buffer.from(m1.body).toString()).toBe('one')
    // The second send becomes durable first: its RECEIPT still waits for the first one.
    pending[1]()
    await Bun.sleep(50)
    expect(c.frames.length).toBe(1)
    pending[0]()
    const r1 = await c.frame(1)
    const r2 = await c.frame(2)
    expect([r1.headers['receipt-id'], r2.headers['receipt-id']]).toEqual(['r1', 'r2'])
  })

  test('StompServer takes its receive budget from transport.maxReceiveSize: a second large frame waits for the first', async () => {
    const { broker, server, port } = await start({ maxReceiveSize: 256 * 1024 })
    expect(server.receiveUsage.limit).toBe(256 * 1024)
    const a = await connected(port, broker)
    const b = await connected(port, broker)
    const pending: Array<() => void> = []
    a.session.sendImpl = () => new Promise<void>((resolve) => pending.push(resolve))
    b.session.sendImpl = () => Promise.resolve()
    const big = 'x'.repeat(200 * 1024)
    // One frame over the budget's room is let in while nothing else is held; the second waits for its release.
    a.c.write(frame('SEND', { destination: '/queue/a', receipt: 'ra', 'content-length': String(big.length) }, big))
    await until(() => pending.length === 1, 'first large send at the broker')
    b.c.write(frame('SEND', { destination: '/queue/a', receipt: 'rb', 'content-length': String(big.length) }, big))
    await Bun.sleep(200)
    expect(b.session.calls.filter((c) => c.op === 'send').length).toBe(0)
    expect(server.receiveUsage.waiting()).toBe(1)
    pending[0]!()
    expect((await b.c.frame(1)).headers['receipt-id']).toBe('rb')
    expect(server.receiveUsage.used).toBe(0)
  })

  test('StompConnection answers a failed SEND with ERROR carrying receipt-id, closes, and keeps others serving', async () => {
    const { broker, port, server } = await start()
    const a = await connected(port, broker)
    const b = await connected(port, broker)
    a.c.write(
      frame('SEND', { destination: '/queue/ok', receipt: 'ok' }, 'x') +
        frame('SEND', { destination: 'nowhere', receipt: 'bad' }, 'y') +
        frame('SEND', { destination: '/queue/after' }, 'z'),
    )
    expect((await a.c.next('RECEIPT')).headers['receipt-id']).toBe('ok')
    const e = await a.c.next('ERROR')
    expect(e.headers['receipt-id']).toBe('bad')
    expect(e.headers.code).toBe('BROKER_DESTINATION_INVALID')
    await a.c.waitClosed()
    await until(() => a.session.closed, 'session closed')
    b.c.write(frame('SEND', { destination: '/queue/b', receipt: 'b1' }, 'x'))
    expect((await b.c.next('RECEIPT')).headers['receipt-id']).toBe('b1')
    await until(() => server.connections() === 1, 'one connection left')
  })

  test('StompConnection passes transactions to the session and receipts BEGIN/COMMIT/ABORT', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(
      frame('BEGIN', { transaction: 't1', receipt: 'b' }) +
        frame('SEND', { destination: '/queue/a', transaction: 't1' }, 'x') +
        frame('COMMIT', { transaction: 't1', receipt: 'c' }),
    )
    c.write(frame('BEGIN', { transaction: 't2' }) + frame('ABORT', { transaction: 't2', receipt: 'a' }))
    await c.waitFor(() => c.frames.filter((f) => f.command === 'RECEIPT').length === 3, 5000, '3 receipts')
    expect(ops(session)).toEqual(['begin', 'send', 'commit', 'begin', 'abort'])
    expect((session.calls[1] as Extract<Call, { op: 'send' }>).tx).toBe('t1')
    expect(session.calls[1] as Extract<Call, { op: 'send' }>).not.toHaveProperty('req.headers.transaction')
    c.write(frame('COMMIT', { transaction: 'nope', receipt: 'n' }))
    const e = await c.next('ERROR')
    expect(e.headers.code).toBe('BROKER_TX_UNKNOWN')
    expect(e.headers['receipt-id']).toBe('n')
  })

  test('StompConnection maps SUBSCRIBE options and writes MESSAGE frames with subscription, message-id, ack', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(
      frame('SUBSCRIBE', {
        id: 's1',
        destination: '/topic/t',
        ack: 'client-individual',
        selector: "color = 'red'",
        'activemq.prefetchSize': '5',
        'activemq.exclusive': 'true',
        'activemq.priority': '3',
        'activemq.subscriptionName': 'dur',
        'activemq.noLocal': 'true',
        receipt: 'sub',
      }),
    )
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('sub')
    const sub = session.calls[0] as Extract<Call, { op: 'subscribe' }>
    expect(sub.req).toEqual({
      id: 's1',
      destination: { kind: 'topic', name: 't' },
      ack: 'client-individual',
      selector: "color = 'red'",
      prefetch: 5,
      exclusive: true,
      priority: 3,
      durableName: 'dur',
      noLocal: true,
    })
    session.deliverTo.get('s1')!(delivery('s1', 1, { body: new Uint8Array([0, 1, 0]) }))
    const m = await c.next('MESSAGE')
    expect(m.headers.subscription).toBe('s1')
    expect(m.headers['message-id']).toBe('msg-1')
    expect(m.headers.destination).toBe('/queue/a')
    expect(m.headers.ack).toBe('ack-1')
    expect(m.headers.custom).toBe('v:1')
    expect([...m.body]).toEqual([0, 1, 0])
    c.write(frame('ACK', { id: 'ack-1' }) + frame('NACK', { id: 'ack-2', transaction: 'tx' }))
    await until(() => session.calls.length >= 2, 'ack')
    expect(session.calls[1]).toEqual({ op: 'ack', ackId: 'ack-1', tx: undefined })
  })

  test('StompConnection accepts durable-subscription-name and browser:true, and sends the browser end marker', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(
      frame('SUBSCRIBE', { id: 'b', destination: '/queue/q', browser: 'true' }) +
        frame('SUBSCRIBE', { id: 'd', destination: '/topic/t', 'durable-subscription-name': 'n' }),
    )
    await until(() => session.deliverTo.size === 2, 'two subscriptions')
    expect((session.calls[0] as Extract<Call, { op: 'subscribe' }>).req.browser).toBe(true)
    expect((session.calls[1] as Extract<Call, { op: 'subscribe' }>).req.durableName).toBe('n')
    session.deliverTo.get('b')!({ ...delivery('b', 0), browserEnd: true })
    const end = await c.next('MESSAGE')
    expect(end.headers.browser).toBe('end')
    expect(end.headers['message-id']).toBe('0')
    expect(end.headers.subscription).toBe('b')
    expect(end.body.length).toBe(0)
  })

  test('StompConnection holds deliveries of a receipted SUBSCRIBE until its RECEIPT is written', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    let release!: () => void
    session.sendImpl = () => new Promise<void>((r) => (release = r))
    c.write(
      frame('SEND', { destination: '/queue/a', receipt: 's' }, 'x') +
        frame('SUBSCRIBE', { id: 'x', destination: '/queue/a', receipt: 'sub' }),
    )
    await until(() => session.deliverTo.has('x'), 'subscribe')
    session.deliverTo.get('x')!(delivery('x', 1))
    await Bun.sleep(50)
    expect(c.frames.length).toBe(1) // only CONNECTED so far
    release()
    await c.next('MESSAGE')
    expect(c.frames.map((f) => f.command)).toEqual(['CONNECTED', 'RECEIPT', 'RECEIPT', 'MESSAGE'])
  })

  test('StompConnection acks by message-id in STOMP 1.1 and 1.0, cumulatively for client mode, and ABORT restores them', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker, { 'accept-version': '1.1' })
    c.write(frame('SUBSCRIBE', { id: 's', destination: '/queue/a', ack: 'client', receipt: 'r' }))
    await c.next('RECEIPT')
    for (let i = 1; i <= 3; i++) session.deliverTo.get('s')!(delivery('s', i))
    await c.waitFor(() => c.frames.filter((f) => f.command === 'MESSAGE').length === 3)
    expect(c.frames.find((f) => f.command === 'MESSAGE')!.headers.ack).toBeUndefined()
    c.write(frame('ACK', { subscription: 's', 'message-id': 'msg-2', receipt: 'a2' }))
    await c.receipt('a2')
    expect(session.calls.at(-1)).toEqual({ op: 'ack', ackId: 'ack-2', tx: undefined })
    // msg-1 was acked cumulatively with msg-2: acking it again is an error; within a tx then ABORT restores msg-3.
    c.write(
      frame('BEGIN', { transaction: 't' }) +
        frame('ACK', { subscription: 's', 'message-id': 'msg-3', transaction: 't' }) +
        frame('ABORT', { transaction: 't' }),
    )
    c.write(frame('ACK', { subscription: 's', 'message-id': 'msg-3', receipt: 'again' }))
    await c.receipt('again')
    expect(session.calls.filter((x) => x.op === 'ack').map((x) => (x as { ackId: string }).ackId)).toEqual([
      'ack-2',
      'ack-3',
      'ack-3',
    ])
    c.write(frame('ACK', { subscription: 's', 'message-id': 'msg-1', receipt: 'stale' }))
    expect((await c.next('ERROR')).headers['receipt-id']).toBe('stale')

    const v10 = await connected(port, broker, {})
    v10.c.write(frame('SUBSCRIBE', { destination: '/queue/b', ack: 'client', receipt: 'r' }))
    await v10.c.next('RECEIPT')
    const id = (v10.session.calls[0] as Extract<Call, { op: 'subscribe' }>).req.id
    v10.session.deliverTo.get(id)!(delivery(id, 7))
    const m = await v10.c.next('MESSAGE')
    expect(m.headers.subscription).toBeUndefined()
    v10.c.write(frame('ACK', { 'message-id': 'msg-7', receipt: 'k' }))
    await v10.c.receipt('k')
    expect(v10.session.calls.at(-1)).toEqual({ op: 'ack', ackId: 'ack-7', tx: undefined })
    v10.c.write(frame('NACK', { 'message-id': 'msg-7' }))
    expect((await v10.c.next('ERROR')).headers.message).toContain('1.0')
  })

  test('StompConnection UNSUBSCRIBE by id, by destination in 1.0, and durable removal', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(frame('SUBSCRIBE', { id: 's', destination: '/topic/t' }) + frame('UNSUBSCRIBE', { id: 's', receipt: 'u' }))
    await c.next('RECEIPT')
    c.write(frame('UNSUBSCRIBE', { id: 'gone', 'activemq.subscriptionName': 'dur', receipt: 'd' }))
    await c.receipt('d')
    expect(session.calls.filter((x) => x.op === 'unsubscribe')).toEqual([
      { op: 'unsubscribe', id: 's', removeDurable: false },
      { op: 'unsubscribe', id: 'gone', removeDurable: true, durableName: 'dur' },
    ])
    c.write(frame('UNSUBSCRIBE', { id: 'never' }))
    expect((await c.next('ERROR')).headers.code).toBe('STOMP_PROTOCOL')

    const v10 = await connected(port, broker, {})
    v10.c.write(
      frame('SUBSCRIBE', { destination: '/queue/q' }) + frame('UNSUBSCRIBE', { destination: '/queue/q', receipt: 'u' }),
    )
    await v10.c.next('RECEIPT')
    expect(ops(v10.session)).toEqual(['subscribe', 'unsubscribe'])
  })

  test('StompConnection rejects SUBSCRIBE without id in 1.2, a bad ack mode, a zero prefetch and a bad selector', async () => {
    const { broker, port } = await start()
    const cases: Array<[Record<string, string>, string]> = [
      [{ destination: '/queue/a' }, 'STOMP_PROTOCOL'],
      [{ id: '1', destination: '/queue/a', ack: 'sometimes' }, 'STOMP_PROTOCOL'],
      [{ id: '1', destination: '/queue/a', 'activemq.prefetchSize': '0' }, 'STOMP_PROTOCOL'],
      [{ id: '1', destination: '/queue/a', 'activemq.exclusive': 'maybe' }, 'STOMP_PROTOCOL'],
      [{ id: '1', destination: '/queue/a', selector: 'bad' }, 'BROKER_SELECTOR_INVALID'],
    ]
    for (const [headers, code] of cases) {
      const { c } = await connected(port, broker)
      c.write(frame('SUBSCRIBE', { ...headers, receipt: 'x' }))
      const e = await c.next('ERROR')
      expect(e.headers.code).toBe(code)
      expect(e.headers['receipt-id']).toBe('x')
      await c.waitClosed()
    }
  })

  test('StompConnection answers an unknown command and a malformed frame with ERROR and closes', async () => {
    const { broker, port } = await start()
    const a = await connected(port, broker)
    a.c.write(frame('FROB', { receipt: 'f' }))
    const e = await a.c.next('ERROR')
    expect(e.headers.message).toContain('unknown STOMP command')
    expect(e.headers['receipt-id']).toBe('f')
    await a.c.waitClosed()
    const b = await connected(port, broker)
    b.c.write('SEND\nno colon here\n\n\0')
    expect((await b.c.next('ERROR')).headers.code).toBe('STOMP_FRAME_INVALID')
    await b.c.waitClosed()
  })

  test('StompConnection rejects a frame over the connector maxFrameSize', async () => {
    const { broker, port } = await start({ maxFrameSize: 1000 })
    const { c } = await connected(port, broker)
    c.write(frame('SEND', { destination: '/queue/a', 'content-length': '5000' }, 'x'.repeat(5000)))
    expect((await c.next('ERROR')).headers.code).toBe('STOMP_FRAME_TOO_LARGE')
    await c.waitClosed()
  })

  test('StompConnection DISCONNECT with receipt: earlier receipts, then RECEIPT, then close', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(
      frame('SEND', { destination: '/queue/a', receipt: 's' }, 'x') +
        frame('DISCONNECT', { receipt: 'bye' }) +
        frame('SEND', { destination: '/queue/ignored' }, 'y'),
    )
    await c.waitClosed()
    expect(c.frames.map((f) => `${f.command}:${f.headers['receipt-id'] ?? ''}`)).toEqual([
      'CONNECTED:',
      'RECEIPT:s',
      'RECEIPT:bye',
    ])
    await until(() => session.closed, 'session closed')
    expect(session.calls.filter((x) => x.op === 'send').length).toBe(1)
  })
})

describe('StompConnection heart-beats', () => {
  test('StompConnection sends heart-beats at the negotiated interval', async () => {
    const { broker, port } = await start({}, { heartBeat: { heartBeatMinMs: 50 } })
    const { c, f } = await connected(port, broker, { 'accept-version': '1.2', 'heart-beat': '0,100' })
    expect(f.headers['heart-beat']).toBe('100,0')
    await c.waitFor(() => c.heartBeats >= 3, 5000, '3 heart-beats')
    expect(c.isClosed).toBe(false)
  })

  test('StompConnection applies the heart-beat floor', async () => {
    const { broker, port } = await start()
    const { f } = await connected(port, broker, { 'accept-version': '1.2', 'heart-beat': '1,1' })
    expect(f.headers['heart-beat']).toBe('100,100')
  })

  test('StompConnection closes a client silent for longer than its heart-beat times the grace', async () => {
    // 1000 ms × grace 1.5 = 1500 ms of silence closes; the client beats every 50 ms for 2 s, so only an event-loop
    // stall of over a second (not a busy machine) could make the first half wrong.
    const { broker, port } = await start({}, { heartBeat: { heartBeatMinMs: 50 } })
    const { c, f } = await connected(port, broker, { 'accept-version': '1.2', 'heart-beat': '1000,0' })
    expect(f.headers['heart-beat']).toBe('0,1000')
    // A client that beats for longer than the read timeout stays connected...
    const beatUntil = Date.now() + 2000
    while (Date.now() < beatUntil) {
      c.write('\n')
      await Bun.sleep(50)
    }
    expect(c.isClosed).toBe(false)
    // ...and one that stops is closed.
    const stoppedAt = Date.now()
    await c.waitClosed(10_000)
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1400)
    expect((await c.next('ERROR')).headers.message).toContain('nothing received')
  })
})

describe('StompServer', () => {
  test('StompServer refuses connections over maximumConnections with an ERROR', async () => {
    const { broker, port, server } = await start({ maximumConnections: 2 })
    await connected(port, broker)
    await connected(port, broker)
    const c = await client(port)
    const e = await c.next('ERROR')
    expect(e.headers.code).toBe('BROKER_LIMIT')
    await c.waitClosed()
    expect(server.connections()).toBe(2)
  })

  test('StompServer close() destroys every connection at once and closes their sessions', async () => {
    const { broker, port, server } = await start()
    const a = await connected(port, broker)
    const b = await connected(port, broker)
    expect(server.connections()).toBe(2)
    const closing = server.close()
    expect(server.connections()).toBe(0)
    await closing
    await a.c.waitClosed()
    await b.c.waitClosed()
    expect(a.session.closed && b.session.closed).toBe(true)
    await server.close() // idempotent
    await expect(
      new Promise((resolve, reject) =>
        net.connect({ port, host: '127.0.0.1' }).on('connect', resolve).on('error', reject),
      ),
    ).rejects.toThrow()
  })

  test('StompServer listen() reports an address in use as a BrokerError naming the connector URI', async () => {
    const { port } = await start()
    const other = new StompServer({
      broker: new FakeBroker(),
      connector: connector({ port, uri: `stomp://127.0.0.1:${port}` }),
    })
    servers.push(other)
    const err = await other.listen().then(
      () => null,
      (e) => e,
    )
    expect(isBrokerError(err, 'CONFIG_INVALID')).toBe(true)
    expect((err as Error).message).toContain(`stomp://127.0.0.1:${port}`)
  })
})

describe('StompConnection flow control', () => {
  test('StompConnection stops reading while inFlightFramesMax operations await the broker', async () => {
    const { broker, port } = await start({}, { inFlightFramesMax: 4 })
    const { c, session } = await connected(port, broker)
    const pending: Array<() => void> = []
    session.sendImpl = () => new Promise<void>((r) => pending.push(r))
    let burst = ''
    for (let i = 0; i < 50; i++) burst += frame('SEND', { destination: '/queue/a', receipt: `r${i}` }, `m${i}`)
    c.write(burst)
    const sends = () => session.calls.filter((x) => x.op === 'send').length
    await until(() => pending.length === 4, '4 sends in flight')
    await Bun.sleep(100)
    expect(sends()).toBe(4)
    // Settle what is in flight, round after round, until all 50 passed through the window of 4.
    let settled = 0
    for (let round = 0; round < 100 && settled < 50; round++) {
      await until(() => pending.length > 0, 'a send in flight')
      expect(sends() - settled).toBeLessThanOrEqual(4)
      const batch = pending.splice(0)
      settled += batch.length
      for (const r of batch) r()
    }
    expect(settled).toBe(50)
    await c.receipt('r49')
  })

  test('StompConnection pauses broker dispatch while the socket buffer is full and resumes on drain', async () => {
    const { broker, port } = await start()
    const { c, session } = await connected(port, broker)
    c.write(frame('SUBSCRIBE', { id: 's', destination: '/queue/a', receipt: 'r' }))
    await c.next('RECEIPT')
    c.pause()
    const big = new Uint8Array(1024 * 1024)
    for (let i = 0; i < 64 && !session.calls.some((x) => x.op === 'pause' && x.paused); i++) {
      session.deliverTo.get('s')!(delivery('s', i, { body: big }))
      await Bun.sleep(5)
    }
    expect(session.calls).toContainEqual({ op: 'pause', paused: true })
    c.resume()
    await until(() => session.calls.some((x) => x.op === 'pause' && !x.paused), 'dispatch resumed', 10000)
  })
})
