/**
 * Test-only raw STOMP client over a real TCP socket: writes exact bytes, reads server frames with FrameParser,
 * and counts bare heart-beat EOLs. Every wait is bounded by a timeout (tests must never hang).
 */
import net from 'node:net'
import { FrameParser } from '../frame-parser.ts'
import type { StompFrame, StompVersion } from '../frame.ts'

export class RawClient {
  readonly frames: StompFrame[] = []
  /** Bytes received between frames that were heart-beat EOLs. */
  heartBeats = 0
  readonly closed: Promise<void>
  isClosed = false
  private readonly socket: net.Socket
  private readonly parser = new FrameParser({ bodyBytesMax: 512 * 1024 * 1024 })
  private waiters: Array<() => void> = []

  private constructor(socket: net.Socket) {
    this.socket = socket
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true
        resolve()
        this.wake()
      })
    })
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      if (this.parser.idle()) {
        // Count EOL bytes seen while no frame is being assembled (heart-beats).
        for (const b of chunk) {
          if (b === 0x0a) this.heartBeats++
          else break
        }
      }
      this.parser.push(chunk, (f) => {
        this.frames.push(f)
      })
      this.wake()
    })
  }

  /** `localAddress` picks the source address (127.0.0.2 etc. are distinct client addresses on loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) }, () => {
        s.off('error', reject)
        resolve(new RawClient(s))
      })
      s.once('error', reject)
    })
  }

  setVersion(v: StompVersion): void {
    this.parser.setVersion(v)
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data)
  }

  /** Pause/resume reading (to make the server's socket buffer fill up). */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  destroy(): void {
    this.socket.destroy()
  }

  private wake(): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Wait until `pred` holds (checked on every received chunk and on close), at most timeoutMs. */
  async waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!pred()) {
      const left = deadline - Date.now()
      if (left <= 0)
        throw new Error(
          `RawClient: timed out after ${timeoutMs} ms waiting for ${what}; frames: ${this.frames.map((f) => f.command).join(',')}`,
        )
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100))
        this.waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  /** The frame at index `i` (waits for it). */
  async frame(i: number, timeoutMs = 5000): Promise<StompFrame> {
    await this.waitFor(() => this.frames.length > i, timeoutMs, `frame #${i}`)
    return this.frames[i]
  }

  /** The first frame with this command, after `from`. */
  async next(command: string, from = 0, timeoutMs = 5000): Promise<StompFrame> {
    let found: StompFrame | undefined
    await this.waitFor(
      () => (found = this.frames.slice(from).find((f) => f.command === command)) !== undefined,
      timeoutMs,
      `a ${command} frame`,
    )
    return found!
  }

  /** The RECEIPT frame for this receipt id (waits for it). */
  async receipt(id: string, timeoutMs = 5000): Promise<StompFrame> {
    let found: StompFrame | undefined
    await this.waitFor(
      () => (found = this.frames.find((f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === id)) !== undefined,
      timeoutMs,
      `RECEIPT ${id}`,
    )
    return found!
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    await this.waitFor(() => this.isClosed, timeoutMs, 'the server to close the connection')
  }
}

/** Build a frame as text (headers in order, no escaping done here). */
export function frame(command: string, headers: Record<string, string> = {}, body = ''): string {
  let s = command + '\n'
  for (const [k, v] of Object.entries(headers)) s += `${k}:${v}\n`
  return s + '\n' + body + '\0'
}
