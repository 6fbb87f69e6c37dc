/**
 * FrameParser: a streaming STOMP 1.0/1.1/1.2 frame decoder. Bytes in, frames (via callback) or a coded
 * BrokerError out. No I/O, no timers.
 *
 * What it accepts (STOMP 1.2 "Augmented BNF"):
 * - EOLs between frames (heart-beats) are skipped;
 * - lines end in LF or CR LF (CR LF is accepted whatever the version, as ActiveMQ does);
 * - header escapes per version: none in 1.0; `\\ \n \c` in 1.1; plus `\r` in 1.2; an undefined escape is a
 *   fatal error (1.2 "Value Encoding"). CONNECT/STOMP headers are never unescaped;
 * - a repeated header keeps its first value;
 * - command and header lines must be valid UTF-8 (STOMP 1.2 "Value Encoding"): an invalid sequence fails the
 *   frame with STOMP_ENCODING_INVALID rather than becoming U+FFFD, so two byte strings never name one
 *   destination and no name holds characters the client never sent; a BOM is kept, not stripped;
 * - `content-length` is decimal digits only (no sign, space, hex or other character): the body is exactly that
 *   many bytes (NULs allowed) and must be followed by NUL; without it the body runs to the first NUL.
 * - error messages quote client text only as a short escaped excerpt (lib/excerpt.ts), never raw bytes.
 *
 * Memory stays bounded by the limits: an incomplete line is held only up to its limit. A body with content-length
 * is copied into one buffer of that size as it arrives (one copy, spread over the reads); one without is collected
 * as slices and joined at its NUL while small (UNSIZED_JOIN_BYTES_MAX), past that copied into place as it arrives.
 * `bodyGate` lets the caller hold a body back until its bytes are budgeted.
 * After the first error the parser is dead: the connection must answer ERROR and close.
 */
import { BrokerError } from '../../lib/errors.ts'
import { excerpt } from '../../lib/excerpt.ts'
import {
  DEFAULT_FRAME_LIMITS,
  emptyHeaders,
  isUnescapedCommand,
  type FrameLimits,
  type StompFrame,
  type StompVersion,
} from './frame.ts'

const LF = 0x0a
const CR = 0x0d
const NUL = 0x00

type Phase = 'command' | 'headers' | 'body' | 'failed'

/** A body without content-length up to this is kept as the reads' slices and joined at its NUL (one small copy). */
export const UNSIZED_JOIN_BYTES_MAX = 64 * 1024
/** An unsized body past UNSIZED_JOIN_BYTES_MAX is charged to the body gate this much at a time. */
export const UNSIZED_GRANT_BYTES = 1024 * 1024
/** An unsized body longer than this stays a view of its maxFrameSize buffer (untouched pages are not resident). */
const UNSIZED_VIEW_BYTES_MIN = 1024 * 1024

// Fatal: invalid UTF-8 throws (TypeError) instead of becoming U+FFFD. ignoreBOM keeps a U+FEFF the client sent.
// One decode per line; the fatal check costs nothing measurable (scripts/bench-stomp.ts, issue #19).
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeUtf8(bytes: Uint8Array, where: () => string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new BrokerError('STOMP_ENCODING_INVALID', `STOMP ${where()}: ${invalidUtf8At(bytes)}, expected UTF-8 text`)
  }
}

/** Where a line's UTF-8 goes wrong: the byte offset and the bytes there, in hex (never the raw bytes). */
function invalidUtf8At(bytes: Uint8Array): string {
  let at = 0
  for (let lo = 0, hi = bytes.length; lo < hi; ) {
    // The longest valid prefix: binary search on fatal decodes of prefixes (a cut inside a character is invalid).
    const mid = (lo + hi + 1) >> 1
    let ok = true
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid))
    } catch {
      ok = false
    }
    if (ok) lo = at = mid
    else hi = mid - 1
  }
  const hex = Array.from(bytes.subarray(at, at + 4), (b) => b.toString(16).padStart(2, '0')).join(' ')
  return `invalid UTF-8 at byte ${at} (${hex})`
}

/** A command for an error message: itself when it looks like one, else a short escaped excerpt. */
export function commandLabel(command: string): string {
  return /^[A-Za-z]{1,16}$/.test(command) ? command : excerpt(command, 32)
}

