/**
 * StompClient: the failover client, and the library's facade. One logical connection over a list of brokers
 * (failover-uri.ts); at most one live transport (ClientTransport port, client-transport.ts; BrokerLink over node:net).
 *
 * Owns: the public API, the client state and its events, and what connecting and losing a connection do to each part
 * (restore on connect, bookkeeping on loss). The parts: operations awaiting receipts in op-ledger.ts, the reconnect
 * loop in reconnect-loop.ts, priorityBackup in priority-backup.ts, subscriptions in subscription-table.ts,
 * transactions in transaction-book.ts, what each broker frame means in frame-router.ts, the frames a consumer sends
 * (SUBSCRIBE, UNSUBSCRIBE, ACK/NACK) in consumer-frames.ts, the wait for the first connection in first-connect.ts.
 *
 * What it promises across a failover (same client-id, subscriptions restored, unreceipted SENDs resent with their
 * message-id, transactions never replayed, stale acks skipped) and what it does not (exactly-once delivery) is in
 * docs/architecture.md, "The client across a failover".
 *
 * `timeout` (URI option, or `timeoutMs`): how long a SEND (or any receipted operation) may wait for its RECEIPT,
 * connected or not, before it rejects with CLIENT_TIMEOUT; also bounds connect(). Default 30000 ms, -1 = forever.
 * A SEND that timed out is no longer resent; whether the broker stored it is unknown.
 */
import { EventEmitter } from 'node:events'
import * as os from 'node:os'
import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../lib/clock.ts'
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { ReconnectBackoff } from './backoff.ts'
import { ConsumerFrames } from './consumer-frames.ts'
import { firstConnect } from './first-connect.ts'
import { BrokerLink, type ClientFrame } from './broker-link.ts'
import type { ClientTransport } from './client-transport.ts'
import type {
  ClientState,
  ClientStats,
  ConnectedInfo,
  ConnectOptions,
  InterruptedInfo,
  SendBody,
  SendOptions,
} from './client-types.ts'
import { SubscriptionTable } from './subscription-table.ts'
import { DuplicateAudit } from './duplicate-audit.ts'
import { FrameRouter } from './frame-router.ts'
import { parseBrokerUri, type BrokerUri, type Endpoint } from './failover-uri.ts'
import { OpLedger, type Op } from './op-ledger.ts'
import { PriorityBackup } from './priority-backup.ts'
import { ReconnectLoop } from './reconnect-loop.ts'
import type { MessageHandler, SubscribeOptions, Subscription } from './subscription.ts'
import type { Transaction } from './transaction.ts'
import { TransactionBook } from './transaction-book.ts'

const log = logger('client')

let clientSeq = 0

export class StompClient extends EventEmitter {
  readonly uri: BrokerUri
  readonly clientId: string | undefined
  /** Prefix of every message-id this client generates (unique per client instance). */
  readonly producerId: string
  readonly stats: ClientStats = { reconnects: 0, resentSends: 0, sentFrames: 0, receivedMessages: 0 }
  private _state: ClientState = 'connecting'
  private conn: ClientTransport | null = null
  private generation = 0
  private readonly clock: Clock
  private readonly random: () => number
  private readonly backoff: ReconnectBackoff
  private readonly timeoutMs: number
  private readonly heartbeat: [number, number]
  private readonly closeTimeoutMs: number
  private readonly audit: DuplicateAudit
  private readonly ledger: OpLedger
  private readonly loop: ReconnectLoop
  private readonly priority: PriorityBackup
  private readonly router: FrameRouter
  private readonly subs: SubscriptionTable
  private readonly txs: TransactionBook
  private readonly consumer: ConsumerFrames
  private lastEndpoint: string | undefined
  private failure: Error | null = null
  /** The lost broker said it stopped serving (ERROR with sfbroker-reason): the next reconnect pass starts at once. */
  private failoverNow = false

