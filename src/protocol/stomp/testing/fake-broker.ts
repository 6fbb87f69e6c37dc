/**
 * Test-only recording BrokerCore for connection-handler tests: records every session call, lets a test decide
 * when a send settles, and lets it push deliveries to a subscription. It has no queue semantics at all (the real
 * Broker is exercised by the end-to-end tests in test/stomp-*.test.ts).
 */
import { BrokerError } from '../../../lib/errors.ts'
import { createMessage } from '../../../model/index.ts'
import type { StoredMessage } from '../../../storage/types.ts'
import type {
  BrokerCore,
  BrokerMetrics,
  BrokerSession,
  ConnectInfo,
  Delivery,
  SchedulerPort,
  SendRequest,
  SubscribeRequest,
} from '../../../broker/types.ts'

export type Call =
  | { op: 'send'; req: SendRequest; tx?: string }
  | { op: 'subscribe'; req: SubscribeRequest }
  | { op: 'unsubscribe'; id: string; removeDurable: boolean; durableName?: string }
  | { op: 'ack' | 'nack'; ackId: string; tx?: string }
  | { op: 'begin' | 'commit' | 'abort'; tx: string }
  | { op: 'pause'; paused: boolean }
  | { op: 'close' }

export class FakeSession implements BrokerSession {
  readonly calls: Call[] = []
  readonly deliverTo = new Map<string, (d: Delivery) => void>()
  closed = false
  /** When set, send() returns this instead of resolving at once. */
  sendImpl: ((req: SendRequest) => Promise<void>) | null = null
  private readonly txs = new Set<string>()

  constructor(
    readonly sessionId: string,
    readonly info: ConnectInfo,
  ) {}

  send(req: SendRequest, txId?: string): Promise<void> {
    this.calls.push({ op: 'send', req, tx: txId })
    if (txId !== undefined && !this.txs.has(txId))
      return Promise.reject(new BrokerError('BROKER_TX_UNKNOWN', `transaction ${txId}: unknown`))
    const d = req.message.destination
    if (d.kind !== 'queue' && d.kind !== 'topic') {
      return Promise.reject(
        new BrokerError('BROKER_DESTINATION_INVALID', `destination ${JSON.stringify(d)}: expected a queue or topic`),
      )
    }
    return this.sendImpl ? this.sendImpl(req) : Promise.resolve()
  }
  subscribe(req: SubscribeRequest, onDelivery: (d: Delivery) => void): void {
    if (req.selector === 'bad') throw new BrokerError('BROKER_SELECTOR_INVALID', 'selector "bad": not a selector')
    this.calls.push({ op: 'subscribe', req })
    this.deliverTo.set(req.id, onDelivery)
  }
  async unsubscribe(id: string, opts?: { removeDurable?: boolean; durableName?: string }): Promise<void> {
    this.calls.push({
      op: 'unsubscribe',
      id,
      removeDurable: opts?.removeDurable === true,
      ...(opts?.durableName ? { durableName: opts.durableName } : {}),
    })
    this.deliverTo.delete(id)
  }
  async ack(ackId: string, txId?: string): Promise<void> {
    this.calls.push({ op: 'ack', ackId, tx: txId })
  }
  async nack(ackId: string, txId?: string): Promise<void> {
    this.calls.push({ op: 'nack', ackId, tx: txId })
  }
  // STOMP has no pull mode (activemq.prefetchSize is 1 or more): these are never called by the STOMP connector.
  pull(id: string): void {
    throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `PULL ${id}: the fake session has no pull consumers`)
  }
  cancelPull(id: string): number {
    throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `PULL cancel ${id}: the fake session has no pull consumers`)
  }
  setPrefetch(id: string): void {
    throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `PREFETCH ${id}: the fake session cannot change prefetch`)
  }
  begin(txId: string): void {
    if (this.txs.has(txId)) throw new BrokerError('BROKER_TX_UNKNOWN', `transaction ${txId}: already begun`)
    this.txs.add(txId)
    this.calls.push({ op: 'begin', tx: txId })
  }
  async commit(txId: string): Promise<void> {
    this.calls.push({ op: 'commit', tx: txId })
    if (!this.txs.delete(txId)) throw new BrokerError('BROKER_TX_UNKNOWN', `transaction ${txId}: unknown`)
  }
  async abort(txId: string): Promise<void> {
    this.calls.push({ op: 'abort', tx: txId })
    if (!this.txs.delete(txId)) throw new BrokerError('BROKER_TX_UNKNOWN', `transaction ${txId}: unknown`)
  }
  setDispatchPaused(paused: boolean): void {
    this.calls.push({ op: 'pause', paused })
  }
  async close(): Promise<void> {
    this.closed = true
    this.calls.push({ op: 'close' })
  }
}

export class FakeBroker implements BrokerCore {
  readonly sessions: FakeSession[] = []
  private seq = 0
  private readonly clientIds = new Set<string>()

  connect(info: ConnectInfo): BrokerSession {
    if (info.clientId) {
      const live = this.sessions.some((s) => !s.closed && s.info.clientId === info.clientId)
      if (live) throw new BrokerError('BROKER_CLIENT_ID_IN_USE', `client-id ${info.clientId}: already connected`)
      this.clientIds.add(info.clientId)
    }
    const s = new FakeSession(`fake-${++this.seq}`, info)
    this.sessions.push(s)
    return s
  }
  async route(): Promise<void> {}
  setScheduler(_s: SchedulerPort | null): void {}
  addTopicTap(): () => void {
    return () => {}
  }
  async storeWrite(): Promise<number[]> {
    return []
  }
  async storeLoad(): Promise<StoredMessage[]> {
    return []
  }
  storeKeys(): string[] {
    return []
  }
  authorize(): void {}
  newMessageId(): string {
    return `fake-id-${++this.seq}`
  }
  metrics(): BrokerMetrics {
    return {
      connections: this.sessions.filter((s) => !s.closed).length,
      destinations: [],
      memoryBytes: 0,
      memoryLimitBytes: 0,
    }
  }
  async stop(): Promise<void> {}
}

export function delivery(
  subscriptionId: string,
  n: number,
  { body, ...extra }: Partial<Delivery> & { body?: Uint8Array } = {},
): Delivery {
  return {
    subscriptionId,
    ackId: `ack-${n}`,
    message: createMessage({
      messageId: `msg-${n}`,
      destination: { kind: 'queue', name: 'a' },
      timestamp: 0,
      properties: new Map([['custom', { type: 'string', value: `v:${n}` }]]),
      bodyKind: 'text',
      body: body ?? new TextEncoder().encode(`body ${n}`),
    }),
    redelivered: false,
    ...extra,
  }
}
