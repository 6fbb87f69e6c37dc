/**
 * StompConnection: one client byte stream (a DuplexPort: socket, in-memory pair), from CONNECT to close. The
 * core: per-connection state and the lifecycle; input and its pausing are connection-input.ts, each command is a
 * handler in handlers/, outcome order and the in-flight window are outcome-queue.ts, output and its backpressure
 * outbound-writer.ts, heart-beats heart-beat-timers.ts. Semantics are ActiveMQ's (see shared reference, "STOMP in ActiveMQ Classic").
 *
 * Ordering: frames are applied to the session synchronously in arrival order (so the broker sees them in order),
 * and their outcomes (RECEIPT, or ERROR then close) are written in arrival order too, each after its own
 * operation settled. A SUBSCRIBE with a receipt holds its deliveries until the RECEIPT is written.
 *
 * Errors: any bad frame or failed operation gets an ERROR frame (`message`, `receipt-id` when the frame asked for
 * a receipt, `code` with our BrokerError code) and the connection closes; the broker and other connections go on.
 *
 * Flow control in: at most `inFlightFramesMax` operations, and SEND bodies of at most `inFlightBytesMax` bytes,
 * may await the broker; beyond either the port stops reading (a SEND waiting for memory keeps its body here, so
 * without the byte bound 1000 large frames per connection would be read past a full destination). A body over
 * RECEIVE_SMALL_BYTES is charged to the connector's receive budget before it is read. Either way a fast producer
 * is slowed down by TCP instead of growing our memory.
 */
import type { BrokerCore, BrokerSession, Delivery } from '../../broker/types.ts'
import type { MemoryUsage } from '../../broker/index.ts'
import { systemClock, type Clock } from '../../lib/clock.ts'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { escapeNonPrintable } from '../../lib/excerpt.ts'
import { logger } from '../../lib/log.ts'
import type { Authenticator } from '../../security/index.ts'
import {
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GOODBYE_LINGER_MS,
  DEFAULT_IN_FLIGHT_BYTES_MAX,
  DEFAULT_IN_FLIGHT_FRAMES_MAX,
  DEFAULT_OUT_BYTES_MAX,
  type ConnectionOptions,
  type Goodbye,
} from './connection-options.ts'
import type { DuplexPort } from './duplex-port.ts'
import { failureFrame, goodbyeFrame, refusalFrame } from './error-frames.ts'
import { encodeFrame } from './frame-encoder.ts'
import { DEFAULT_FRAME_LIMITS, type StompFrame, type StompVersion } from './frame.ts'
import { DEFAULT_HEART_BEAT_OPTIONS } from './heart-beat.ts'
import { HeartBeatTimers } from './heart-beat-timers.ts'
import {
  dispatchFirstFrame,
  dispatchFrame,
  writeMessage,
  type HandlerContext,
  type HandlerState,
  type Subscription,
} from './handlers/index.ts'
import { ConnectionInput } from './connection-input.ts'
import { OutboundWriter } from './outbound-writer.ts'
import { OutcomeQueue } from './outcome-queue.ts'

export {
  DEFAULT_CLOSE_LINGER_MS,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GOODBYE_LINGER_MS,
  DEFAULT_IN_FLIGHT_BYTES_MAX,
  DEFAULT_IN_FLIGHT_FRAMES_MAX,
  DEFAULT_OUT_BYTES_MAX,
  REASON_HEADER,
  RECEIVE_SMALL_BYTES,
  type ConnectionOptions,
  type Goodbye,
} from './connection-options.ts'

const log = logger('stomp')

/**
 * awaiting-connect → connected → draining (no more input; earlier outcomes still written: DISCONNECT, or an
 * ERROR waiting its turn) → ended (port.end() called, nothing more written) → closed (port gone).
 */
type State = 'awaiting-connect' | 'connected' | 'draining' | 'ended' | 'closed'

let connectionSeq = 0

export class StompConnection {
  readonly id = `stomp-${++connectionSeq}`
  private readonly broker: BrokerCore
  private readonly socket: DuplexPort
  /** The read side: parser, pause and resume, receive-budget charges (./connection-input.ts). */
  private readonly input: ConnectionInput
  private readonly clock: Clock
  private readonly closeLingerMs: number
  private readonly receiveUsage: MemoryUsage | null
  private readonly onClose?: (conn: StompConnection) => void
  private readonly remoteAddress: string