  constructor(
    uri: string | BrokerUri,
    private readonly opts: ConnectOptions = {},
  ) {
    super()
    this.uri = typeof uri === 'string' ? parseBrokerUri(uri) : uri
    this.clientId = opts.clientId
    this.clock = opts.clock ?? systemClock
    this.random = opts.random ?? Math.random
    this.backoff = new ReconnectBackoff(this.uri.options, this.random)
    this.timeoutMs = opts.timeoutMs ?? this.uri.options.timeout
    if (this.timeoutMs === 0 || this.timeoutMs < -1)
      throw new BrokerError(
        'CLIENT_USAGE',
        `timeoutMs=${this.timeoutMs}; expected -1 (forever) or a positive number of ms`,
      )
    this.heartbeat = opts.heartbeat ?? [10000, 10000]
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000
    this.producerId = `ID:${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}-${++clientSeq}`
    this.audit = new DuplicateAudit(opts.duplicateAuditDepth ?? 10000)
    this.ledger = new OpLedger(this.clock, this.producerId, {
      link: () => (this._state === 'connected' ? this.conn : null),
      generation: () => this.generation,
      stats: this.stats,
      refusal: (op) =>
        this._state === 'closed' || this._state === 'failed'
          ? (this.failure ?? new BrokerError('CLIENT_DISCONNECTED', `${op.what}: the client is ${this._state}`))
          : null,
      where: () => (this.conn ? `connected to ${this.conn.endpoint.uri}` : `not connected (${this._state})`),
    })
    this.txs = new TransactionBook(this.producerId, {
      generation: () => this.generation,
      sendOp: (destination, body, headers, opts, policy, tx) =>
        this.ledger.sendOp(destination, body, headers, opts.receipt !== false, policy, tx),
      newOp: (command, headers, policy, what, receipt) => this.ledger.newOp(command, headers, policy, what, receipt),
      ackHeaders: (msg, command) => this.consumer.ackHeaders(msg, command),
      submit: (op, timeoutMs) => this.submit(op, timeoutMs),
      hasOpsOf: (tx) => this.ledger.hasOpsOf(tx),
    })
    this.subs = new SubscriptionTable(this.clientId, opts.iteratorBufferMax ?? 1000)
    this.consumer = new ConsumerFrames(this.subs, this.ledger, {
      transport: () => this.conn,
      isConnected: () => this._state === 'connected',
      generation: () => this.generation,
      submit: (op) => this.submit(op),
      stats: this.stats,
    })
    this.loop = new ReconnectLoop(this.uri, this.backoff, this.random, this.clock, {
      isDone: () => this.isDone(),
      open: (ep) => this.open(ep),
      connected: (link, initial) => this.connected(link, initial),
      attemptFailed: (err) => {
        this.failure = err
      },
      fail: (err) => this.fail(err),
    })
    this.router = new FrameRouter({
      subs: this.subs,
      ledger: this.ledger,
      audit: this.audit,
      stats: this.stats,
      acker: this.consumer,
      failover: this.uri.failover,
      generation: () => this.generation,
      failoverNow: () => {
        this.failoverNow = true
      },
    })
    this.priority = new PriorityBackup(this.uri, this.clock, {
      current: () => this.conn,
      isConnected: () => this._state === 'connected',
      open: (ep) => this.open(ep),
      moveTo: (old, link, uri) => this.moveTo(old, link, uri),
    })
    // An EventEmitter throws on 'error' without a listener; we never emit 'error', failures go to 'failed'.
    this.setMaxListeners(100)
  }

  get state(): ClientState {
    return this._state
  }

  /** The broker currently connected to (normalised tcp://host:port), if any. */
  get endpoint(): string | undefined {
    return this.conn?.endpoint.uri
  }

  /** Operations sent and not yet receipted (or waiting for a connection). */
  get inFlight(): number {
    return this.ledger.size
  }

  /** STOMP version negotiated on the current connection. */
  get version(): string | undefined {
    return this.conn?.version
  }

  override on(event: 'connected' | 'resumed', fn: (info: ConnectedInfo) => void): this
  override on(event: 'interrupted', fn: (info: InterruptedInfo) => void): this
  override on(event: 'failed', fn: (err: Error) => void): this
  override on(event: string, fn: (...args: any[]) => void): this {
    return super.on(event, fn)
  }

