/**
 * Process and socket helpers shared by the benchmark scripts: free ports on 127.0.0.1, a STOMP CONNECT probe, RSS
 * from /proc (current and peak, children included), bounded waits, and the fatal-error type the scripts print.
 * Linux only (/proc), like the HA setup being measured.
 */
import net from 'node:net'
import fs from 'node:fs'

export class BenchError extends Error {}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A port the kernel just handed out on 127.0.0.1 (free at the time of the call). */
export async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => resolve())
  })
  const p = (s.address() as net.AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return p
}

/** One STOMP CONNECT attempt: true when a CONNECTED frame came back within timeoutMs. */
export function stompConnected(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    let settled = false
    const done = (v: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(t)
      s.destroy()
      resolve(v)
    }
    const t = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0'))
    s.on('data', (d) => {
      buf += d.toString('latin1')
      if (buf.replace(/^[\r\n]+/, '').startsWith('CONNECTED')) done(true)
      else if (buf.includes('\0')) done(false)
    })
    s.once('error', () => done(false))
    s.once('close', () => done(false))
  })
}

/**
 * One CONNECT + persistent SEND with a receipt on a fresh connection: resolves with the ms from the call to
 * CONNECTED and to the RECEIPT, or nulls when the broker did not get that far within timeoutMs (refused, ERROR,
 * silent). A RECEIPT of a persistent SEND means the broker stored it: it is serving, not only accepting.
 */
export function stompReceiptedSend(
  port: number,
  destination: string,
  timeoutMs = 2000,
): Promise<{ connectedMs: number | null; receiptMs: number | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const s = net.connect({ port, host: '127.0.0.1' })
    let buf = ''
    let connectedMs: number | null = null
    let settled = false
    const done = (receiptMs: number | null) => {
      if (settled) return
      settled = true
      clearTimeout(t)
      s.destroy()
      resolve({ connectedMs, receiptMs })
    }
    const t = setTimeout(() => done(null), timeoutMs)
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\0'))
    s.on('data', (d) => {
      buf += d.toString('latin1')
      for (;;) {
        const body = buf.replace(/^[\r\n]+/, '')
        const end = body.indexOf('\0')
        if (end < 0) return
        const frame = body.slice(0, end)
        buf = body.slice(end + 1)
        const command = frame.split('\n', 1)[0]!.replace(/\r$/, '')
        if (command === 'CONNECTED' && connectedMs === null) {
          connectedMs = performance.now() - t0
          s.write(`SEND\ndestination:${destination}\npersistent:true\nreceipt:probe\ncontent-length:5\n\nprobe\0`)
        } else if (command === 'RECEIPT') return done(performance.now() - t0)
        else return done(null)
      }
    })
    s.once('error', () => done(null))
    s.once('close', () => done(null))
  })
}

/**
 * Polls `probe` every `everyMs` until it returns true; returns the elapsed ms, or throws a BenchError naming `what`
 * after timeoutMs (or at once when `alive` says the process being waited for is gone).
 */
export async function waitUntil(
  what: string,
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 2,
  alive: () => boolean = () => true,
): Promise<number> {
  const t0 = performance.now()
  for (;;) {
    if (await probe()) return performance.now() - t0
    if (!alive()) throw new BenchError(`${what}: the process exited`)
    if (performance.now() - t0 > timeoutMs) throw new BenchError(`${what}: not within ${timeoutMs} ms`)
    await sleep(everyMs)
  }
}

/**
 * Resident set and its peak (VmRSS, VmHWM) in bytes of one process, and the anonymous part of the resident set
 * (RssAnon: heap and stacks; the rest is mostly pages of the executable and libraries, shared and reclaimable),
 * or null when it is gone.
 */
export function rssOf(pid: number): { rssBytes: number; peakBytes: number; anonBytes: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024
    return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM'), anonBytes: kb('RssAnon') }
  } catch {
    return null
  }
}

/**
 * Samples a process's RSS every `everyMs` until stopped; `max` is the largest sample. With `withHwm` (default) the
 * kernel's VmHWM counts too, which catches spikes between samples but is the peak of the process's whole life:
 * pass false when an earlier phase's peak must not count.
 */
export class RssSampler {
  private timer: ReturnType<typeof setInterval>
  max = 0

  constructor(
    private readonly pid: number,
    everyMs = 100,
    private readonly withHwm = true,
  ) {
    this.timer = setInterval(() => this.sample(), everyMs)
    this.sample()
  }

  private sample(): void {
    const r = rssOf(this.pid)
    if (r) this.max = Math.max(this.max, r.rssBytes, this.withHwm ? r.peakBytes : 0)
  }

  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.max
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
