/**
 * ConnectionInput: the read side of one StompConnection: bytes from the port into the frame parser, reading paused
 * and resumed (outcome window full, a body waiting for the receive budget, a handler), what was read while paused
 * kept in order for the resume, and the receive-budget charge of the frame being parsed and applied. It applies no
 * frame itself (`hooks.frame`) and owns no connection state: whether input is still accepted is the connection's.
 *
 * Flow control in: a body over RECEIVE_SMALL_BYTES is charged to the connector's receive budget before it is read
 * (over budget: the port is paused, not buffered); the charge moves to the frame's outcome (takeFrameCharge) or is
 * released once the frame is applied.
 */
import type { MemoryUsage } from '../../broker/index.ts'
import { RECEIVE_SMALL_BYTES } from './connection-options.ts'
import type { DuplexPort } from './duplex-port.ts'
import { FrameParser } from './frame-parser.ts'
import type { FrameLimits, StompFrame } from './frame.ts'

export interface InputHooks {
  /** The connection still applies input (awaiting CONNECT or connected). */
  accepting(): boolean
  /** The port is gone. */
  closed(): boolean
  /** Apply one complete frame (its budget charge is held until it returns). */
  frame(frame: StompFrame): void
  /** The bytes are not STOMP (a parser error): apply nothing more. */
  parseFailed(err: unknown): void
}

export class ConnectionInput {
  readonly parser: FrameParser
  /** Reading is paused: the port is paused and what still arrives waits in `pending`. */
  paused = false
  /** Bytes read but not yet parsed because reading is paused. */
  private pending: Buffer | null = null
  /** Receive budget held by the frame being parsed (moves to its outcome when the frame is complete). */
  private bodyCharge = 0
  /** Receive budget bytes of the frame being applied, until an outcome takes them (takeFrameCharge). */
  private frameCharge = 0
  /** Set while waiting for the receive budget (reading is paused until it is granted). */
  private budgetGrant: (() => void) | null = null

  constructor(
    private readonly socket: DuplexPort,
    limits: FrameLimits,
    private readonly usage: MemoryUsage | null,
    private readonly hooks: InputHooks,
  ) {
    this.parser = new FrameParser(limits)
    this.parser.bodyGate = (bytes) => this.admitBody(bytes)
  }

  /** A chunk read from the port while input is accepted. */
  onData(chunk: Buffer): void {
    if (this.paused) {
      // A read already under way when we paused: keep it for resume, in order.
      this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk
      return
    }
    this.feed(chunk)
  }

  /** Stop parsing until resume(). */
  pause(): void {
    this.paused = true
    this.socket.pause()
  }

  /** Parse what waited, then read again, unless a body still waits for the receive budget. */
  resume(): void {
    if (this.budgetGrant) return
    this.paused = false
    const rest = this.pending
    this.pending = null
    if (rest) this.feed(rest)
    if (!this.paused && this.hooks.accepting()) this.socket.resume()
  }

  /** The receive budget held by the frame being applied, handed over to the caller (0 when none). */
  takeFrameCharge(): number {
    const charge = this.frameCharge
    this.frameCharge = 0
    return charge
  }

  /** The port closed: give back the budget held for a body being read, and stop waiting for more. */
  release(): void {
    if (this.budgetGrant) this.usage?.cancel(this.budgetGrant)
    this.budgetGrant = null
    if (this.bodyCharge > 0) this.usage?.release(this.bodyCharge)
    this.bodyCharge = 0
  }

  /** Parse frames until the chunk ends or reading pauses; the unparsed rest waits in `pending`. */
  private feed(chunk: Buffer): void {
    try {
      const used = this.parser.push(chunk, (frame) => {
        const charge = this.bodyCharge
        this.bodyCharge = 0
        this.frameCharge = charge
        this.hooks.frame(frame)
        // Not taken by an outcome (not a SEND, or it failed at once): the frame is done with.
        if (this.frameCharge > 0) this.usage?.release(this.frameCharge)
        this.frameCharge = 0
        return !this.paused && this.hooks.accepting()
      })
      if (used < chunk.length && this.paused && this.hooks.accepting()) this.pending = chunk.subarray(used)
    } catch (err) {
      this.hooks.parseFailed(err)
    }
  }

  /** The parser's body gate: reserve the declared body in the receive budget, or pause until it fits. */
  private admitBody(bytes: number): boolean {
    const usage = this.usage
    // Small bodies are bounded per connection by inFlightBytesMax already; never queue them behind a large one.
    if (!usage || bytes <= RECEIVE_SMALL_BYTES) return true
    const grant = (): void => {
      this.budgetGrant = null
      if (this.hooks.closed()) {
        usage.release(bytes)
        return
      }
      this.bodyCharge += bytes
      if (this.hooks.accepting()) this.resume()
    }
    if (usage.reserve(bytes, grant)) {
      this.bodyCharge += bytes
      return true
    }
    this.budgetGrant = grant
    this.paused = true
    this.socket.pause()
    return false
  }
}