  /**
   * First connection: try the URI list until one broker accepts (startupMaxReconnectAttempts passes), bounded by the
   * timeout. Rejects with CLIENT_TIMEOUT, CLIENT_DISCONNECTED (gave up) or CLIENT_BROKER_ERROR (e.g. bad login).
   */
  start(): Promise<void> {
    return firstConnect({
      events: this,
      clock: this.clock,
      timeoutMs: this.timeoutMs,
      timedOut: () =>
        new BrokerError(
          'CLIENT_TIMEOUT',
          `connect ${this.uri.source}: no broker accepted a connection within timeout=${this.timeoutMs} ms${this.failure ? ` (last error: ${this.failure.message})` : ''}`,
        ),
      begin: () => void this.reconnectLoop(undefined, true),
      close: () => void this.close(),
    })
  }

  // ------------------------------------------------------------------ producing

  /**
   * SEND to `destination` (/queue/X, /topic/X, queue://X, topic://X). Resolves when the broker receipts it (or, with
   * `{ receipt: false }`, once written). Sets `message-id` unless given; sent again after a failover until receipted.
   */
  send(
    destination: string,
    body: SendBody,
    headers: Record<string, string | number | boolean> = {},
    opts: SendOptions = {},
  ): Promise<void> {
    return this.submit(this.ledger.sendOp(destination, body, headers, opts.receipt !== false, 'resend'), opts.timeoutMs)
  }

  private submit(op: Op, timeoutMs = this.timeoutMs): Promise<void> {
    return this.ledger.submit(op, timeoutMs)
  }

  // ------------------------------------------------------------------ consuming

  /**
   * SUBSCRIBE. With a handler, each message is passed to it; without, read with `for await (const m of sub)` or
   * `sub.receive(ms)`. `sub.ready` resolves when the broker receipted the SUBSCRIBE.
   */
  subscribe(
    destination: string,
    handler?: MessageHandler | SubscribeOptions,
    options: SubscribeOptions = {},
  ): Subscription {
    if (typeof handler === 'object') {
      options = handler
      handler = undefined
    }
    if (this._state === 'closed' || this._state === 'failed')
      throw (
        this.failure ?? new BrokerError('CLIENT_DISCONNECTED', `subscribe ${destination}: the client is ${this._state}`)
      )
    const sub = this.subs.create(destination, handler, options, this.consumer)
    if (this.conn && this._state === 'connected') this.consumer.writeSubscribe(sub)
    return sub
  }

  // ------------------------------------------------------------------ transactions

  /** A new transaction; BEGIN goes out with its first operation. */
  begin(): Transaction {
    if (this._state === 'closed' || this._state === 'failed')
      throw this.failure ?? new BrokerError('CLIENT_DISCONNECTED', `begin: the client is ${this._state}`)
    return this.txs.begin()
  }

  // ------------------------------------------------------------------ connection lifecycle

  /** Enter the reconnect loop (reconnect-loop.ts); the state changes at once, before the first await. */
  private reconnectLoop(lostUri: string | undefined, initial: boolean, immediate = false): Promise<void> {
    this._state = initial ? 'connecting' : 'reconnecting'
    return this.loop.run(lostUri, initial, immediate)
  }

  private isDone(): boolean {
    return this._state === 'closed' || this._state === 'failed'
  }

  private open(ep: Endpoint): Promise<ClientTransport> {
    return BrokerLink.open({
      endpoint: ep,
      login: this.opts.login,
      passcode: this.opts.passcode,
      clientId: this.opts.clientId,
      vhost: this.opts.vhost,
      heartbeat: this.heartbeat,
      clock: this.clock,
      tls: this.opts.tls,
      onFrame: (f, c) => this.onFrame(f, c),
      onClose: (e, c) => this.onLost(c, e),
    })
  }

  private connected(conn: ClientTransport, initial: boolean): void {
    this.conn = conn
    this.generation++
    this.backoff.succeeded()
    this._state = 'connected'
    this.failure = null
    this.lastEndpoint = conn.endpoint.uri
    const info: ConnectedInfo = {
      endpoint: conn.endpoint.uri,
      server: conn.connected['server'],
      session: conn.connected['session'],
      version: conn.version,
    }
    log.info(
      `${initial ? 'connected' : 'reconnected'} to ${info.endpoint} (STOMP ${info.version}${info.server ? `, ${info.server}` : ''}${info.session ? `, session ${info.session}` : ''})`,
    )
    if (!initial) this.stats.reconnects++
    // Restore: subscriptions first (same ids and headers), then every operation not yet receipted, in order.
    for (const sub of this.subs.values()) this.consumer.writeSubscribe(sub)
    this.ledger.resendAll()
    if (this.subs.paused) conn.setPaused(true)
    this.emit(initial ? 'connected' : 'resumed', info)
    this.priority.schedule(Math.max(1, this.uri.options.initialReconnectDelay))
  }