/** Undo header escaping (STOMP 1.1/1.2 "Value Encoding"). 1.0 has none. */
export function unescapeHeader(text: string, version: StompVersion, where: string): string {
  if (version === '1.0' || text.indexOf('\\') < 0) return text
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]
    if (ch !== '\\') {
      out += ch
      continue
    }
    const next = text[i + 1]
    i++
    if (next === 'n') out += '\n'
    else if (next === 'c') out += ':'
    else if (next === '\\') out += '\\'
    else if (next === 'r' && version === '1.2') out += '\r'
    else {
      const found = next === undefined ? 'a trailing "\\"' : excerpt('\\' + next)
      throw new BrokerError(
        'STOMP_FRAME_INVALID',
        `STOMP ${where}: undefined escape sequence ${found} in ${excerpt(text)}, expected \\\\, \\n, \\c${version === '1.2' ? ' or \\r' : ''}`,
      )
    }
  }
  return out
}

export class FrameParser {
  private readonly limits: FrameLimits
  private version: StompVersion = '1.0'
  private phase: Phase = 'command'
  private failure: BrokerError | null = null
  // the line being assembled across reads
  private lineParts: Uint8Array[] = []
  private lineBytes = 0
  // the frame being assembled
  private command = ''
  private headers: Record<string, string> = emptyHeaders()
  private headerCount = 0
  private contentLength = -1
  private bodyParts: Uint8Array[] = []
  private bodyBytes = 0
  /** With content-length: the body buffer, allocated at body start and filled read by read (see consumeBody). */
  private body: Buffer | null = null
  /** Whether bodyGate let this frame's body in (asked once per frame). */
  private bodyAdmitted = false
  /** Unsized body bytes the gate was asked for (the first UNSIZED_JOIN_BYTES_MAX are free; see consumeBody). */
  private unsizedGranted = UNSIZED_JOIN_BYTES_MAX
  private stopRequested = false
  /**
   * Asked once per frame when its body starts, with the declared content-length (0 when none): false stops the
   * parser before the body, as onFrame's false does; the caller feeds the rest once it may go on (receive budget).
   * A body without content-length asks again for UNSIZED_GRANT_BYTES more each time it grows past what it was
   * given (beyond the first UNSIZED_JOIN_BYTES_MAX); the bytes asked for add up for the frame.
   */
  bodyGate: ((bytes: number) => boolean) | null = null

  constructor(limits: Partial<FrameLimits> = {}) {
    this.limits = { ...DEFAULT_FRAME_LIMITS, ...limits }
  }

  /** The version used to unescape headers of the frames that follow (set after CONNECT is negotiated). */
  setVersion(version: StompVersion): void {
    this.version = version
  }

  /** True between frames (no partial frame held): used to tell a clean EOF from a truncated frame. */
  idle(): boolean {
    return this.phase === 'command' && this.lineBytes === 0
  }

  /**
   * Feed bytes; calls `onFrame` for each complete frame in order. The callback may call setVersion() and it
   * applies to the next frame of the same chunk. When the callback returns `false` the parser stops right after
   * that frame and returns how many bytes of `chunk` it consumed: the caller feeds the rest later (flow control).
   * Otherwise returns chunk.length. Throws BrokerError (STOMP_FRAME_INVALID / STOMP_FRAME_TOO_LARGE).
   */
  push(chunk: Uint8Array, onFrame: (frame: StompFrame) => boolean | void): number {
    if (this.failure) throw this.failure
    try {
      return this.consume(chunk, onFrame)
    } catch (e) {
      if (e instanceof BrokerError) {
        this.phase = 'failed'
        this.failure = e
      }
      throw e
    }
  }

  private consume(chunk: Uint8Array, onFrame: (frame: StompFrame) => boolean | void): number {
    let pos = 0
    const end = chunk.length
    this.stopRequested = false
    while (pos < end) {
      if (this.phase === 'body') {
        if (!this.bodyAdmitted) {
          this.bodyAdmitted = true
          if (this.bodyGate && !this.bodyGate(Math.max(0, this.contentLength))) return pos
        }
        pos = this.consumeBody(chunk, pos, onFrame)
        if (this.stopRequested) return pos
        continue
      }
      const limit = this.phase === 'command' ? this.limits.commandBytesMax : this.limits.headerLineBytesMax
      const lf = chunk.indexOf(LF, pos)
      if (lf < 0) {
        const rest = chunk.subarray(pos)
        this.lineParts.push(rest)
        this.lineBytes += rest.length
        // +1: the line may still end in CR LF, and the CR does not count against the limit.
        if (this.lineBytes > limit + 1) this.lineTooLong(this.lineBytes)
        return end
      }
      let line: Uint8Array
      if (this.lineParts.length === 0) line = chunk.subarray(pos, lf)
      else {
        this.lineParts.push(chunk.subarray(pos, lf))
        line = Buffer.concat(this.lineParts)
        this.lineParts = []
      }
      this.lineBytes = 0
      pos = lf + 1
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
      if (line.length > limit) this.lineTooLong(line.length)
      if (this.phase === 'command') this.onCommandLine(line)
      else this.onHeaderLine(line)
    }
    return end
  }

