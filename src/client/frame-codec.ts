/**
 * Client-side STOMP frame encoder and streaming parser (STOMP 1.0/1.1/1.2).
 * Owns: bytes <-> `ClientFrame` for what a client sends and receives, header escaping per version, heart-beat EOLs
 * between frames, and a named size limit on incoming frames. It is separate from src/protocol/stomp (the server's
 * codec) so the client depends on nothing broker-side and can talk to any STOMP broker; it is small on purpose.
 * Does not own: what a frame means (stomp-connection.ts) or sockets.
 */
import { BrokerError } from '../lib/errors.ts'

export interface ClientFrame {
  command: string
  /** Decoded headers; a repeated header keeps its first value (STOMP 1.2 "Repeated Header Entries"). */
  headers: Record<string, string>
  body: Uint8Array
}

export type ClientStompVersion = '1.0' | '1.1' | '1.2'

/** Largest incoming frame (headers + body) the parser buffers before failing: ActiveMQ's maxDataLength. */
export const FRAME_BYTES_MAX_DEFAULT = 100 * 1024 * 1024

const LF = 0x0a
const CR = 0x0d
const NUL = 0x00
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** CONNECT, STOMP and CONNECTED headers are never escaped (STOMP 1.2 "Value Encoding"). */
function escapes(command: string, version: ClientStompVersion): boolean {
  return version !== '1.0' && command !== 'CONNECT' && command !== 'STOMP' && command !== 'CONNECTED'
}

function escapeValue(v: string, version: ClientStompVersion): string {
  let s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/:/g, '\\c')
  // `\r` escaping exists only in 1.2; in 1.1 a CR in a value is sent as is.
  if (version === '1.2') s = s.replace(/\r/g, '\\r')
  return s
}

function unescapeValue(v: string, version: ClientStompVersion, where: string): string {
  if (!v.includes('\\')) return v
  let out = ''
  for (let i = 0; i < v.length; i++) {
    const ch = v[i]
    if (ch !== '\\') {
      out += ch
      continue
    }
    const next = v[++i]
    if (next === 'n') out += '\n'
    else if (next === 'c') out += ':'
    else if (next === '\\') out += '\\'
    else if (next === 'r' && version === '1.2') out += '\r'
    else throw new BrokerError('STOMP_FRAME_INVALID', `${where}: invalid escape "\\${next ?? ''}" in header value ${JSON.stringify(v)}; expected \\n, \\c, \\\\${version === '1.2' ? ' or \\r' : ''}`)
  }
  return out
}

/**
 * Encode one frame. A non-empty body always gets `content-length` so bodies containing NUL survive
 * (STOMP 1.2 "Header content-length"); header order is kept, so callers put frame-level headers first.
 */
export function encodeFrame(command: string, headers: Record<string, string>, body: Uint8Array | undefined, version: ClientStompVersion): Uint8Array {
  const esc = escapes(command, version)
  let head = command + '\n'
  let hasLength = false
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue
    if (k === 'content-length') hasLength = true
    head += (esc ? escapeValue(k, version) : k) + ':' + (esc ? escapeValue(String(v), version) : String(v)) + '\n'
  }
  const b = body ?? new Uint8Array(0)
  if (b.length > 0 && !hasLength) head += `content-length:${b.length}\n`
  head += '\n'
  const h = encoder.encode(head)
  const out = new Uint8Array(h.length + b.length + 1)
  out.set(h, 0)
  out.set(b, h.length)
  out[out.length - 1] = NUL
  return out
}

/** The bare EOL a client sends as a heart-beat (STOMP 1.2 "Heart-beating"). */
export const HEARTBEAT_BYTES = new Uint8Array([LF])

/**
 * Streaming parser: `push(chunk)` returns every frame completed by that chunk. Heart-beat EOLs between frames are
 * counted (`heartbeats`) but yield no frame. `version` is set by the connection once CONNECTED is read, since header
 * unescaping depends on it.
 */
export class ClientFrameParser {
  version: ClientStompVersion = '1.0'
  heartbeats = 0
  // Growable buffer (capacity doubles) so a large body arriving in many chunks costs O(n), not O(n^2).
  private store: Uint8Array = new Uint8Array(64 * 1024)
  private start = 0
  private end = 0
  private readonly frameBytesMax: number