  private onFrame(f: ClientFrame, conn: ClientTransport): void {
    if (conn !== this.conn) return
    this.router.route(f, conn)
  }

  private onLost(conn: ClientTransport, err: Error | undefined): void {
    if (conn !== this.conn) return
    this.conn = null
    if (this.isDone()) return
    const error = err ?? new BrokerError('CLIENT_DISCONNECTED', `${conn.endpoint.uri}: closed`)
    const immediate = this.failoverNow
    this.failoverNow = false
    this.forget(conn, error)
    if (!this.uri.failover) {
      this.fail(error)
      return
    }
    void this.reconnectLoop(conn.endpoint.uri, false, immediate)
  }

  /**
   * Bookkeeping when a connection stops being ours (lost, or left for a priority broker): transactions begun on it
   * are in doubt, stale acks resolve, iterator buffers of client-ack subscriptions drop what the broker will redeliver.
   */
  private forget(conn: ClientTransport, error: Error): void {
    const lostGen = this.generation
    this.priority.clear()
    // Transactions begun on the lost connection are in doubt; the broker rolled back whatever it had not committed.
    this.txs.lost()
    this.ledger.lost()
    this.subs.clearReceipts()
    for (const sub of this.subs.values()) if (sub.ack !== 'auto') sub.dropBufferedBefore(lostGen + 1)
    log.warn(
      `connection to ${conn.endpoint.uri} interrupted: ${error.message}; ${this.ledger.size} operation(s) to resend, ${this.subs.size} subscription(s) to restore`,
    )
    this.emit('interrupted', { endpoint: conn.endpoint.uri, error } satisfies InterruptedInfo)
  }

  /** priorityBackup (priority-backup.ts) found a priority broker: restore on `link` as after a failover, leave `old`. */
  private moveTo(old: ClientTransport, link: ClientTransport, uri: string): void {
    log.info(`priorityBackup: moving from ${old.endpoint.uri} back to priority broker ${uri}`)
    this.conn = null
    this.forget(old, new BrokerError('CLIENT_DISCONNECTED', `${old.endpoint.uri}: left for priority broker ${uri}`))
    void old.disconnect(this.closeTimeoutMs)
    this.connected(link, false)
  }

  private fail(err: Error): void {
    if (this.isDone()) return
    this._state = 'failed'
    this.failure = err
    log.error(`giving up: ${err.message}`)
    this.cancelSleep()
    this.conn?.destroy()
    this.conn = null
    this.abandon(err)
    this.emit('failed', err)
  }

  private abandon(err: Error | null): void {
    this.ledger.abandon(err)
    this.subs.endAll(err)
    this.txs.abandon()
  }

  private cancelSleep(): void {
    this.priority.clear()
    this.loop.cancelSleep()
  }

  /**
   * Close: DISCONNECT with a receipt (so the broker processed every frame written before it and their receipts
   * arrive first), then the socket. Operations still without a receipt reject with CLIENT_DISCONNECTED; subscriptions
   * end (iterators finish).
   */
  async close(): Promise<void> {
    if (this.isDone()) return
    const conn = this.conn
    this._state = 'closed'
    this.cancelSleep()
    if (conn) await conn.disconnect(this.closeTimeoutMs)
    this.conn = null
    this.abandon(null)
  }

  /** The last broker this client was connected to (for logs after a failure). */
  get lastConnectedEndpoint(): string | undefined {
    return this.lastEndpoint
  }
}

/** Connect to `uri` (failover:(...), tcp://, stomp://) and resolve once a broker accepted the connection. */
export async function connect(uri: string, opts: ConnectOptions = {}): Promise<StompClient> {
  const client = new StompClient(uri, opts)
  await client.start()
  return client
}
