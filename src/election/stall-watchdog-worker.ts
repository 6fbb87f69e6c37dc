/**
 * WorkerWatchdog: the stall watchdog where the kernel timer (stall-watchdog.ts) cannot be used (Deno, no bun:ffi,
 * not Linux). A worker thread watches a heartbeat the main thread writes into shared memory; while armed (this node
 * is primary), a heartbeat older than `killAfterMs` makes the worker kill the process with SIGKILL, so the kernel
 * releases the lock. It costs a second JS VM (~3.3 MB anonymous memory), started at the first arm, not before.
 *
 * Not promised: anything when worker threads are unavailable (then the in-loop monitor is all there is, and
 * `start()` says so). Pure `node:` APIs: the same code runs under Bun and Deno.
 */
import { Worker } from 'node:worker_threads'
import type { Watchdog } from './ports.ts'

// Plain CommonJS so it runs from `eval` both from source and inside the compiled binary.
const WATCHDOG_SOURCE = `
const { workerData } = require('node:worker_threads')
const fs = require('node:fs')
const state = new BigInt64Array(workerData.sab)
const nap = new Int32Array(new SharedArrayBuffer(4))
for (;;) {
  Atomics.wait(nap, 0, 0, workerData.checkMs)
  if (Atomics.load(state, 1) !== 1n) continue
  const lagMs = Date.now() - Number(Atomics.load(state, 0))
  if (lagMs > workerData.killAfterMs) {
    try {
      fs.writeSync(2, 'stall watchdog: event loop unresponsive for ' + lagMs + ' ms while primary (limit ' + workerData.killAfterMs + ' ms): killing the process so the lock is released\\n')
    } catch (e) {}
    process.kill(process.pid, 'SIGKILL')
  }
}
`

export class WorkerWatchdog implements Watchdog {
  readonly mechanism: string
  private readonly state = new BigInt64Array(new SharedArrayBuffer(16))
  private worker: Worker | null = null
  private beatTimer: ReturnType<typeof setInterval> | null = null
  readonly beatMs: number

  /** `whyNotTimer`: why the kernel timer is not used, for the log line. */
  constructor(
    readonly killAfterMs: number,
    whyNotTimer: string,
  ) {
    this.beatMs = stallBeatMs(killAfterMs)
    this.mechanism = `a worker thread checking a heartbeat every ${this.beatMs} ms (no kernel timer: ${whyNotTimer})`
  }

  /** Start the worker (once). Returns an error message when worker threads cannot be used here. */
  start(): string | null {
    if (this.worker) return null
    try {
      const w = new Worker(WATCHDOG_SOURCE, {
        eval: true,
        workerData: { sab: this.state.buffer, killAfterMs: this.killAfterMs, checkMs: this.beatMs },
      })
      w.unref()
      w.on('error', () => undefined)
      this.worker = w
      return null
    } catch (err) {
      return (err as Error).message
    }
  }

  /** Watch from now on (this node serves). */
  arm(): void {
    this.beat()
    Atomics.store(this.state, 1, 1n)
    if (!this.beatTimer) {
      this.beatTimer = setInterval(() => this.beat(), this.beatMs)
      this.beatTimer.unref?.()
    }
  }

  /** Stop watching (no longer primary). */
  disarm(): void {
    Atomics.store(this.state, 1, 0n)
    if (this.beatTimer) clearInterval(this.beatTimer)
    this.beatTimer = null
  }

  stop(): void {
    this.disarm()
    const w = this.worker
    this.worker = null
    if (w) void w.terminate().catch(() => undefined)
  }

  private beat(): void {
    Atomics.store(this.state, 0, BigInt(Date.now()))
  }
}

/** How often the main loop beats for a watchdog that kills after `killAfterMs`: often enough to be late by 1/8. */
export function stallBeatMs(killAfterMs: number): number {
  return Math.max(10, Math.min(250, Math.floor(killAfterMs / 8)))
}