  private get buf(): Uint8Array {
    return this.store.subarray(this.start, this.end)
  }

  private append(chunk: Uint8Array): void {
    if (this.start === this.end) this.start = this.end = 0
    if (this.end + chunk.length > this.store.length) {
      const live = this.end - this.start
      let cap = this.store.length
      while (cap < live + chunk.length) cap *= 2
      const next = cap === this.store.length ? this.store : new Uint8Array(cap)
      if (next === this.store) next.copyWithin(0, this.start, this.end)
      else next.set(this.store.subarray(this.start, this.end), 0)
      this.store = next
      this.end = live
      this.start = 0
    }
    this.store.set(chunk, this.end)
    this.end += chunk.length
  }

  constructor(opts: { frameBytesMax?: number } = {}) {
    this.frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT
  }

  push(chunk: Uint8Array): ClientFrame[] {
    this.append(chunk)
    const frames: ClientFrame[] = []
    for (;;) {
      // Skip heart-beats / EOLs between frames.
      let start = 0
      const b = this.buf
      while (start < b.length && (b[start] === LF || b[start] === CR)) {
        if (b[start] === LF) this.heartbeats++
        start++
      }
      this.start += start
      if (this.start === this.end) break
      const res = this.tryParse()
      if (!res) {
        if (this.buf.length > this.frameBytesMax) {
          throw new BrokerError('STOMP_FRAME_TOO_LARGE', `incoming STOMP frame: ${this.buf.length} bytes buffered without a complete frame; expected at most frameBytesMax=${this.frameBytesMax}`)
        }
        break
      }
      frames.push(res.frame)
      this.start += res.consumed
    }
    return frames
  }

  private tryParse(): { frame: ClientFrame; consumed: number } | null {
    const b = this.buf
    // Find the blank line ending the headers.
    let pos = 0
    const lines: string[] = []
    for (;;) {
      const nl = b.indexOf(LF, pos)
      if (nl < 0) return null
      const end = nl > pos && b[nl - 1] === CR ? nl - 1 : nl
      const line = decoder.decode(b.subarray(pos, end))
      pos = nl + 1
      if (line === '') break
      lines.push(line)
    }
    const command = lines.shift()
    if (!command) throw new BrokerError('STOMP_FRAME_INVALID', 'incoming STOMP frame: empty command line; expected a command')
    const headers = Object.create(null) as Record<string, string>
    const esc = escapes(command, this.version)
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon < 0) throw new BrokerError('STOMP_FRAME_INVALID', `incoming ${command} frame: header line ${JSON.stringify(line)} has no ':'; expected name:value`)
      const k = esc ? unescapeValue(line.slice(0, colon), this.version, `incoming ${command} frame`) : line.slice(0, colon)
      const v = esc ? unescapeValue(line.slice(colon + 1), this.version, `incoming ${command} frame`) : line.slice(colon + 1)
      if (!(k in headers)) headers[k] = v
    }
    const cl = headers['content-length']
    if (cl !== undefined) {
      if (!/^\d+$/.test(cl)) throw new BrokerError('STOMP_FRAME_INVALID', `incoming ${command} frame: content-length ${JSON.stringify(cl)}; expected a non-negative integer`)
      const len = Number(cl)
      if (len > this.frameBytesMax) throw new BrokerError('STOMP_FRAME_TOO_LARGE', `incoming ${command} frame: content-length ${len}; expected at most frameBytesMax=${this.frameBytesMax}`)
      if (b.length < pos + len + 1) return null
      if (b[pos + len] !== NUL) throw new BrokerError('STOMP_FRAME_INVALID', `incoming ${command} frame: byte after content-length ${len} body is ${b[pos + len]}; expected NUL`)
      return { frame: { command, headers, body: b.slice(pos, pos + len) }, consumed: pos + len + 1 }
    }
    const nul = b.indexOf(NUL, pos)
    if (nul < 0) return null
    return { frame: { command, headers, body: b.slice(pos, nul) }, consumed: nul + 1 }
  }
}