  private lineTooLong(bytes: number): never {
    if (this.phase === 'command') {
      throw new BrokerError(
        'STOMP_FRAME_TOO_LARGE',
        `STOMP command line: ${bytes} bytes without an end of line, expected at most ${this.limits.commandBytesMax}`,
      )
    }
    throw new BrokerError(
      'STOMP_FRAME_TOO_LARGE',
      `STOMP ${commandLabel(this.command)} header line ${this.headerCount + 1}: ${bytes} bytes, expected at most ${this.limits.headerLineBytesMax}`,
    )
  }

  private onCommandLine(line: Uint8Array): void {
    if (line.length === 0) return // a heart-beat EOL between frames
    this.command = decodeUtf8(line, () => 'command line')
    this.headers = emptyHeaders()
    this.headerCount = 0
    this.contentLength = -1
    this.phase = 'headers'
  }

  private onHeaderLine(line: Uint8Array): void {
    if (line.length === 0) {
      this.startBody()
      return
    }
    this.headerCount++
    if (this.headerCount > this.limits.headersMax) {
      throw new BrokerError(
        'STOMP_FRAME_TOO_LARGE',
        `STOMP ${commandLabel(this.command)}: more than ${this.limits.headersMax} header lines, expected at most ${this.limits.headersMax}`,
      )
    }
    const text = decodeUtf8(line, () => `${commandLabel(this.command)} header line ${this.headerCount}`)
    // Split on the first raw ':' before unescaping: an escaped colon is `\c`, never a ':' byte.
    const colon = text.indexOf(':')
    if (colon < 0) {
      throw new BrokerError(
        'STOMP_FRAME_INVALID',
        `STOMP ${commandLabel(this.command)} header line ${this.headerCount}: ${excerpt(text)} has no ":", expected name:value`,
      )
    }
    let name = text.slice(0, colon)
    let value = text.slice(colon + 1)
    if (this.version !== '1.0' && !isUnescapedCommand(this.command)) {
      const where = `${commandLabel(this.command)} header line ${this.headerCount}`
      name = unescapeHeader(name, this.version, where)
      value = unescapeHeader(value, this.version, where)
    }
    if (!(name in this.headers)) this.headers[name] = value
  }