  private state: State = 'awaiting-connect'
  private version: StompVersion = '1.0'
  private session: BrokerSession | null = null
  /** Subscriptions and the ack mappings of open transactions, shared by the handlers. */
  private readonly handlerState: HandlerState = { subs: new Map(), txReleased: new Map(), implicitSeq: 0 }
  /** The handlers' port onto this connection, made once. */
  private readonly ctx: HandlerContext

  private readonly outcomes: OutcomeQueue
  private readonly out: OutboundWriter
  private readonly beats: HeartBeatTimers

  private connectTimer: unknown = null
  private lingerTimer: unknown = null

  constructor(opts: ConnectionOptions) {
    this.broker = opts.broker
    this.socket = opts.socket
    this.clock = opts.clock ?? systemClock
    this.closeLingerMs = opts.closeLingerMs ?? DEFAULT_CLOSE_LINGER_MS
    this.receiveUsage = opts.receiveUsage ?? null
    this.input = new ConnectionInput(this.socket, { ...DEFAULT_FRAME_LIMITS, ...opts.limits }, this.receiveUsage, {
      accepting: () => this.accepting(),
      closed: () => this.state === 'closed',
      frame: (frame) => this.onFrame(frame),
      parseFailed: (err) => this.failInTurn(err, null),
    })
    this.onClose = opts.onClose
    this.remoteAddress = `${opts.socket.remoteAddress ?? '?'}:${opts.socket.remotePort ?? '?'}`
    this.ctx = this.handlerContext(opts)
    this.outcomes = new OutcomeQueue(
      {
        writesEnded: () => this.state === 'ended' || this.state === 'closed',
        refuse: (err, frame) => this.refuse(err, frame),
        fail: (err, frame) => this.fail(err, frame),
        receipt: (id) => this.out.write(encodeFrame('RECEIPT', [['receipt-id', id]], null, this.version)),
        disconnected: () => {
          this.out.flushNow()
          this.endSocket()
        },
        windowFull: () => {
          if (!this.input.paused) this.input.pause()
        },
        windowBelowHalf: () => {
          if (this.input.paused && this.state === 'connected') this.input.resume()
        },
      },
      opts.inFlightFramesMax ?? DEFAULT_IN_FLIGHT_FRAMES_MAX,
      opts.inFlightBytesMax ?? DEFAULT_IN_FLIGHT_BYTES_MAX,
      this.receiveUsage,
    )
    this.out = new OutboundWriter(this.socket, this.clock, opts.outBytesMax ?? DEFAULT_OUT_BYTES_MAX, {
      writesEnded: () => this.state === 'ended' || this.state === 'closed',
      closed: () => this.state === 'closed',
      session: () => this.session,
    })
    this.beats = new HeartBeatTimers(this.clock, this.socket, this.out, {
      connected: () => this.state === 'connected',
      closed: () => this.state === 'closed',
      readTimedOut: (silentMs, plan) =>
        this.fail(
          new BrokerError(
            'STOMP_PROTOCOL',
            `connection ${this.id} ${this.remoteAddress}: nothing received for ${silentMs} ms, expected a heart-beat every ${plan.expectEveryMs} ms (read timeout ${plan.readTimeoutMs} ms)`,
          ),
          null,
        ),
    })

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
    this.socket.on('drain', () => this.out.onDrain())
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
      log.debug(`connection ${this.id} ${this.remoteAddress}: goodbye (${g.reason}): ${g.message}`)
      this.out.write(goodbyeFrame(g, this.version))
      this.out.flushNow()
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

  /** The port of the handlers (handlers/context.ts), closures over this connection. */
  private handlerContext(opts: ConnectionOptions): HandlerContext {
    const conn = this
    const heartBeat = { ...DEFAULT_HEART_BEAT_OPTIONS, ...opts.heartBeat }
    const authenticator: Authenticator | null = opts.authenticator ?? null
    return {
      id: this.id,
      remoteAddress: this.remoteAddress,
      get peerAddress() {
        return conn.socket.remoteAddress
      },
      serverName: opts.serverName,
      heartBeat,
      authenticator,
      get version() {
        return conn.version
      },
      state: this.handlerState,
      session: () => {
        if (!this.session) throw new BrokerError('STOMP_PROTOCOL', 'no session: CONNECT first')
        return this.session
      },
      awaitingConnect: () => this.state === 'awaiting-connect',
      pauseReading: () => this.input.pause(),
      resumeReading: () => this.input.resume(),
      openSession: (info) => (this.session = this.broker.connect(info)),
      connected: (version) => {
        this.version = version
        this.input.parser.setVersion(version)
        this.state = 'connected'
        if (this.connectTimer !== null) {
          this.clock.clearTimeout(this.connectTimer)
          this.connectTimer = null
        }
      },
      startHeartBeat: (plan) => this.beats.start(plan),
      write: (bytes) => this.out.write(bytes),
      enqueueOutcome: (frame, op, afterReceipt, bytes, receiveBytes) =>
        this.outcomes.enqueue(frame, op, afterReceipt, bytes, receiveBytes),
      takeFrameCharge: () => this.input.takeFrameCharge(),
      fail: (err, frame) => this.fail(err, frame),
      disconnect: (frame) => {
        this.state = 'draining'
        this.socket.pause()
        this.outcomes.pushDone('disconnect', frame, null)
      },
      deliver: (sub, d) => this.deliver(sub, d),
      nowMs: () => this.clock.now(),
    }
  }

  // ---------------------------------------------------------------- input

  private accepting(): boolean {
    return this.state === 'awaiting-connect' || this.state === 'connected'
  }

  private onData(chunk: Buffer): void {
    if (!this.accepting()) return
    this.beats.lastReadAt = this.clock.now()
    this.input.onData(chunk)
  }

  private onFrame(frame: StompFrame): void {
    if (!this.accepting()) return
    try {
      if (this.state === 'awaiting-connect') dispatchFirstFrame(this.ctx, frame)
      else dispatchFrame(this.ctx, frame)
    } catch (err) {
      if (isBrokerError(err, 'SECURITY_NOT_AUTHORIZED')) this.outcomes.pushDone('op', frame, err)
      else this.failInTurn(err, frame)
    }
  }

  /**
   * A bad frame: apply nothing more from this connection, and write the ERROR after the outcomes of earlier
   * frames (their RECEIPTs are true: those operations were applied). A denied operation (above) instead gets its
   * ERROR in frame order and the connection stays up, as in ActiveMQ.
   */
  private failInTurn(err: unknown, frame: StompFrame | null): void {
    this.state = 'draining'
    this.socket.pause()
    this.outcomes.pushDone('fail', frame, err)
  }

  // ---------------------------------------------------------------- deliveries

  private deliver(sub: Subscription, d: Delivery): void {
    if (this.state === 'closed') return
    if (sub.held) {
      sub.held.push(d)
      return
    }
    writeMessage(this.out, sub, d, this.version)
    // A consumer that does not read: stop dispatching to it once outBytesMax is queued for its socket.
    if (!d.browserEnd) this.out.pauseIfBacklogged()
  }

  // ---------------------------------------------------------------- errors and close

  /** ERROR for a denied operation (`receipt-id` when asked), without closing. */
  private refuse(err: BrokerError, frame: StompFrame | null): void {
    log.debug(`connection ${this.id} ${this.remoteAddress}: ${err.code}: ${escapeNonPrintable(err.message)}`)
    this.out.write(refusalFrame(err, frame, this.version))
  }

  /** Send ERROR (with receipt-id when the frame asked for one), then close after the flush. */
  private fail(err: unknown, frame: StompFrame | null): void {
    if (this.state === 'ended' || this.state === 'closed') return
    if (!isBrokerError(err)) log.error(`connection ${this.id} ${this.remoteAddress}: internal error`, err as Error)
    else log.debug(`connection ${this.id} ${this.remoteAddress}: ${err.code}: ${escapeNonPrintable(err.message)}`)
    this.socket.pause()
    this.out.write(failureFrame(err, frame, this.version))
    this.out.flushNow()
    this.endSocket()
  }

  /** Half-close after the pending writes; destroy if the peer does not close within closeLingerMs. */
  private endSocket(): void {
    this.state = 'ended'
    this.stopTimers()
    this.out.endAfterQueue()
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = null
      this.destroy()
    }, this.closeLingerMs)
    // The session goes now: the client is told we are done, nothing more is dispatched to it.
    this.closeSession()
  }

  private stopTimers(): void {
    if (this.connectTimer !== null) this.clock.clearTimeout(this.connectTimer)
    this.connectTimer = null
    this.beats.stop()
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
    this.out.discard()
    this.input.release()
    for (const s of this.handlerState.subs.values()) s.held = null
    this.handlerState.subs.clear()
    this.closeSession()
    this.onClose?.(this)
  }
}
