/**
 * StompConnection: one client socket, from CONNECT to close. Maps STOMP frames onto the BrokerSession API and
 * deliveries onto MESSAGE frames, with ActiveMQ's semantics (see shared reference, "STOMP in ActiveMQ Classic").
 *
 * Ordering: frames are applied to the session synchronously in arrival order (so the broker sees them in order),
 * but their outcomes (RECEIPT, or ERROR then close) are written in arrival order too, each after its own
 * operation settled: a RECEIPT for a SEND therefore means the message is accepted (durable when persistent),
 * and an ERROR never overtakes the RECEIPTs of earlier frames. A SUBSCRIBE with a receipt holds its deliveries
 * until the RECEIPT is written (ActiveMQ does the same with a zero prefetch until the receipt).
 *
 * Errors: any bad frame or failed operation gets an ERROR frame (`message`, `receipt-id` when the frame asked for
 * a receipt, `code` with our BrokerError code) and the connection closes; the broker and other connections go on.
 *
 * Flow control, both ways:
 * - out: when the socket's buffer is full (write() returned false) the session's dispatch is paused until 'drain';
 * - in: at most `inFlightFramesMax` operations, and SEND bodies of at most `inFlightBytesMax` bytes, may await the
 *   broker; beyond either the socket stops reading. The byte bound is what makes the broker's memory limits hold: a
 *   SEND waiting for memory (producer flow control) keeps its body here, so without it 1000 large frames per
 *   connection would be read past a full destination. Either way the socket stops reading, so a
 *   fast producer is slowed down by TCP instead of growing our memory.
 *
 * Writes of one event-loop turn are joined into one socket write (many MESSAGE frames per syscall).
 */
import type { Socket } from 'node:net'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { AckMode, BrokerCore, BrokerSession, Delivery, SendRequest, SubscribeRequest } from '../../broker/types.ts'
import { parseDestination } from '../../broker/index.ts'
import { FrameParser, commandLabel } from './frame-parser.ts'
import type { Authenticator, Subject } from '../../security/index.ts'
import { escapeNonPrintable, excerpt } from '../../lib/excerpt.ts'
import { encodeFrame, encodeFrameParts } from './frame-encoder.ts'
import { idleGc } from '../../lib/idle-gc.ts'
import type { MemoryUsage } from '../../broker/index.ts'
import {
  DEFAULT_FRAME_LIMITS,
  SUPPORTED_VERSIONS,
  type FrameLimits,
  type StompFrame,
  type StompVersion,
} from './frame.ts'
import {
  DEFAULT_HEART_BEAT_OPTIONS,
  negotiateHeartBeat,
  type HeartBeatOptions,
  type HeartBeatPlan,
} from './heart-beat.ts'

const log = logger('stomp')