  private startBody(): void {
    const declared = this.headers['content-length']
    if (declared !== undefined) {
      // Digits only: no trim, sign, hex, exponent or empty value (ActiveMQ's parseInt(trim()) is laxer; a
      // length is where lenience turns into request smuggling between tolerant and strict peers).
      if (!/^[0-9]+$/.test(declared)) {
        throw new BrokerError(
          'STOMP_FRAME_INVALID',
          `STOMP ${commandLabel(this.command)} content-length: ${excerpt(declared)} is not a byte count, expected decimal digits only`,
        )
      }
      // Leading zeros are harmless; past 15 significant digits the count is over any limit (and past exact doubles).
      const digits = declared.replace(/^0+(?=[0-9])/, '')
      const n = digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits)
      if (n > this.limits.bodyBytesMax) {
        throw new BrokerError(
          'STOMP_FRAME_TOO_LARGE',
          `STOMP ${commandLabel(this.command)} content-length: ${excerpt(declared, 24)} bytes, expected at most ${this.limits.bodyBytesMax} (maxFrameSize)`,
        )
      }
      this.contentLength = n
    } else this.contentLength = -1
    this.bodyParts = []
    this.bodyBytes = 0
    this.phase = 'body'
  }

  private consumeBody(chunk: Uint8Array, pos: number, onFrame: (frame: StompFrame) => boolean | void): number {
    if (this.contentLength >= 0) {
      const need = this.contentLength - this.bodyBytes
      const avail = chunk.length - pos
      if (need > 0) {
        const take = Math.min(need, avail)
        // Copied into place as it arrives: the cost of touching a large fresh buffer (page faults, ~3 ms/MiB on
        // a loaded VM) is spread over the reads instead of one join of the whole body in a single turn.
        if (this.body === null) this.body = Buffer.allocUnsafe(this.contentLength)
        this.body.set(avail === take && pos === 0 ? chunk : chunk.subarray(pos, pos + take), this.bodyBytes)
        this.bodyBytes += take
        return pos + take
      }
      // All body bytes are in: the next byte must be the frame's NUL.
      if (chunk[pos] !== NUL) {
        throw new BrokerError(
          'STOMP_FRAME_INVALID',
          `STOMP ${commandLabel(this.command)}: byte 0x${chunk[pos].toString(16).padStart(2, '0')} after a ${this.contentLength}-byte body (content-length), expected NUL`,
        )
      }
      this.finishFrame(onFrame)
      return pos + 1
    }
    const nul = chunk.indexOf(NUL, pos)
    const stop = nul < 0 ? chunk.length : nul
    if (this.bodyBytes + (stop - pos) > this.limits.bodyBytesMax) {
      throw new BrokerError(
        'STOMP_FRAME_TOO_LARGE',
        `STOMP ${commandLabel(this.command)} body: over ${this.limits.bodyBytesMax} bytes without a NUL, expected at most ${this.limits.bodyBytesMax} (maxFrameSize)`,
      )
    }
    if (stop > pos && this.bodyBytes + (stop - pos) > this.unsizedGranted) {
      // Past UNSIZED_JOIN_BYTES_MAX an unsized body asks the gate for UNSIZED_GRANT_BYTES more at a time, so it is
      // charged to the receive budget as it grows; a refusal stops the parser here until the caller feeds again.
      this.unsizedGranted += UNSIZED_GRANT_BYTES
      if (this.bodyGate && !this.bodyGate(UNSIZED_GRANT_BYTES)) {
        this.stopRequested = true
        return pos
      }
    }
    if (stop > pos) {
      const piece = chunk.subarray(pos, Math.min(stop, pos + Math.max(0, this.unsizedGranted - this.bodyBytes)))
      if (this.body === null && this.bodyBytes + piece.length > UNSIZED_JOIN_BYTES_MAX) {
        // Past this, a body without content-length is copied into place as it arrives, like one with it: into a
        // buffer of maxFrameSize, of which only the pages written become resident. Joining it at its NUL was one
        // copy of the whole body (into fresh pages) in a single event-loop turn.
        this.body = Buffer.allocUnsafe(this.limits.bodyBytesMax)
        let at = 0
        for (const p of this.bodyParts) {
          this.body.set(p, at)
          at += p.length
        }
        this.bodyParts = []
      }
      if (this.body !== null) this.body.set(piece, this.bodyBytes)
      else this.bodyParts.push(piece)
      this.bodyBytes += piece.length
      if (pos + piece.length < stop) return pos + piece.length // the rest needs the next grant
    }
    if (nul < 0) return chunk.length
    this.finishFrame(onFrame)
    return nul + 1
  }

  private finishFrame(onFrame: (frame: StompFrame) => boolean | void): void {
    // Always copy: the frame must not pin (or alias) the socket's read buffer.
    const body =
      this.body !== null
        ? this.contentLength >= 0
          ? this.body
          : // Unsized: a short body is copied out (a few ms), so it does not pin a maxFrameSize reservation.
            this.bodyBytes <= UNSIZED_VIEW_BYTES_MIN
            ? Buffer.from(this.body.subarray(0, this.bodyBytes))
            : this.body.subarray(0, this.bodyBytes)
        : this.bodyParts.length === 0
          ? new Uint8Array(0)
          : Buffer.concat(this.bodyParts, this.bodyBytes)
    const frame: StompFrame = { command: this.command, headers: this.headers, body }
    this.body = null
    this.bodyAdmitted = false
    this.unsizedGranted = UNSIZED_JOIN_BYTES_MAX
    this.bodyParts = []
    this.bodyBytes = 0
    this.headers = emptyHeaders()
    this.command = ''
    this.phase = 'command'
    if (onFrame(frame) === false) this.stopRequested = true
  }
}
