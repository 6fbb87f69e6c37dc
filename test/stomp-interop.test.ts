/**
 * Clients we did not write against the real Broker behind a real StompServer (127.0.0.1, ephemeral port):
 * @stomp/stompjs (npm, over a TCP adapter) in-process, and python3-stomp (Debian) as child processes running
 * test/fixtures/stomp-client.py. Covers connect/send/subscribe/ack/nack/transactions/receipts, durable
 * subscriptions, browsers, selectors, topics, binary bodies, heart-beats, redelivery of unacked messages,
 * and STOMP 1.0. Every wait is bounded; every child is killed in afterAll.
 */
import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import type { Client, IMessage, StompHeaders } from '@stomp/stompjs'
import { startBroker, type Harness } from '../src/protocol/stomp/testing/broker-harness.ts'
import { connectStompJs } from '../src/protocol/stomp/testing/stompjs-tcp.ts'
import { TestProcesses } from './fixtures/broker-process.ts'
import { runPython as runPy } from './fixtures/python-stomp.ts'

const procs = new TestProcesses()
const harnesses: Harness[] = []
const clients: Client[] = []

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.deactivate({ force: true })))
  await Promise.allSettled(harnesses.splice(0).map((h) => h.stop()))
})
afterAll(() => procs.cleanup())

async function broker(opts: Parameters<typeof startBroker>[0] = {}): Promise<Harness> {
  const h = await startBroker(opts)
  harnesses.push(h)
  return h
}

async function stompjs(
  port: number,
  connectHeaders: StompHeaders = {},
  extra: Record<string, unknown> = {},
): Promise<Client> {
  const c = await connectStompJs(port, {
    connectHeaders: { host: 'localhost', ...connectHeaders },
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    ...extra,
  })
  clients.push(c)
  return c
}

