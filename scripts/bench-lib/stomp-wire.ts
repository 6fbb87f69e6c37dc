/**
 * The bare minimum of STOMP 1.2 a load generator needs, on raw bytes: encoding CONNECT/SEND/SUBSCRIBE frames and a
 * streaming scanner that cuts the broker's output into frames and reports each frame's command and the two headers
 * a benchmark looks at (`receipt-id`, `message`). It does no header unescaping, no validation beyond what it needs
 * to find frame boundaries, and keeps no frame: the point is that the load generator costs the machine as little
 * as possible, so that the brokers, not the client, are what the numbers measure. The same code drives sfbroker and
 * ActiveMQ, so the comparison is fair.
 */

export type FrameCommand = 'CONNECTED' | 'RECEIPT' | 'MESSAGE' | 'ERROR' | string

export interface ScannedFrame {
  command: FrameCommand
  /** `receipt-id` header of a RECEIPT/ERROR, else undefined. */
  receiptId?: string
  /** `message` header of an ERROR. */
  message?: string
  /** Bytes of the whole frame (headers + body). */
  bytes: number
}

/** Largest frame the scanner buffers before it gives up: a broker answering a benchmark never sends more. */
export const SCANNED_FRAME_BYTES_MAX = 64 * 1024 * 1024

const NL = 0x0a
const NUL = 0x00
const CR = 0x0d

/** Pulls frames out of a byte stream that may split them anywhere and may carry heart-beat newlines between them. */
export class FrameScanner {
  private pending: Buffer | null = null

  /** Feeds one chunk; calls onFrame for each complete frame. Throws on a frame over SCANNED_FRAME_BYTES_MAX. */
  push(chunk: Buffer, onFrame: (f: ScannedFrame) => void): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk
    this.pending = null
    let p = 0
    const n = buf.length
    for (;;) {
      while (p < n && (buf[p] === NL || buf[p] === CR)) p++
      if (p >= n) return
      const headEnd = findHeadEnd(buf, p)
      if (headEnd < 0) break
      // Only the command line and the few headers we report are decoded, with latin1 (cheap, and the values we read
      // are ASCII).
      const head = buf.toString('latin1', p, headEnd)
      const lines = head.split('\n')
      const command = lines[0]!.replace(/\r$/, '')
      let contentLength = -1
      let receiptId: string | undefined
      let message: string | undefined
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!
        const colon = line.indexOf(':')
        if (colon < 0) continue
        const key = line.slice(0, colon)
        if (key === 'content-length' && contentLength < 0)
          contentLength = Number(line.slice(colon + 1).replace(/\r$/, ''))
        else if (key === 'receipt-id' && receiptId === undefined) receiptId = line.slice(colon + 1).replace(/\r$/, '')
        else if (key === 'message' && message === undefined) message = line.slice(colon + 1).replace(/\r$/, '')
      }
      // Body starts after the blank line: "\n\n" or "\r\n\r\n".
      const bodyStart = buf[headEnd] === CR ? headEnd + 4 : headEnd + 2
      let end: number
      if (contentLength >= 0) {
        end = bodyStart + contentLength
        if (end >= n) break
        if (buf[end] !== NUL) throw new Error(`${command} frame: no NUL after content-length ${contentLength} body`)
      } else {
        end = buf.indexOf(NUL, bodyStart)
        if (end < 0) break
      }
      const bytes = end + 1 - p
      p = end + 1
      const frame: ScannedFrame = { command, bytes }
      if (receiptId !== undefined) frame.receiptId = receiptId
      if (message !== undefined) frame.message = message
      onFrame(frame)
    }
    if (n - p > SCANNED_FRAME_BYTES_MAX)
      throw new Error(`frame larger than ${SCANNED_FRAME_BYTES_MAX} bytes from the broker`)
    // Keep the unfinished tail; copy it so the (possibly large) chunk it came from can be collected.
    if (p < n) this.pending = Buffer.from(buf.subarray(p))
  }
}

/** Index of the first "\n\n" or "\r\n\r\n" at or after `from` (pointing at its first byte), or -1. */
function findHeadEnd(buf: Buffer, from: number): number {
  let i = from
  for (;;) {
    i = buf.indexOf(NL, i)
    if (i < 0 || i + 1 >= buf.length) return -1
    if (buf[i + 1] === NL) return i
    if (buf[i + 1] === CR && i + 2 < buf.length && buf[i + 2] === NL) return i
    i++
  }
}

/** A frame with only ASCII headers (benchmark frames need no escaping) and an optional body. */
export function encodeFrame(command: string, headers: Record<string, string | number>, body?: Buffer): Buffer {
  let head = command + '\n'
  for (const k in headers) head += `${k}:${headers[k]}\n`
  if (body) head += `content-length:${body.length}\n`
  head += '\n'
  const headBytes = Buffer.byteLength(head, 'latin1')
  const out = Buffer.allocUnsafe(headBytes + (body ? body.length : 0) + 1)
  out.write(head, 0, 'latin1')
  if (body) body.copy(out, headBytes)
  out[out.length - 1] = NUL
  return out
}

/**
 * SEND frames for one producer with a fixed destination/persistence/body: the header prefix and the body are
 * encoded once, only the receipt id changes per frame.
 */
export class SendEncoder {
  private readonly prefix: string
  private readonly suffix: Buffer

  constructor(destination: string, persistent: boolean, body: Buffer) {
    this.prefix = `SEND\ndestination:${destination}\npersistent:${persistent}\ncontent-length:${body.length}\n`
    const suffix = Buffer.allocUnsafe(body.length + 1)
    body.copy(suffix, 0)
    suffix[body.length] = NUL
    this.suffix = suffix
  }

  /** One SEND; with a receipt id when given. */
  frame(receipt?: string): Buffer {
    const head = receipt === undefined ? this.prefix + '\n' : `${this.prefix}receipt:${receipt}\n\n`
    const headBytes = head.length
    const out = Buffer.allocUnsafe(headBytes + this.suffix.length)
    out.write(head, 0, 'latin1')
    this.suffix.copy(out, headBytes)
    return out
  }
}