export interface ConnectionOptions {
  broker: BrokerCore
  socket: Socket
  /** CONNECTED `server` header, e.g. sfbroker/0.1.0 */
  serverName: string
  limits?: Partial<FrameLimits>
  heartBeat?: Partial<HeartBeatOptions>
  /** Close a connection that sent no CONNECT within this (ActiveMQ connectAttemptTimeout, 30000). */
  connectTimeoutMs?: number
  /** Most operations awaiting the broker before the socket stops reading. */
  inFlightFramesMax?: number
  /** Most SEND body bytes awaiting the broker before the socket stops reading (one larger frame still passes). */
  inFlightBytesMax?: number
  /**
   * Receive budget shared by the connector's connections: a frame's declared body is reserved here before its
   * bytes are read (a frame that does not fit pauses its socket until it does) and released once the broker has
   * taken the frame (for a SEND: when it settles). Absent: no budget.
   */
  receiveUsage?: MemoryUsage
  /** Bytes queued for this socket (ours plus the socket's own buffer) above which dispatch to it pauses. */
  outBytesMax?: number
  /** After an ERROR the socket is half-closed; it is destroyed if the peer has not closed within this. */
  closeLingerMs?: number
  clock?: Clock
  onClose?: (conn: StompConnection) => void
  /** Checks CONNECT's login/passcode (src/security); absent = every CONNECT is accepted with no subject. */
  authenticator?: Authenticator | null
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
export const DEFAULT_IN_FLIGHT_FRAMES_MAX = 1000
/** 4 MiB: hundreds of typical messages per connection in flight (group commit stays fed), a bounded overshoot. */
export const DEFAULT_IN_FLIGHT_BYTES_MAX = 4 * 1024 * 1024
export const DEFAULT_CLOSE_LINGER_MS = 5_000
/** 8 MiB: a slow consumer makes the broker hold at most this (plus one message) for its socket. */
export const DEFAULT_OUT_BYTES_MAX = 8 * 1024 * 1024
/** Bodies up to this are not charged to the receive budget (so they never wait behind a large frame). */
export const RECEIVE_SMALL_BYTES = 64 * 1024
/** Bodies over this go out uncopied, handed to the socket this many bytes per write (see pumpOut). */
const OUT_SLICE_BYTES = 1024 * 1024
/** Bytes handed to the socket per event-loop turn before pumpOut yields (one slice of a large body). */
const OUT_TURN_BYTES = OUT_SLICE_BYTES
/**
 * After the goodbye ERROR of a connector that stops serving, the socket is destroyed after at most this long,
 * whether or not the peer read it: a client that does not read must not hold a step-down.
 */
export const DEFAULT_GOODBYE_LINGER_MS = 500

/** ERROR header naming why a connector closes every connection (README "When the broker stops serving"). */
export const REASON_HEADER = 'sfbroker-reason'

/**
 * Why a connector says goodbye to all its clients: `not-primary` (lock lost, fenced, store failure: another
 * broker serves, or will), `shutdown` (a requested stop). Either way a failover client should move on at once.
 */
export interface Goodbye {
  reason: 'not-primary' | 'shutdown'
  /** The ERROR's `message` header, e.g. "broker is no longer primary: keep-alive: ...". */
  message: string
}

/** Headers of a SEND that are about this frame, not the message (ActiveMQ strips the same plus the first three). */
const SEND_FRAME_HEADERS = new Set([
  'receipt',
  'transaction',
  'content-length',
  'redelivered',
  'subscription',
  'ack',
  'JMSXUserID',
])
/** Headers the connector itself sets on a MESSAGE frame. */
const MESSAGE_OWN_HEADERS = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length'])

const ACK_MODES: readonly AckMode[] = ['auto', 'client', 'client-individual']

interface Subscription {
  id: string
  /** 1.0 SUBSCRIBE without id: MESSAGE frames then carry no `subscription` header (as ActiveMQ). */
  implicitId: boolean
  destination: string
  ack: AckMode
  /** STOMP 1.0/1.1 ack by message-id: message-id -> broker ackId of unacked deliveries, in delivery order. */
  unacked: Map<string, string>
  /** Deliveries held until this SUBSCRIBE's RECEIPT is written; null once released. */
  held: Delivery[] | null
}

interface ReleasedAck {
  sub: Subscription
  messageId: string
  ackId: string
}

/**
 * awaiting-connect → connected → draining (no more input; earlier outcomes still written: DISCONNECT, or an
 * ERROR waiting its turn) → ended (socket.end() called, nothing more written) → closed (socket gone).
 */
/** One frame waiting for its RECEIPT or ERROR to be written. */
interface Outcome {
  kind: 'op' | 'fail' | 'disconnect'
  frame: StompFrame | null
  done: boolean
  err: unknown
  afterReceipt?: () => void
  /** SEND body bytes counted in inFlightBytes until settled. */
  bytes?: number
  /** Receive-budget bytes of this frame, released when it settles. */
  receiveBytes?: number
}

type State = 'awaiting-connect' | 'connected' | 'draining' | 'ended' | 'closed'

let connectionSeq = 0

export class StompConnection {
  readonly id = `stomp-${++connectionSeq}`
  private readonly broker: BrokerCore
  private readonly socket: Socket
  private readonly serverName: string
  private readonly parser: FrameParser
  private readonly clock: Clock
  private readonly hbOptions: HeartBeatOptions
  private readonly inFlightFramesMax: number
  private readonly inFlightBytesMax: number
  private readonly closeLingerMs: number
  private readonly receiveUsage: MemoryUsage | null
  private readonly outBytesMax: number
  /** Receive budget held by the frame being parsed (moves to its outcome when the frame is complete). */
  private bodyCharge = 0
  /** Set while waiting for the receive budget (reading is paused until it is granted). */
  private budgetGrant: (() => void) | null = null
  private readonly onClose?: (conn: StompConnection) => void
  private readonly remoteAddress: string
  private readonly authenticator: Authenticator | null

  private state: State = 'awaiting-connect'
  private version: StompVersion = '1.0'
  private session: BrokerSession | null = null
  private readonly subs = new Map<string, Subscription>()
  private implicitSeq = 0
  /** Per transaction, the 1.0/1.1 ack mappings its ACK/NACKs consumed: restored on ABORT. */
  private readonly txReleased = new Map<string, ReleasedAck[]>()

  // outcome ordering: a FIFO of frames whose RECEIPT/ERROR is not written yet (head index: O(1) dequeue)
  private outcomes: Outcome[] = []
  private outcomesHead = 0
  private inFlight = 0
  private inFlightBytes = 0
  private readPaused = false
  /** Bytes read but not yet parsed because the in-flight window was full. */
  private pendingInput: Buffer | null = null

  // output batching and backpressure
  private outChunks: Buffer[] = []
  private outChunksBytes = 0
  /** Written by flushNow but not yet handed to the socket (large bodies go in slices, see pumpOut). */
  private outQueue: Buffer[] = []
  private outQueued = 0
  private waitingDrain = false
  private endAfterFlush = false
  private flushScheduled = false
  private dispatchPaused = false
  /** A pumpOut is queued for the next turn (the last one stopped at OUT_TURN_BYTES). */
  private pumpScheduled = false

  // timers
  private connectTimer: unknown = null
  private hb: HeartBeatPlan | null = null
  private lastReadAt: number
  private lastWriteAt: number
  private readTimer: unknown = null
  private writeTimer: unknown = null
  private lingerTimer: unknown = null

  constructor(opts: ConnectionOptions) {
    this.broker = opts.broker
    this.socket = opts.socket
    this.serverName = opts.serverName
    this.parser = new FrameParser({ ...DEFAULT_FRAME_LIMITS, ...opts.limits })
    this.clock = opts.clock ?? systemClock
    this.hbOptions = { ...DEFAULT_HEART_BEAT_OPTIONS, ...opts.heartBeat }
    this.inFlightFramesMax = opts.inFlightFramesMax ?? DEFAULT_IN_FLIGHT_FRAMES_MAX
    this.inFlightBytesMax = opts.inFlightBytesMax ?? DEFAULT_IN_FLIGHT_BYTES_MAX
    this.closeLingerMs = opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS
    this.receiveUsage = opts.receiveUsage ?? null
    this.outBytesMax = opts.outBytesMax ?? DEFAULT_OUT_BYTES_MAX
    this.parser.bodyGate = (bytes) => this.admitBody(bytes)
    this.onClose = opts.onClose
    this.authenticator = opts.authenticator ?? null
    this.remoteAddress = `${opts.socket.remoteAddress ?? '?'}:${opts.socket.remotePort ?? '?'}`
    this.lastReadAt = this.lastWriteAt = this.clock.now()

    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = null
      if (this.state === 'awaiting-connect') {
        this.fail(
          new BrokerError(
            'STOMP_PROTOCOL',
            `connection ${this.remoteAddress}: no CONNECT frame within ${connectTimeoutMs} ms (connectTimeoutMs)`,
          ),
          null,
        )
      }
    }, connectTimeoutMs)