/** Publish with a receipt and wait for it (RECEIPT = accepted; durable when persistent). */
function publishReceipted(
  c: Client,
  destination: string,
  body: string | Uint8Array,
  headers: StompHeaders = {},
  timeoutMs = 5000,
): Promise<void> {
  const receipt = `r-${Math.random().toString(36).slice(2)}`
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no RECEIPT for a SEND to ${destination} within ${timeoutMs} ms`)),
      timeoutMs,
    )
    c.watchForReceipt(receipt, () => {
      clearTimeout(t)
      resolve()
    })
    if (typeof body === 'string') c.publish({ destination, body, headers: { ...headers, receipt } })
    else c.publish({ destination, binaryBody: body, headers: { ...headers, receipt } })
  })
}

class Inbox {
  readonly messages: IMessage[] = []
  async take(n: number, timeoutMs = 5000): Promise<IMessage[]> {
    const deadline = Date.now() + timeoutMs
    while (this.messages.length < n) {
      if (Date.now() > deadline) throw new Error(`got ${this.messages.length} of ${n} messages within ${timeoutMs} ms`)
      await Bun.sleep(10)
    }
    return this.messages.splice(0, n)
  }
  /** Nothing more arrives within `ms` (a quiet period, not a speed assertion). */
  async quiet(ms = 300): Promise<boolean> {
    await Bun.sleep(ms)
    return this.messages.length === 0
  }
}

function subscribe(
  c: Client,
  destination: string,
  headers: StompHeaders = {},
): { inbox: Inbox; unsubscribe: (h?: StompHeaders) => void } {
  const inbox = new Inbox()
  const sub = c.subscribe(destination, (m) => inbox.messages.push(m), headers)
  return { inbox, unsubscribe: (h) => sub.unsubscribe(h) }
}

function runPython(
  port: number,
  scenario: string,
  args: string[] = [],
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return runPy(procs, port, scenario, args, timeoutMs)
}

describe('STOMP interop with @stomp/stompjs', () => {
  test('stompjs sends persistent messages with receipts and consumes them with client-individual acks', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    for (let i = 0; i < 5; i++)
      await publishReceipted(c, '/queue/js', `m${i}`, { persistent: 'true', 'x-seq': String(i), tricky: 'a:b\nc' })
    const { inbox } = subscribe(c, '/queue/js', { ack: 'client-individual' })
    const got = await inbox.take(5)
    expect(got.map((m) => m.body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    const m = got[0]
    expect(m.headers.destination).toBe('/queue/js')
    expect(m.headers['x-seq']).toBe('0')
    expect(m.headers.tricky).toBe('a:b\nc')
    expect(m.headers.persistent).toBe('true')
    expect(m.headers['message-id']).toBeTruthy()
    expect(m.headers.subscription).toBeTruthy()
    expect(m.headers.ack).toBeTruthy()
    for (const x of got) x.ack()
    expect(await inbox.quiet()).toBe(true)
  })

  test('stompjs round-trips a binary body containing NUL bytes', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    const body = new Uint8Array([0, 1, 2, 0, 255, 0])
    const { inbox } = subscribe(c, '/queue/bin')
    await publishReceipted(c, '/queue/bin', body)
    const [m] = await inbox.take(1)
    expect([...m.binaryBody]).toEqual([...body])
  })

  test('stompjs topic subscribers each get a copy; queue consumers share messages', async () => {
    const h = await broker()
    const a = await stompjs(h.port)
    const b = await stompjs(h.port)
    const ta = subscribe(a, '/topic/news')
    const tb = subscribe(b, '/topic/news')
    const qa = subscribe(a, '/queue/work')
    const qb = subscribe(b, '/queue/work')
    await Bun.sleep(100) // let both SUBSCRIBEs reach the broker before publishing (stompjs has no SUBSCRIBE receipt helper)
    await publishReceipted(a, '/topic/news', 'hello')
    for (let i = 0; i < 10; i++) await publishReceipted(a, '/queue/work', `w${i}`)
    expect((await ta.inbox.take(1))[0].body).toBe('hello')
    expect((await tb.inbox.take(1))[0].body).toBe('hello')
    const deadline = Date.now() + 5000
    while (qa.inbox.messages.length + qb.inbox.messages.length < 10 && Date.now() < deadline) await Bun.sleep(10)
    const all = [...qa.inbox.messages, ...qb.inbox.messages].map((m) => m.body).sort()
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `w${i}`).sort())
  })

  test('stompjs NACK sends a persistent message to ActiveMQ.DLQ', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    // persistent: ActiveMQ's shared DLQ strategy has processNonPersistent=false.
    await publishReceipted(c, '/queue/poison', 'bad', { persistent: 'true' })
    const { inbox } = subscribe(c, '/queue/poison', { ack: 'client-individual' })
    const [m] = await inbox.take(1)
    m.nack()
    const dlq = subscribe(c, '/queue/ActiveMQ.DLQ')
    const [d] = await dlq.inbox.take(1)
    expect(d.body).toBe('bad')
  })

  test('stompjs transactions: COMMIT delivers the sends, ABORT discards them', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    const { inbox } = subscribe(c, '/queue/tx')
    const t1 = c.begin()
    c.publish({ destination: '/queue/tx', body: 'aborted', headers: { transaction: t1.id } })
    t1.abort()
    const t2 = c.begin()
    c.publish({ destination: '/queue/tx', body: 'one', headers: { transaction: t2.id } })
    c.publish({ destination: '/queue/tx', body: 'two', headers: { transaction: t2.id } })
    expect(await inbox.quiet(200)).toBe(true)
    t2.commit()
    expect((await inbox.take(2)).map((m) => m.body)).toEqual(['one', 'two'])
    expect(await inbox.quiet()).toBe(true)
  })

  test('stompjs unacked messages come back redelivered after the consumer disconnects', async () => {
    const h = await broker()
    const producer = await stompjs(h.port)
    for (let i = 0; i < 3; i++) await publishReceipted(producer, '/queue/redeliver', `r${i}`, { persistent: 'true' })
    const first = await stompjs(h.port)
    const s1 = subscribe(first, '/queue/redeliver', { ack: 'client-individual' })
    const got = await s1.inbox.take(3)
    got[0].ack()
    await Bun.sleep(100)
    await first.deactivate()
    const second = await stompjs(h.port)
    const s2 = subscribe(second, '/queue/redeliver', { ack: 'client-individual' })
    const again = await s2.inbox.take(2)
    expect(again.map((m) => m.body).sort()).toEqual(['r1', 'r2'])
    expect(again.every((m) => m.headers.redelivered === 'true')).toBe(true)
  })

  test('stompjs queue browser sees the messages without consuming them, then the browser:end marker', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    for (let i = 0; i < 3; i++) await publishReceipted(c, '/queue/browse', `b${i}`)
    const browser = subscribe(c, '/queue/browse', { browser: 'true' })
    const seen = await browser.inbox.take(4)
    expect(seen.slice(0, 3).map((m) => m.body)).toEqual(['b0', 'b1', 'b2'])
    expect(seen[3].headers.browser).toBe('end')
    expect(seen[3].headers['message-id']).toBe('0')
    const consumer = subscribe(c, '/queue/browse')
    expect((await consumer.inbox.take(3)).map((m) => m.body)).toEqual(['b0', 'b1', 'b2'])
  })

  test('stompjs selector filters on headers', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    const { inbox } = subscribe(c, '/topic/sel', { selector: "color = 'red' AND size > 2" })
    await Bun.sleep(100)
    await publishReceipted(c, '/topic/sel', 'no', { color: 'red', size: '1' })
    await publishReceipted(c, '/topic/sel', 'yes', { color: 'red', size: '5' })
    await publishReceipted(c, '/topic/sel', 'no', { color: 'blue', size: '5' })
    expect((await inbox.take(1))[0].body).toBe('yes')
    expect(await inbox.quiet()).toBe(true)
  })

  test('stompjs durable topic subscription keeps messages while the subscriber is away', async () => {
    const h = await broker()
    const sub1 = await stompjs(h.port, { 'client-id': 'js-durable' })
    subscribe(sub1, '/topic/prices', { 'activemq.subscriptionName': 'p1', id: 'd' })
    await Bun.sleep(100)
    await sub1.deactivate()
    const producer = await stompjs(h.port)
    for (let i = 0; i < 3; i++) await publishReceipted(producer, '/topic/prices', `p${i}`, { persistent: 'true' })
    const sub2 = await stompjs(h.port, { 'client-id': 'js-durable' })
    const { inbox } = subscribe(sub2, '/topic/prices', { 'activemq.subscriptionName': 'p1', id: 'd' })
    expect((await inbox.take(3)).map((m) => m.body)).toEqual(['p0', 'p1', 'p2'])
  })

  test('stompjs heart-beats keep an idle connection open', async () => {
    // Each side gets about a second of slack (the broker reads with grace 4 against beats every 250 ms; stompjs
    // allows twice its 1000 ms), so a busy machine's event-loop stalls do not close the connection.
    const h = await broker({ server: { heartBeat: { heartBeatMinMs: 50, graceMultiplier: 4 } } })
    const c = await stompjs(h.port, {}, { heartbeatIncoming: 1000, heartbeatOutgoing: 250 })
    await Bun.sleep(3500)
    expect(c.connected).toBe(true)
    const { inbox } = subscribe(c, '/queue/hb')
    await publishReceipted(c, '/queue/hb', 'alive')
    expect((await inbox.take(1))[0].body).toBe('alive')
  })
})

describe('ActiveMQ semantics through the connector (stompjs)', () => {
  test('higher priority is delivered first; expired messages are not delivered', async () => {
    const h = await broker()
    const c = await stompjs(h.port)
    await publishReceipted(c, '/queue/prio', 'low', { priority: '1' })
    await publishReceipted(c, '/queue/prio', 'gone', { expires: String(Date.now() - 1000), persistent: 'true' })
    await publishReceipted(c, '/queue/prio', 'high', { priority: '9' })
    const { inbox } = subscribe(c, '/queue/prio')
    const got = await inbox.take(2)
    expect(got.map((m) => m.body)).toEqual(['high', 'low'])
    expect(got[0].headers.priority).toBe('9')
    expect(await inbox.quiet()).toBe(true)
  })

  test('temp-queue request/reply: the reply-to address reaches the requester', async () => {
    const h = await broker()
    const requester = await stompjs(h.port)
    const server = await stompjs(h.port)
    const replies = subscribe(requester, '/temp-queue/replies')
    const requests = subscribe(server, '/queue/requests')
    await Bun.sleep(100)
    await publishReceipted(requester, '/queue/requests', 'ping', {
      'reply-to': '/temp-queue/replies',
      'correlation-id': 'c-1',
    })
    const [req] = await requests.inbox.take(1)
    expect(req.headers['correlation-id']).toBe('c-1')
    await publishReceipted(server, req.headers['reply-to'], 'pong', { 'correlation-id': 'c-1' })
    const [rep] = await replies.inbox.take(1)
    expect(rep.body).toBe('pong')
    expect(rep.headers['correlation-id']).toBe('c-1')
  })
})

describe('STOMP interop with python3-stomp', () => {
  test('python3-stomp: receipts, escaping, acks, NACK, transactions, DISCONNECT receipt', async () => {
    const h = await broker()
    const r = await runPython(h.port, 'queue', ['/queue/py'])
    expect(r.bodies).toEqual(['msg-0', 'msg-1', 'msg-2', 'msg-3', 'msg-4'])
    expect((r.first as Record<string, string>).tricky).toBe('a:b\nc\\d')
    expect((r.first as Record<string, string>).persistent).toBe('true')
    expect(r.tx).toBe('committed')
    expect(r.extra).toBe(null)
    // The NACKed message went to the DLQ.
    const c = await stompjs(h.port)
    const dlq = subscribe(c, '/queue/ActiveMQ.DLQ')
    expect((await dlq.inbox.take(1))[0].body).toBe('msg-4')
  })

  test('python3-stomp: durable subscription across disconnect', async () => {
    const h = await broker()
    await runPython(h.port, 'durable-subscribe', ['/topic/py-dur', 'py-client', 'sub-a'])
    await runPython(h.port, 'send', ['/topic/py-dur', '4'])
    const r = await runPython(h.port, 'durable-receive', ['/topic/py-dur', 'py-client', 'sub-a', '4'])
    expect(r.bodies).toEqual(['py-0', 'py-1', 'py-2', 'py-3'])
  })

  test('python3-stomp: heart-beats both ways keep the connection alive', async () => {
    const h = await broker()
    const r = await runPython(h.port, 'heartbeat', ['1.2'])
    expect(r.alive).toBe(true)
    expect(r.heartbeats as number).toBeGreaterThan(0)
  })

  test('python3-stomp: STOMP 1.0 client', async () => {
    const h = await broker()
    const r = await runPython(h.port, 'v10', ['/queue/py10'])
    expect(r.body).toBe('old-school')
  })
})
