/**
 * Goal: the kill timer (kill-timer-bun.ts) and the watchdogs over it do what the stall watchdog promises: an armed
 * deadline that passes kills the process with SIGKILL; re-arming keeps it alive; disarm and close remove the deadline;
 * the worker fallback kills the same way; the struct layouts match Linux x86_64/arm64.
 * Method: layouts as tables; the watchdog's calls against a recording KillTimer; everything that can kill runs in a
 * tiny child program written to a temp dir, whose exit code or signal is the verdict. Deadlines are ≥ 300 ms and the
 * children's waits are several times longer, so a loaded machine changes how long the test takes, not its result.
 */
import { test, expect } from 'bun:test'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { tempDir } from '../testing/temp-dir.ts'
import {
  fillItimerspec,
  fillSigevent,
  SIGKILL,
  STRUCT_ITIMERSPEC_BYTES,
  STRUCT_SIGEVENT_BYTES,
  type KillTimer,
} from './kill-timer-types.ts'
import { createKillTimer } from './kill-timer-bun.ts'
import { createStallWatchdog, TimerWatchdog } from './stall-watchdog.ts'

const dir = tempDir('sfb-killtimer-')
const HERE = import.meta.dir

test('fillSigevent lays out SIGEV_SIGNAL with the signal at offset 8, notify at 12, in 64 bytes', () => {
  const buf = new Uint8Array(STRUCT_SIGEVENT_BYTES).fill(0xff)
  fillSigevent(buf, SIGKILL)
  const dv = new DataView(buf.buffer)
  expect(dv.getBigInt64(0, true)).toBe(0n)
  expect(dv.getInt32(8, true)).toBe(9)
  expect(dv.getInt32(12, true)).toBe(0)
  expect(buf.subarray(16).every((b) => b === 0)).toBe(true)
})

test('fillItimerspec: a one-shot it_value at offset 16 (tv_sec, tv_nsec), it_interval zero', () => {
  const cases: [number, bigint, bigint][] = [
    [0, 0n, 0n],
    [1, 0n, 1_000_000n],
    [999, 0n, 999_000_000n],
    [1000, 1n, 0n],
    [30_250, 30n, 250_000_000n],
  ]
  for (const [ms, sec, nsec] of cases) {
    const buf = new Uint8Array(STRUCT_ITIMERSPEC_BYTES).fill(0xff)
    fillItimerspec(buf, ms)
    const dv = new DataView(buf.buffer)
    expect([
      dv.getBigInt64(0, true),
      dv.getBigInt64(8, true),
      dv.getBigInt64(16, true),
      dv.getBigInt64(24, true),
    ]).toEqual([0n, 0n, sec, nsec])
  }
  for (const bad of [-1, 1.5, Number.NaN]) expect(() => fillItimerspec(new Uint8Array(32), bad)).toThrow(RangeError)
})

test('createKillTimer rejects arm(0) and fractional ms, and any use after close (close is idempotent)', () => {
  const t = createKillTimer()
  try {
    expect(() => t.arm(0)).toThrow(RangeError)
    expect(() => t.arm(2.5)).toThrow(RangeError)
    t.arm(600_000) // far ahead, disarmed at once: never fires in this process
    t.disarm()
  } finally {
    t.close()
  }
  t.close()
  expect(() => t.arm(600_000)).toThrow('after close')
  expect(() => t.disarm()).toThrow('after close')
})

/** A KillTimer that records calls; `failArm` makes arm throw as a failed timer_settime would. */
function recordingTimer(failArm = false): KillTimer & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    arm(ms) {
      calls.push(`arm ${ms}`)
      if (failArm) throw new Error('timer_settime failed: EINVAL (errno 22)')
    },
    disarm: () => void calls.push('disarm'),
    close: () => void calls.push('close'),
  }
}

test('TimerWatchdog arms the deadline at arm(), disarms at disarm(), deletes the timer at stop() (once)', () => {
  const t = recordingTimer()
  const w = new TimerWatchdog(t, 900)
  expect(w.start()).toBeNull()
  expect(w.mechanism).toContain('kernel timer')
  w.arm()
  w.disarm()
  w.arm()
  w.stop()
  w.stop()
  w.arm() // after stop: nothing
  expect(t.calls).toEqual(['arm 900', 'disarm', 'arm 900', 'close'])
  expect(w.start()).not.toBeNull()
})

