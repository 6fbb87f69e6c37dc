/**
 * CpuHogs: N busy-loop child processes that compete with the brokers for the CPU, so that a benchmark row or a
 * chaos fault shows behaviour on a busy box (a noisy neighbour, a CI runner doing other work). Each hog is the
 * current runtime running a tight loop that ends by itself after `maxMs` (a hard bound, so a hog never outlives a
 * crashed caller by long); `stop()` kills them at once, and every live hog is also killed when the caller exits or
 * is interrupted. Shared by scripts/bench-vs-activemq.ts (--cpu-hogs) and the chaos harness (cpu-starvation).
 *
 * Not promised: a given share of CPU for the brokers; the hogs run at the same priority as everything else.
 */
import { spawn, type ChildProcess } from 'node:child_process'

/** Upper bound of one hog's life, whatever the caller asks (4 hours). */
export const CPU_HOG_MS_MAX = 4 * 3_600_000

/** Marker in every hog's command line, followed by the owner's pid. */
export const CPU_HOG_TAG = 'sfbroker-cpu-hog-of'

const live = new Set<ChildProcess>()
let exitHook = false

function hookExit(): void {
  if (exitHook) return
  exitHook = true
  // 'exit' handlers must be synchronous: a plain kill of each hog is.
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL')
  })
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL')
      // Keep the default behaviour of the signal when nobody else handles it.
      if (process.listenerCount(sig) === 0) process.exit(130)
    })
  }
}

export class CpuHogs {
  private readonly procs: ChildProcess[] = []
  readonly startedAt = Date.now()

  /** Start `count` hogs, each ending by itself after `maxMs` at the latest. */
  constructor(
    readonly count: number,
    maxMs = CPU_HOG_MS_MAX,
  ) {
    hookExit()
    const bound = Math.max(100, Math.min(CPU_HOG_MS_MAX, Math.floor(maxMs)))
    // `-e` works for Bun (and Node); the loop checks the clock only every 2^20 turns, so it is pure CPU.
    // The comment names the owner, so a test can check that none of its hogs outlived it (`pgrep -f`).
    const code = `/* ${CPU_HOG_TAG} ${process.pid} */const end=Date.now()+${bound};let x=0;for(;;){for(let i=0;i<1048576;i++)x=(x*33+i)|0;if(Date.now()>end)break}`
    for (let i = 0; i < count; i++) {
      const c = spawn(process.execPath, ['-e', code], { stdio: 'ignore' })
      c.on('error', () => undefined)
      live.add(c)
      c.once('exit', () => live.delete(c))
      this.procs.push(c)
    }
  }

  get pids(): number[] {
    return this.procs.flatMap((c) => (c.pid === undefined ? [] : [c.pid]))
  }

  /** How many hogs still run. */
  running(): number {
    return this.procs.filter((c) => c.exitCode === null && c.signalCode === null).length
  }

  /** Kill every hog and wait (bounded) for them to be gone. */
  async stop(timeoutMs = 5000): Promise<void> {
    const waits = this.procs.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => {
            c.once('exit', () => r())
            c.kill('SIGKILL')
          }),
    )
    let t: ReturnType<typeof setTimeout> | undefined
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (t = setTimeout(r, timeoutMs)))])
    clearTimeout(t)
  }
}
