/**
 * Goal: the load generator's statistics are right: percentiles over known samples, the reservoir keeps memory at
 * samplesMax, and Progress draws a bar on a TTY and plain lines otherwise.
 */
import { describe, expect, test } from 'bun:test'
import { LatencyRecorder } from './latency.ts'
import { Progress } from './progress.ts'

describe('LatencyRecorder', () => {
  test('LatencyRecorder reports exact percentiles of 1..1000', () => {
    const r = new LatencyRecorder()
    for (let i = 1000; i >= 1; i--) r.record(i)
    const s = r.summary()
    expect(s.count).toBe(1000)
    expect(s.p50Ms).toBe(500)
    expect(s.p99Ms).toBe(990)
    expect(s.p999Ms).toBe(999)
    expect(s.minMs).toBe(1)
    expect(s.maxMs).toBe(1000)
    expect(s.meanMs).toBe(500.5)
  })

  test('LatencyRecorder keeps at most samplesMax samples past its limit', () => {
    let x = 0.5
    const r = new LatencyRecorder(100, () => (x = (x * 9.7 + 0.13) % 1))
    for (let i = 0; i < 10000; i++) r.record(i % 10)
    const s = r.summary()
    expect(s.count).toBe(10000)
    expect(s.p50Ms).toBeGreaterThanOrEqual(0)
    expect(s.p50Ms).toBeLessThanOrEqual(9)
    expect(s.maxMs).toBe(9)
  })

  test('LatencyRecorder summary of nothing is zeros', () => {
    expect(new LatencyRecorder().summary().count).toBe(0)
  })
})

describe('Progress', () => {
  test('Progress redraws one line with a bar on a TTY', () => {
    let t = 0
    const out: string[] = []
    const p = new Progress(
      'produce',
      10,
      { isTTY: true, columns: 120, write: (s) => out.push(s) },
      { now: () => t, redrawMs: 100 },
    )
    for (let i = 0; i < 10; i++) {
      t += 60
      p.add()
    }
    p.done()
    expect(out.every((l) => l.startsWith('\r'))).toBe(true)
    expect(out[out.length - 1]).toContain('[########################] produce: 10/10 (100%)')
    expect(out[out.length - 1].endsWith('\n')).toBe(true)
  })

  test('Progress prints plain lines every lineEveryMs when not a TTY', () => {
    let t = 0
    const out: string[] = []
    const p = new Progress('consume', undefined, { write: (s) => out.push(s) }, { now: () => t, lineEveryMs: 1000 })
    for (let i = 0; i < 30; i++) {
      t += 100
      p.add()
    }
    p.done()
    expect(out.length).toBe(4)
    expect(out.every((l) => !l.includes('\r') && l.endsWith('\n'))).toBe(true)
    expect(out[3]).toContain('consume: 30 ')
  })
})