test('TimerWatchdog whose re-arm fails deletes the timer instead of leaving an old deadline armed', () => {
  const t = recordingTimer(true)
  const w = new TimerWatchdog(t, 900)
  w.arm()
  w.disarm()
  expect(t.calls).toEqual(['arm 900', 'close'])
})

/** Run `body` (TypeScript, may import from this directory as `./x.ts`) in a child; resolve its exit code or signal. */
async function runChild(
  name: string,
  body: string,
): Promise<{ code: number | null; signal: string | null; err: string }> {
  const file = path.join(dir, `${name}.ts`)
  fs.writeFileSync(file, body.replaceAll("from './", `from '${HERE}/`))
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, err })))
}

/** A busy loop of `ms` that never yields to the event loop (the stall the watchdog exists for). */
const SPIN = (ms: number) => `{ const t0 = Date.now(); while (Date.now() - t0 < ${ms}) {} }`

test('a kill timer whose deadline passes kills its process with SIGKILL; re-armed it keeps it alive; disarm and close remove the deadline', async () => {
  const [expired, rearmed, disarmed, closed] = await Promise.all([
    runChild(
      'expired',
      `import { createKillTimer } from './kill-timer-bun.ts'
       createKillTimer().arm(300)
       ${SPIN(60_000)}
       process.exit(3)`,
    ),
    // Re-armed every 50 ms against a 1000 ms deadline for 3 s, then disarmed and spun past the deadline.
    runChild(
      'rearmed',
      `import { createKillTimer } from './kill-timer-bun.ts'
       const t = createKillTimer()
       t.arm(1000)
       const iv = setInterval(() => t.arm(1000), 50)
       await new Promise((r) => setTimeout(r, 3000))
       clearInterval(iv)
       t.disarm()
       ${SPIN(1500)}
       t.close()
       process.exit(0)`,
    ),
    runChild(
      'disarmed',
      `import { createKillTimer } from './kill-timer-bun.ts'
       const t = createKillTimer()
       t.arm(300)
       t.disarm()
       ${SPIN(1200)}
       t.close()
       process.exit(0)`,
    ),
    runChild(
      'closed',
      `import { createKillTimer } from './kill-timer-bun.ts'
       const t = createKillTimer()
       t.arm(300)
       t.close()
       ${SPIN(1200)}
       process.exit(0)`,
    ),
  ])
  expect(expired).toMatchObject({ code: null, signal: 'SIGKILL' })
  expect(rearmed).toMatchObject({ code: 0, signal: null })
  expect(disarmed).toMatchObject({ code: 0, signal: null })
  expect(closed).toMatchObject({ code: 0, signal: null })
}, 30_000)

test('createStallWatchdog picks the kernel timer under Bun on Linux; armed, it and the worker fallback kill a stalled process with SIGKILL', async () => {
  const w = await createStallWatchdog(900)
  try {
    expect(w.mechanism).toContain('kernel timer')
  } finally {
    w.stop()
  }
  const [timer, worker] = await Promise.all([
    runChild(
      'timer-watchdog',
      `import { createStallWatchdog } from './stall-watchdog.ts'
       const w = await createStallWatchdog(300)
       if (w.start() !== null || !w.mechanism.includes('kernel timer')) process.exit(2)
       w.arm()
       ${SPIN(60_000)}
       process.exit(3)`,
    ),
    runChild(
      'worker-watchdog',
      `import { WorkerWatchdog } from './stall-watchdog-worker.ts'
       const w = new WorkerWatchdog(300, 'forced by the test')
       if (w.start() !== null) process.exit(2)
       w.arm()
       // Let the worker start (it needs this loop for a moment), then stall for good.
       await new Promise((r) => setTimeout(r, 200))
       ${SPIN(60_000)}
       process.exit(3)`,
    ),
  ])
  expect(timer).toMatchObject({ code: null, signal: 'SIGKILL' })
  expect(worker).toMatchObject({ code: null, signal: 'SIGKILL' })
  expect(worker.err).toContain('stall watchdog: event loop unresponsive')
}, 30_000)
