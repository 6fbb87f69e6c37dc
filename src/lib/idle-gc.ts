/**
 * Idle GC: once large buffers were let go (frames of many MiB received, stored, delivered), run one full garbage
 * collection when no more such frees came for a moment, so their memory goes back to the OS. Without it an idle
 * broker kept 100+ MiB of dead frame buffers resident until some later allocation triggered a collection (issue
 * #19): under Bun, dropped 90 MiB buffers stay in RSS until a full GC, and `Bun.gc(true)` returns them (~30 ms).
 *
 * Bounded: at most one collection per IDLE_GC_SPACING_MS, only after IDLE_GC_FREED_BYTES were noted, and
 * IDLE_GC_QUIET_MS after the last note, so a burst of large frames gets one collection at its end, not one each;
 * past IDLE_GC_BURST_BYTES freed it does not wait for quiet, so dead buffers cannot pile up during a long burst.
 * Runtime-specific: the collector is `Bun.gc` when present; elsewhere (Deno runs the core) this does nothing.
 * It promises nothing about buffers still referenced.
 */

/** Bytes freed (noted) before a collection is worth it. */
export const IDLE_GC_FREED_BYTES = 16 * 1024 * 1024
/** Quiet time after the last noted free before collecting. */
export const IDLE_GC_QUIET_MS = 1_000
/** Freed bytes past which a collection does not wait for quiet (a long burst of large frames; still spaced). */
export const IDLE_GC_BURST_BYTES = 256 * 1024 * 1024
/** Least time between two collections. */
export const IDLE_GC_SPACING_MS = 5_000

type Collect = () => void

function runtimeCollector(): Collect | null {
  const bun = (globalThis as { Bun?: { gc?: (sync: boolean) => void } }).Bun
  return typeof bun?.gc === 'function' ? () => bun.gc!(true) : null
}

export class IdleGc {
  private freed = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private lastAt = Number.NEGATIVE_INFINITY
  /** Collections run (tests, metrics). */
  runs = 0

  constructor(
    private readonly collect: Collect | null = runtimeCollector(),
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Note that `bytes` of large buffers were let go. */
  noteFreed(bytes: number): void {
    if (this.collect === null) return
    this.freed += bytes
    if (this.freed >= IDLE_GC_BURST_BYTES) this.arm(0)
    else if (this.freed >= IDLE_GC_FREED_BYTES) this.arm(IDLE_GC_QUIET_MS)
  }

  private arm(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = setTimeout(() => this.fire(), ms)
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private fire(): void {
    this.timer = null
    const wait = this.lastAt + IDLE_GC_SPACING_MS - this.now()
    if (wait > 0) return this.arm(wait)
    this.freed = 0
    this.lastAt = this.now()
    this.runs++
    this.collect!()
  }

  /** Drop a pending collection (shutdown, tests). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}

/** The process-wide instance the broker's memory counters and connections report to. */
export const idleGc = new IdleGc()
