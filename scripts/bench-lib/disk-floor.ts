/**
 * The disk's sync floor: what one synced 1 KiB append costs on the filesystem that holds the brokers' data, the
 * lower bound of a receipt-per-message persistent SEND on one connection (its receipt must wait for a sync). Serial
 * appends with O_DSYNC (one write() system call each, as sfbroker's journal does per group commit), timed one by one.
 * Bounded in count and in time; the file is removed afterwards. Does not promise the brokers' own write pattern
 * (ActiveMQ's KahaDB writes then fsyncs), only the floor both share.
 */
import fs from 'node:fs'
import path from 'node:path'

export interface SyncFloor {
  /** Median / 99th percentile of one synced 1 KiB append, ms. */
  p50Ms: number
  p99Ms: number
  /** Appends completed per second, one after the other. */
  syncsPerSec: number
  samples: number
}

/** `samples` serial O_DSYNC appends of `bytes` to a fresh file in `dir` (stops early after `maxMs`). */
export function measureSyncFloor(dir: string, samples = 2000, maxMs = 5000, bytes = 1024): SyncFloor {
  const file = path.join(dir, `sync-floor-${process.pid}.bin`)
  const c = fs.constants
  const fd = fs.openSync(file, c.O_WRONLY | c.O_CREAT | c.O_TRUNC | c.O_APPEND | c.O_DSYNC, 0o600)
  const buf = Buffer.alloc(bytes, 0x61)
  const times: number[] = []
  try {
    const start = performance.now()
    while (times.length < samples && performance.now() - start < maxMs) {
      const t0 = performance.now()
      fs.writeSync(fd, buf)
      times.push(performance.now() - t0)
    }
    const total = (performance.now() - start) / 1000
    const s = Float64Array.from(times).sort()
    const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!
    return { p50Ms: q(0.5), p99Ms: q(0.99), syncsPerSec: times.length / total, samples: times.length }
  } finally {
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
  }
}

if (import.meta.main) {
  const f = measureSyncFloor(process.argv[2] ?? process.cwd())
  console.log(JSON.stringify(f))
}