    this.socket.setNoDelay?.(true)
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('drain', () => this.onDrain())
    this.socket.on('error', (err) =>
      log.debug(`connection ${this.id} ${this.remoteAddress}: socket error: ${err.message}`),
    )
    this.socket.on('close', () => this.onSocketClosed())
  }

  /** The STOMP version negotiated at CONNECT (1.0 before). */
  negotiatedVersion(): StompVersion {
    return this.version
  }

  /**
   * The connector stops serving (step-down, shutdown): write what is already queued, then one ERROR saying why
   * (`message`, `code`, `sfbroker-reason`), half-close, and destroy the socket after at most `lingerMs` whatever
   * the peer does. Nothing the client sends from now on is applied (it is read and dropped, so the close is a FIN,
   * not a reset that could discard the ERROR), and no outcome or delivery is written after the ERROR.
   */
  goodbye(g: Goodbye, lingerMs = DEFAULT_GOODBYE_LINGER_MS): void {
    if (this.state === 'closed') return
    if (this.state !== 'ended') {
      const headers: Array<[string, string]> = [
        ['message', g.message.length > 1000 ? g.message.slice(0, 1000) + '…' : g.message],
        ['content-type', 'text/plain'],
        ['code', 'BROKER_STOPPED'],
        [REASON_HEADER, g.reason],
      ]
      log.debug(`connection ${this.id} ${this.remoteAddress}: goodbye (${g.reason}): ${g.message}`)
      this.write(encodeFrame('ERROR', headers, Buffer.from(g.message + '\n', 'utf8'), this.version))
      this.flushNow()
      this.endSocket()
    }
    if (this.lingerTimer !== null) this.clock.clearTimeout(this.lingerTimer)
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = null
      this.destroy()
    }, lingerMs)
    this.socket.resume()
  }

  /** Destroy the socket now, without ERROR or flush (the server is closing: lock lost, shutdown). */
  destroy(): void {
    if (this.state === 'closed') return
    this.socket.destroy()
    this.onSocketClosed()
  }

  // ---------------------------------------------------------------- input

  private accepting(): boolean {
    return this.state === 'awaiting-connect' || this.state === 'connected'
  }

  private onData(chunk: Buffer): void {
    if (!this.accepting()) return
    this.lastReadAt = this.clock.now()
    if (this.readPaused) {
      // A read already under way when we paused: keep it for resume, in order.
      this.pendingInput = this.pendingInput ? Buffer.concat([this.pendingInput, chunk]) : chunk
      return
    }
    this.feed(chunk)
  }

  /** Parse frames until the chunk ends or the in-flight window fills; the unparsed rest waits in pendingInput. */
  private feed(chunk: Buffer): void {
    try {
      const used = this.parser.push(chunk, (frame) => {
        const charge = this.bodyCharge
        this.bodyCharge = 0
        this.frameCharge = charge
        this.onFrame(frame)
        // Not taken by an outcome (not a SEND, or it failed at once): the frame is done with.
        if (this.frameCharge > 0) this.receiveUsage?.release(this.frameCharge)
        this.frameCharge = 0
        return !this.readPaused && this.accepting()
      })
      if (used < chunk.length && this.readPaused && this.accepting()) this.pendingInput = chunk.subarray(used)
    } catch (err) {
      this.failInTurn(err, null)
    }
  }

  /** Receive budget bytes of the frame being applied, until an outcome takes them (see enqueueOutcome). */
  private frameCharge = 0

  /** The parser's body gate: reserve the declared body in the receive budget, or pause until it fits. */
  private admitBody(bytes: number): boolean {
    const usage = this.receiveUsage
    // Small bodies are bounded per connection by inFlightBytesMax already; never queue them behind a large one.
    if (!usage || bytes <= RECEIVE_SMALL_BYTES) return true
    const grant = (): void => {
      this.budgetGrant = null
      if (this.state === 'closed') {
        usage.release(bytes)
        return
      }
      this.bodyCharge += bytes
      if (this.accepting()) this.resumeReading()
    }
    if (usage.reserve(bytes, grant)) {
      this.bodyCharge += bytes
      return true
    }
    this.budgetGrant = grant
    this.readPaused = true
    this.socket.pause()
    return false
  }

  private resumeReading(): void {
    if (this.budgetGrant) return
    this.readPaused = false
    const rest = this.pendingInput
    this.pendingInput = null
    if (rest) this.feed(rest)
    if (!this.readPaused && this.accepting()) this.socket.resume()
  }

  private onFrame(frame: StompFrame): void {
    if (!this.accepting()) return
    try {
      if (this.state === 'awaiting-connect') {
        if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') {
          throw new BrokerError(
            'STOMP_PROTOCOL',
            `${commandLabel(frame.command)} frame before CONNECT: expected CONNECT or STOMP first`,
          )
        }
        this.onConnect(frame)
        return
      }
      switch (frame.command) {
        case 'SEND':
          return this.onSend(frame)
        case 'SUBSCRIBE':
          return this.onSubscribe(frame)
        case 'UNSUBSCRIBE':
          return this.onUnsubscribe(frame)
        case 'ACK':
          return this.onAck(frame, false)
        case 'NACK':
          return this.onAck(frame, true)
        case 'BEGIN':
          return this.onBegin(frame)
        case 'COMMIT':
          return this.onTxEnd(frame, 'commit')
        case 'ABORT':
          return this.onTxEnd(frame, 'abort')
        case 'DISCONNECT':
          return this.onDisconnect(frame)
        case 'CONNECT':
        case 'STOMP':
          throw new BrokerError('STOMP_PROTOCOL', `${frame.command} frame on connection ${this.id}: already connected`)
        default:
          throw new BrokerError(
            'STOMP_PROTOCOL',
            `unknown STOMP command ${commandLabel(frame.command)}: expected SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK, BEGIN, COMMIT, ABORT or DISCONNECT`,
          )
      }
    } catch (err) {
      if (isBrokerError(err, 'SECURITY_NOT_AUTHORIZED')) this.refuseInTurn(err, frame)
      else this.failInTurn(err, frame)
    }
  }

  /** A denied operation: its ERROR goes out in frame order and the connection stays up, as in ActiveMQ. */
  private refuseInTurn(err: unknown, frame: StompFrame): void {
    this.outcomes.push({ kind: 'op', frame, done: true, err })
    this.drainOutcomes()
  }

  /** ERROR for a denied operation (`receipt-id` when asked), without closing. */
  private refuse(err: BrokerError, frame: StompFrame | null): void {
    log.debug(`connection ${this.id} ${this.remoteAddress}: ${err.code}: ${escapeNonPrintable(err.message)}`)
    const message = escapeNonPrintable(err.message)
    const headers: Array<[string, string]> = [
      ['message', message],
      ['content-type', 'text/plain'],
      ['code', err.code],
    ]
    const receipt = frame?.headers.receipt
    if (receipt !== undefined) headers.push(['receipt-id', receipt])
    this.write(encodeFrame('ERROR', headers, Buffer.from(message + '\n', 'utf8'), this.version))
  }

  /**
   * A bad frame: apply nothing more from this connection, and write the ERROR after the outcomes of earlier
   * frames (their RECEIPTs are true: those operations were applied).
   */
  private failInTurn(err: unknown, frame: StompFrame | null): void {
    this.state = 'draining'
    this.socket.pause()
    this.outcomes.push({ kind: 'fail', frame, done: true, err })
    this.drainOutcomes()
  }

  private required(frame: StompFrame, name: string): string {
    const v = frame.headers[name]
    if (v === undefined || v === '')
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `${frame.command} frame: header ${JSON.stringify(name)} is missing, expected it`,
      )
    return v
  }

  // ---------------------------------------------------------------- commands

  private onConnect(frame: StompFrame): void {
    const h = frame.headers
    const accepted = h['accept-version'] === undefined ? ['1.0'] : h['accept-version'].split(',').map((v) => v.trim())
    const version = SUPPORTED_VERSIONS.find((v) => accepted.includes(v))
    if (!version) {
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `CONNECT accept-version: ${excerpt(h['accept-version'] ?? '')} names no supported version, expected one of ${SUPPORTED_VERSIONS.join(',')}`,
        {
          details: { errorHeaders: { version: SUPPORTED_VERSIONS.join(',') } },
        },
      )
    }
    const hb = negotiateHeartBeat(h['heart-beat'], this.hbOptions)
    const auth = this.authenticator
    if (!auth) return this.completeConnect(frame, version, hb, null)
    // Security (src/security) decides asynchronously (password hash, login backoff): frames pipelined behind the
    // CONNECT wait unparsed in pendingInput until it has. A failed login is ActiveMQ's ERROR, then close.
    this.readPaused = true
    this.socket.pause()
    auth
      .authenticate({
        username: h.login,
        password: h.passcode,
        remoteAddress: this.socket.remoteAddress ?? this.remoteAddress,
      })
      .then(
        (subject) => {
          if (this.state !== 'awaiting-connect') return
          try {
            this.completeConnect(frame, version, hb, subject)
          } catch (err) {
            return this.fail(err, frame)
          }
          this.resumeReading()
        },
        (err: unknown) => {
          if (this.state === 'awaiting-connect') this.fail(err, frame)
        },
      )
  }

  private completeConnect(frame: StompFrame, version: StompVersion, hb: HeartBeatPlan, subject: Subject | null): void {
    const h = frame.headers
    const clientId = h['client-id'] || undefined
    this.session = this.broker.connect({
      clientId,
      login: h.login || undefined,
      remoteAddress: this.remoteAddress,
      protocol: 'stomp',
      subject,
    })
    this.version = version
    this.parser.setVersion(version)
    this.state = 'connected'
    if (this.connectTimer !== null) {
      this.clock.clearTimeout(this.connectTimer)
      this.connectTimer = null
    }
    const headers: Array<[string, string]> = [
      ['version', version],
      ['session', this.session.sessionId],
      ['server', this.serverName],
      ['heart-beat', hb.header],
    ]
    const requestId = h['request-id'] ?? h.receipt
    if (requestId !== undefined) headers.push(['response-id', requestId], ['receipt-id', requestId])
    this.write(encodeFrame('CONNECTED', headers, null, version))
    this.startHeartBeat(hb)
    log.debug(
      `connection ${this.id} ${this.remoteAddress}: CONNECTED v${version} session ${this.session.sessionId} heart-beat ${hb.header}`,
    )
  }

  private onSend(frame: StompFrame): void {
    const destination = this.required(frame, 'destination')
    // Validate the name now, not in the broker's async send: a bad SEND must stop this connection before the
    // frames pipelined behind it (a COMMIT, say) are applied.
    parseDestination(destination, 'SEND destination')
    const headers: Record<string, string> = {}
    const fh = frame.headers
    for (const k in fh) if (!SEND_FRAME_HEADERS.has(k)) headers[k] = fh[k]
    const req: SendRequest = { destination, headers, body: frame.body }
    const tx = frame.headers.transaction
    this.enqueueOutcome(frame, this.sessionOrThrow().send(req, tx), undefined, frame.body.length)
    // The outcome holds the receive budget until the broker has the message (in memory under its limits, or stored).
    this.outcomes[this.outcomes.length - 1]!.receiveBytes = this.frameCharge
    this.frameCharge = 0
  }

  private onSubscribe(frame: StompFrame): void {
    const h = frame.headers
    const destination = this.required(frame, 'destination')
    let id = h.id
    let implicitId = false
    if (id === undefined || id === '') {
      if (this.version !== '1.0')
        throw new BrokerError(
          'STOMP_PROTOCOL',
          `SUBSCRIBE to ${destination}: header "id" is missing, expected it (required since STOMP 1.1)`,
        )
      id = `${destination}#implicit-${++this.implicitSeq}`
      implicitId = true
    }
    if (this.subs.has(id))
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `SUBSCRIBE id ${JSON.stringify(id)}: already used by a subscription of this connection, expected a new id`,
      )
    const ack = (h.ack ?? 'auto') as AckMode
    if (!ACK_MODES.includes(ack))
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `SUBSCRIBE ${id} ack: ${JSON.stringify(h.ack)}, expected auto, client or client-individual`,
      )
    const req: SubscribeRequest = { id, destination, ack }
    if (h.selector !== undefined && h.selector.trim() !== '') req.selector = h.selector
    const prefetch = h['activemq.prefetchSize']
    if (prefetch !== undefined) req.prefetch = intHeader(frame, 'activemq.prefetchSize', 1, 2 ** 31 - 1)
    const exclusive = boolHeader(frame, 'activemq.exclusive')
    if (exclusive !== undefined) req.exclusive = exclusive
    if (h['activemq.priority'] !== undefined) req.priority = intHeader(frame, 'activemq.priority', -128, 127)
    const durableName = h['activemq.subscriptionName'] ?? h['durable-subscription-name']
    if (durableName !== undefined && durableName !== '') req.durableName = durableName
    const browser = boolHeader(frame, 'browser')
    if (browser) req.browser = true
    const noLocal = boolHeader(frame, 'activemq.noLocal')
    if (noLocal !== undefined) req.noLocal = noLocal

    const sub: Subscription = {
      id,
      implicitId,
      destination,
      ack,
      unacked: new Map(),
      held: h.receipt !== undefined ? [] : null,
    }
    this.subs.set(id, sub)
    try {
      this.sessionOrThrow().subscribe(req, (d) => this.onDelivery(sub, d))
    } catch (err) {
      this.subs.delete(id)
      throw err
    }
    if (sub.held) {
      const held = sub
      this.enqueueOutcome(frame, null, () => {
        const list = held.held ?? []
        held.held = null
        for (const d of list) this.onDelivery(held, d)
      })
    }
  }

  private onUnsubscribe(frame: StompFrame): void {
    const h = frame.headers
    const durableName = h['activemq.subscriptionName'] ?? h['durable-subscription-name']
    let sub: Subscription | undefined
    if (h.id !== undefined && h.id !== '') sub = this.subs.get(h.id)
    else if (this.version !== '1.0')
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `UNSUBSCRIBE: header "id" is missing, expected it (required since STOMP 1.1)`,
      )
    else if (h.destination !== undefined) sub = [...this.subs.values()].find((s) => s.destination === h.destination)
    else
      throw new BrokerError('STOMP_PROTOCOL', 'UNSUBSCRIBE: neither "id" nor "destination" given, expected one of them')
    const removeDurable = durableName !== undefined && durableName !== ''
    if (!sub && !removeDurable) {
      throw new BrokerError(
        'STOMP_PROTOCOL',
        `UNSUBSCRIBE ${JSON.stringify(h.id ?? h.destination)}: no subscription of this connection matches`,
      )
    }
    // Durable removal works without an active subscription too (ActiveMQ RemoveSubscriptionInfo): the broker
    // resolves it by the connection's client-id and the name.
    const id = sub ? sub.id : (h.id ?? durableName)
    if (sub) this.subs.delete(sub.id)
    this.enqueueOutcome(
      frame,
      this.sessionOrThrow().unsubscribe(id, removeDurable ? { removeDurable: true, durableName } : undefined),
    )
  }

  private onAck(frame: StompFrame, nack: boolean): void {
    if (nack && this.version === '1.0')
      throw new BrokerError('STOMP_PROTOCOL', 'NACK frame on a STOMP 1.0 connection: NACK exists since 1.1')
    const tx = frame.headers.transaction
    let ackId: string
    if (this.version === '1.2') {
      ackId = this.required(frame, 'id')
    } else {
      const messageId = this.required(frame, 'message-id')
      const subId = frame.headers.subscription
      if (this.version === '1.1' && (subId === undefined || subId === '')) this.required(frame, 'subscription')
      const sub =
        subId !== undefined ? this.subs.get(subId) : [...this.subs.values()].find((s) => s.unacked.has(messageId))
      const found = sub?.unacked.get(messageId)
      if (!sub || found === undefined) {
        throw new BrokerError(
          'STOMP_PROTOCOL',
          `${frame.command} message-id ${JSON.stringify(messageId)}${subId !== undefined ? ` subscription ${JSON.stringify(subId)}` : ''}: no unacknowledged message of this connection has it`,
        )
      }
      ackId = found
      this.releaseAcks(sub, messageId, tx)
    }
    const session = this.sessionOrThrow()
    this.enqueueOutcome(frame, nack ? session.nack(ackId, tx) : session.ack(ackId, tx))
  }

  /** Forget the 1.0/1.1 message-id mappings an ACK consumed (cumulative in client mode); kept for ABORT. */
  private releaseAcks(sub: Subscription, messageId: string, tx: string | undefined): void {
    const released: ReleasedAck[] = []
    if (sub.ack === 'client') {
      for (const [mid, aid] of sub.unacked) {
        sub.unacked.delete(mid)
        released.push({ sub, messageId: mid, ackId: aid })
        if (mid === messageId) break
      }
    } else {
      released.push({ sub, messageId, ackId: sub.unacked.get(messageId)! })
      sub.unacked.delete(messageId)
    }
    if (tx !== undefined) {
      const list = this.txReleased.get(tx)
      if (list) list.push(...released)
    }
  }

  private onBegin(frame: StompFrame): void {
    const tx = this.required(frame, 'transaction')
    this.sessionOrThrow().begin(tx)
    this.txReleased.set(tx, [])
    this.enqueueOutcome(frame, null)
  }

  private onTxEnd(frame: StompFrame, kind: 'commit' | 'abort'): void {
    const tx = this.required(frame, 'transaction')
    const session = this.sessionOrThrow()
    const released = this.txReleased.get(tx)
    this.txReleased.delete(tx)
    if (kind === 'abort' && released) {
      // ABORT makes the ack ids valid again (ActiveMQ: the messages stay delivered and unacked).
      for (const r of released) if (this.subs.get(r.sub.id) === r.sub) r.sub.unacked.set(r.messageId, r.ackId)
    }
    this.enqueueOutcome(frame, kind === 'commit' ? session.commit(tx) : session.abort(tx))
  }

  private onDisconnect(frame: StompFrame): void {
    this.state = 'draining'
    this.socket.pause()
    this.outcomes.push({ kind: 'disconnect', frame, done: true, err: null })
    this.drainOutcomes()
  }

  private sessionOrThrow(): BrokerSession {
    if (!this.session) throw new BrokerError('STOMP_PROTOCOL', 'no session: CONNECT first')
    return this.session
  }

  // ---------------------------------------------------------------- outcomes in frame order

  /**
   * Queue the outcome of one frame: after every earlier outcome, write RECEIPT (if asked) when `op` resolves
   * (null: the operation already completed synchronously), or ERROR then close when it rejects.
   * `afterReceipt` runs once the receipt is written.
   */
  private enqueueOutcome(frame: StompFrame, op: Promise<void> | null, afterReceipt?: () => void, bytes = 0): void {
    const o: Outcome = { kind: 'op', frame, done: op === null, err: null, afterReceipt, bytes }
    this.outcomes.push(o)
    if (op === null) {
      this.drainOutcomes()
      return
    }
    this.inFlight++
    this.inFlightBytes += bytes
    if ((this.inFlight >= this.inFlightFramesMax || this.inFlightBytes >= this.inFlightBytesMax) && !this.readPaused) {
      this.readPaused = true
      this.socket.pause()
    }
    // The handler is attached now, so a rejection is never "unhandled" while earlier outcomes are pending.
    op.then(
      () => this.settle(o, null),
      (err: unknown) => this.settle(o, err ?? new Error('operation rejected')),
    )
  }

  private settle(o: Outcome, err: unknown): void {
    o.done = true
    o.err = err
    this.inFlight--
    this.inFlightBytes -= o.bytes ?? 0
    if (o.receiveBytes) {
      this.receiveUsage?.release(o.receiveBytes)
      o.receiveBytes = 0
    }
    this.drainOutcomes()
    // After the drain: resuming parses more frames, which may append (and drain) outcomes themselves.
    const below = this.inFlight <= this.inFlightFramesMax >> 1 && this.inFlightBytes <= this.inFlightBytesMax / 2
    if (this.readPaused && below && this.state === 'connected') this.resumeReading()
  }

  /** Write the outcomes at the head of the FIFO that are settled, in frame order. */
  private drainOutcomes(): void {
    // Always through this.outcomes (never a local alias): the compaction below may replace the array.
    while (this.outcomesHead < this.outcomes.length && this.outcomes[this.outcomesHead].done) {
      const o = this.outcomes[this.outcomesHead]
      this.outcomes[this.outcomesHead++] = undefined as unknown as Outcome
      if (this.state === 'ended' || this.state === 'closed') continue
      if (o.kind === 'op' && isBrokerError(o.err, 'SECURITY_NOT_AUTHORIZED')) {
        this.refuse(o.err, o.frame)
        continue
      }
      if (o.kind === 'fail' || o.err !== null) {
        this.fail(o.err, o.frame)
        continue
      }
      const receipt = o.frame?.headers.receipt
      if (receipt !== undefined) this.write(encodeFrame('RECEIPT', [['receipt-id', receipt]], null, this.version))
      if (o.kind === 'disconnect') {
        this.flushNow()
        this.endSocket()
        continue
      }
      o.afterReceipt?.()
    }
    if (this.outcomesHead === this.outcomes.length) {
      this.outcomes.length = 0
      this.outcomesHead = 0
    } else if (this.outcomesHead > 1024 && this.outcomesHead * 2 > this.outcomes.length) {
      this.outcomes = this.outcomes.slice(this.outcomesHead)
      this.outcomesHead = 0
    }
  }

  // ---------------------------------------------------------------- deliveries

  private onDelivery(sub: Subscription, d: Delivery): void {
    if (this.state === 'closed') return
    if (sub.held) {
      sub.held.push(d)
      return
    }
    const headers: Array<[string, string]> = []
    if (!sub.implicitId) headers.push(['subscription', sub.id])
    if (d.browserEnd) {
      // ActiveMQ StompQueueBrowserSubscription: MESSAGE with browser:end, message-id:0 and no body.
      headers.push(['destination', d.headers.destination ?? sub.destination], ['message-id', '0'], ['browser', 'end'])
      this.write(encodeFrame('MESSAGE', headers, null, this.version))
      return
    }
    headers.push(['message-id', d.messageId], ['destination', d.headers.destination ?? sub.destination])
    if (sub.ack !== 'auto') {
      if (this.version === '1.2') headers.push(['ack', d.ackId])
      else sub.unacked.set(d.messageId, d.ackId)
    }
    for (const k in d.headers) if (!MESSAGE_OWN_HEADERS.has(k)) headers.push([k, d.headers[k]])
    if (d.body.length > OUT_SLICE_BYTES)
      for (const part of encodeFrameParts('MESSAGE', headers, d.body, this.version)) this.write(part)
    else this.write(encodeFrame('MESSAGE', headers, d.body, this.version))
    // A consumer that does not read: stop dispatching to it once outBytesMax is queued for its socket.
    if (!this.dispatchPaused && this.session && this.outBytes() > this.outBytesMax) {
      this.dispatchPaused = true
      this.session.setDispatchPaused(true)
    }
  }

  /** Bytes held for this socket: this turn's frames, the output queue and the socket's own buffer. */
  private outBytes(): number {
    return this.outChunksBytes + this.outQueued + (this.socket.writableLength ?? 0)
  }

  // ---------------------------------------------------------------- output

  private write(bytes: Buffer): void {
    if (this.state === 'ended' || this.state === 'closed') return
    this.outChunks.push(bytes)
    this.outChunksBytes += bytes.length
    this.lastWriteAt = this.clock.now()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(() => this.flushNow())
    }
  }

  private flushNow(): void {
    this.flushScheduled = false
    if (this.outChunks.length === 0 || this.state === 'ended' || this.state === 'closed' || this.socket.destroyed) {
      this.outChunks = []
      this.outChunksBytes = 0
      return
    }
    // Small frames of one turn are joined (one syscall); a large body is queued as it is, never copied.
    let small: Buffer[] = []
    const joinSmall = (): void => {
      if (small.length) this.outQueue.push(small.length === 1 ? small[0]! : Buffer.concat(small))
      small = []
    }
    for (const b of this.outChunks) {
      if (b.length > OUT_SLICE_BYTES) {
        joinSmall()
        this.outQueue.push(b)
      } else small.push(b)
    }
    joinSmall()
    this.outQueued += this.outChunksBytes
    this.outChunks = []
    this.outChunksBytes = 0
    this.pumpOut()
  }

  /**
   * Hand the output queue to the socket, at most OUT_SLICE_BYTES per write, until the socket says its buffer is
   * full; 'drain' goes on. Dispatch is paused meanwhile (a socket that does not drain gets no more messages).
   */
  private pumpOut(): void {
    this.pumpScheduled = false
    // At most OUT_TURN_BYTES per event-loop turn: the socket copies what it cannot send at once into its own
    // buffer (fresh pages, ~10 ms/MiB on a loaded VM), so a large body handed over in one turn held the loop.
    let turnBytes = 0
    while (this.outQueue.length > 0 && !this.waitingDrain) {
      if (turnBytes >= OUT_TURN_BYTES) {
        if (!this.pumpScheduled) {
          this.pumpScheduled = true
          setImmediate(() => this.pumpOut())
        }
        break
      }
      if (this.state === 'closed' || this.socket.destroyed) {
        this.outQueue = []
        this.outQueued = 0
        return
      }
      const head = this.outQueue[0]!
      let piece: Buffer
      if (head.length > OUT_SLICE_BYTES) {
        piece = head.subarray(0, OUT_SLICE_BYTES)
        this.outQueue[0] = head.subarray(OUT_SLICE_BYTES)
        // A large body handed over: its buffer is garbage once the socket has sent it (see lib/idle-gc.ts).
        idleGc.noteFreed(OUT_SLICE_BYTES)
      } else {
        piece = head
        this.outQueue.shift()
      }
      this.outQueued -= piece.length
      turnBytes += piece.length
      if (!this.socket.write(piece)) this.waitingDrain = true
    }
    if (this.outQueue.length === 0 && this.endAfterFlush) {
      this.endAfterFlush = false
      this.socket.end()
    }
    if (this.waitingDrain && !this.dispatchPaused && this.session) {
      this.dispatchPaused = true
      this.session.setDispatchPaused(true)
    }
    this.maybeResumeDispatch()
  }

  private onDrain(): void {
    this.waitingDrain = false
    this.pumpOut()
  }

  /**
   * Resume dispatch once the socket took our queue and holds at most half of outBytesMax. Without a pending
   * 'drain' to wait for (the socket accepted every write but still buffers), check again shortly.
   */
  private maybeResumeDispatch(): void {
    if (
      !this.dispatchPaused ||
      this.waitingDrain ||
      !this.session ||
      this.state === 'closed' ||
      this.outQueue.length > 0
    )
      return
    if (this.outBytes() <= this.outBytesMax / 2) {
      this.dispatchPaused = false
      this.session.setDispatchPaused(false)
      return
    }
    if (this.resumeTimer === null) {
      this.resumeTimer = this.clock.setTimeout(() => {
        this.resumeTimer = null
        this.maybeResumeDispatch()
      }, 10)
    }
  }
  private resumeTimer: unknown = null

  // ---------------------------------------------------------------- heart-beats

  private startHeartBeat(plan: HeartBeatPlan): void {
    this.hb = plan
    if (plan.sendEveryMs > 0) this.scheduleWriteBeat()
    if (plan.readTimeoutMs > 0) this.scheduleReadCheck(plan.readTimeoutMs)
  }

  private scheduleWriteBeat(): void {
    const plan = this.hb!
    // Checking every half interval keeps the longest silence near sendEveryMs.
    const tickMs = Math.max(1, plan.sendEveryMs >> 1)
    this.writeTimer = this.clock.setTimeout(() => {
      this.writeTimer = null
      if (this.state !== 'connected') return
      if (this.clock.now() - this.lastWriteAt >= tickMs) {
        this.lastWriteAt = this.clock.now()
        if (this.outChunks.length === 0 && this.outQueue.length === 0 && !this.socket.destroyed) this.socket.write('\n')
      }
      this.scheduleWriteBeat()
    }, tickMs)
  }

  private scheduleReadCheck(delayMs: number): void {
    this.readTimer = this.clock.setTimeout(() => {
      this.readTimer = null
      if (this.state === 'closed') return
      const plan = this.hb!
      const silentMs = this.clock.now() - this.lastReadAt
      if (silentMs >= plan.readTimeoutMs) {
        this.fail(
          new BrokerError(
            'STOMP_PROTOCOL',
            `connection ${this.id} ${this.remoteAddress}: nothing received for ${silentMs} ms, expected a heart-beat every ${plan.expectEveryMs} ms (read timeout ${plan.readTimeoutMs} ms)`,
          ),
          null,
        )
        return
      }
      this.scheduleReadCheck(plan.readTimeoutMs - silentMs)
    }, delayMs)
  }

  // ---------------------------------------------------------------- errors and close

  /** Send ERROR (with receipt-id when the frame asked for one), then close after the flush. */
  private fail(err: unknown, frame: StompFrame | null): void {
    if (this.state === 'ended' || this.state === 'closed') return
    const be = isBrokerError(err) ? err : null
    if (!be) log.error(`connection ${this.id} ${this.remoteAddress}: internal error`, err as Error)
    else log.debug(`connection ${this.id} ${this.remoteAddress}: ${be.code}: ${escapeNonPrintable(be.message)}`)
    // Messages may quote client text: escape what is not printable (issue #19), whoever built the message.
    const message = escapeNonPrintable(be ? be.message : 'internal broker error')
    const headers: Array<[string, string]> = [
      ['message', message.length > 1000 ? message.slice(0, 1000) + '…' : message],
      ['content-type', 'text/plain'],
      ['code', be ? be.code : 'INTERNAL'],
    ]
    const receipt = frame?.headers.receipt
    if (receipt !== undefined) headers.push(['receipt-id', receipt])
    const extra = be?.details?.errorHeaders as Record<string, string> | undefined
    if (extra) for (const [k, v] of Object.entries(extra)) headers.push([k, v])
    this.socket.pause()
    this.write(encodeFrame('ERROR', headers, Buffer.from(message + '\n', 'utf8'), this.version))
    this.flushNow()
    this.endSocket()
  }

  /** Half-close after the pending writes; destroy if the peer does not close within closeLingerMs. */
  private endSocket(): void {
    this.state = 'ended'
    this.stopTimers()
    // Half-close after the queued output (large bodies may still be going out in slices).
    if (this.outQueue.length > 0) this.endAfterFlush = true
    else this.socket.end()
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = null
      this.destroy()
    }, this.closeLingerMs)
    // The session goes now: the client is told we are done, nothing more is dispatched to it.
    this.closeSession()
  }

  private stopTimers(): void {
    for (const t of [this.connectTimer, this.readTimer, this.writeTimer]) if (t !== null) this.clock.clearTimeout(t)
    this.connectTimer = this.readTimer = this.writeTimer = null
  }

  private closeSession(): void {
    const s = this.session
    if (!s) return
    this.session = null
    s.close().catch((err: Error) =>
      log.warn(`connection ${this.id}: closing session ${s.sessionId} failed: ${err.message}`),
    )
  }

  private onSocketClosed(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.stopTimers()
    if (this.lingerTimer !== null) this.clock.clearTimeout(this.lingerTimer)
    this.lingerTimer = null
    this.outChunks = []
    this.outChunksBytes = 0
    this.outQueue = []
    this.outQueued = 0
    if (this.budgetGrant) this.receiveUsage?.cancel(this.budgetGrant)
    this.budgetGrant = null
    if (this.bodyCharge > 0) this.receiveUsage?.release(this.bodyCharge)
    this.bodyCharge = 0
    for (const s of this.subs.values()) s.held = null
    this.subs.clear()
    this.closeSession()
    this.onClose?.(this)
  }
}

function intHeader(frame: StompFrame, name: string, min: number, max: number): number {
  const raw = frame.headers[name]
  const n = /^-?\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BrokerError(
      'STOMP_PROTOCOL',
      `${frame.command} ${name}: ${JSON.stringify(raw)}, expected an integer from ${min} to ${max}`,
    )
  }
  return n
}

function boolHeader(frame: StompFrame, name: string): boolean | undefined {
  const raw = frame.headers[name]
  if (raw === undefined) return undefined
  const v = raw.trim().toLowerCase()
  if (v === 'true') return true
  if (v === 'false') return false
  throw new BrokerError('STOMP_PROTOCOL', `${frame.command} ${name}: ${JSON.stringify(raw)}, expected true or false`)
}
