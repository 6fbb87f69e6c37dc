/**
 * Test-only helpers for the broker's unit tests: a minimal BrokerConfig, a Broker over a MemoryStore, a
 * subscriber that records deliveries, and a bounded `until` poll. Not imported by production code.
 */
import { fromStompFilter } from '../model/index.ts'
import { fromStompSend, toStompHeaders } from '../protocol/stomp/message-mapping.ts'
import type { BrokerConfig } from '../config/types.ts'
import { MemoryStore } from '../testing/memory-store.ts'
import { Broker, type BrokerOptions } from './broker.ts'
import type { BrokerSession, Delivery, SubscribeRequest } from './types.ts'

export function testConfig(over: Partial<BrokerConfig['limits']> = {}, persistent = true): BrokerConfig {
  return {
    source: 'test',
    brokerName: 'test',
    dataDirectory: '/nonexistent',
    persistent,
    schedulerSupport: false,
    schedulerDirectory: '/nonexistent/s',
    persistence: {
      adapter: 'kahaDB',
      directory: '/nonexistent/k',
      journalMaxFileLength: 1 << 25,
      journalDiskSyncStrategy: 'always',
      journalDiskSyncInterval: 1000,
      checkpointInterval: 5000,
      cleanupInterval: 30000,
    },
    lock: {
      useLock: false,
      type: 'flock',
      lockKeepAlivePeriod: 1000,
      keepAliveTimeout: 1000,
      lockAcquireSleepInterval: 1000,
      blockingWait: true,
      failIfLocked: false,
      restartAllowed: true,
      failback: false,
      eventLoopStallMax: 0,
    },
    connectors: [],
    limits: { memoryLimit: 256 << 20, destinationMemoryLimit: 64 << 20, ...over },
    admin: null,
    nodeId: null,
  }
}

export async function openStore(
  store = new MemoryStore(),
): Promise<{ store: MemoryStore; recovered: Awaited<ReturnType<MemoryStore['open']>> }> {
  const recovered = await store.open({ directory: ':memory:', epoch: 1 })
  return { store, recovered }
}

export async function makeBroker(
  opts: Partial<BrokerOptions> & { limits?: Partial<BrokerConfig['limits']>; store?: MemoryStore } = {},
): Promise<{ broker: Broker; store: MemoryStore }> {
  const { store, recovered } = await openStore(opts.store)
  const broker = await Broker.create({ config: opts.config ?? testConfig(opts.limits), store, recovered, ...opts })
  return { broker, store }
}

/** A STOMP-style send (destination label, SEND headers) through the STOMP mapping, as the SEND handler makes it. */
export function stompSend(
  s: BrokerSession,
  destination: string,
  headers: Record<string, string>,
  body: Uint8Array | string = '',
  txId?: string,
): Promise<void> {
  const b = typeof body === 'string' ? enc(body) : body
  return s.send(
    {
      message: fromStompSend(destination, headers, b, { nowMs: Date.now(), newMessageId: () => '' }),
      timestampDefaulted: !headers.timestamp,
    },
    txId,
  )
}

/** A delivery as a STOMP MESSAGE shows it (the shape 0.1.0's broker tests assert on). */
export interface StompDelivery extends Delivery {
  messageId: string
  headers: Record<string, string>
  body: Uint8Array
}

/** A SendRequest as 0.1.0's STOMP-shaped broker contract had it. */
export interface StompSendRequest {
  destination: string
  headers: Record<string, string>
  body: Uint8Array
}

/** A session seen through the STOMP mapping: these tests pin that STOMP users see the behaviour 0.1.0 had. */
export interface StompView extends Omit<BrokerSession, 'send' | 'subscribe'> {
  readonly inner: BrokerSession
  send(req: StompSendRequest, txId?: string): Promise<void>
  subscribe(
    req: Omit<SubscribeRequest, 'destination'> & { destination: string },
    onDelivery: (d: StompDelivery) => void,
  ): void
}

export function toStompDelivery(d: Delivery): StompDelivery {
  const headers = d.browserEnd ? { destination: '', 'message-id': '0', browser: 'end' } : toStompHeaders(d.message)
  if (d.groupFirst) headers.JMSXGroupFirstForConsumer = 'true'
  return { ...d, messageId: d.browserEnd ? '0' : d.message.messageId, headers: { ...headers }, body: d.message.body }
}

export function stompView(s: BrokerSession): StompView {
  const send: StompView['send'] = async (req, txId) =>
    s.send(
      {
        message: fromStompSend(req.destination, req.headers, req.body, { nowMs: Date.now(), newMessageId: () => '' }),
        timestampDefaulted: !req.headers.timestamp,
      },
      txId,
    )
  const subscribe: StompView['subscribe'] = (req, onDelivery) =>
    s.subscribe({ ...req, destination: fromStompFilter(req.destination) }, (d) => onDelivery(toStompDelivery(d)))
  // Everything else is the session itself (methods bound to it, so state changes land on the session).
  return new Proxy(s, {
    has(target, key) {
      return key === 'inner' || Reflect.has(target, key)
    },
    get(target, key) {
      if (key === 'inner') return s
      if (key === 'send') return send
      if (key === 'subscribe') return subscribe
      const v = Reflect.get(target, key, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  }) as unknown as StompView
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

export class Sink {
  readonly got: StompDelivery[] = []
  readonly fn = (d: Delivery): void => {
    this.got.push(toStompDelivery(d))
  }
  bodies(): string[] {
    return this.got.filter((d) => !d.browserEnd).map((d) => dec(d.body))
  }
}

export function sub(
  s: BrokerSession | StompView,
  req: Omit<Partial<SubscribeRequest>, 'destination'> & { destination: string },
  id = 'sub-' + Math.random().toString(36).slice(2),
): Sink {
  const sink = new Sink()
  const inner = 'inner' in s ? s.inner : s
  inner.subscribe({ id, ack: 'auto', ...req, destination: fromStompFilter(req.destination) }, sink.fn)
  return sink
}

/** Let microtasks and immediates run (dispatch is asynchronous). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r))
}

/** Poll `cond` until true or `ms` elapses (bounded in time and count); throws with `what` on timeout. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  for (let i = 0; i < 100_000 && Date.now() < end; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 2))
  }
  if (!cond()) throw new Error(`timed out waiting for: ${what}`)
}
