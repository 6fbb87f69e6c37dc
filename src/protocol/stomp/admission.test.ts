/**
 * Goal: Admission keeps every fairness limit (total, per address, pre-CONNECT budget, pre-CONNECT per address),
 * sheds the oldest silent socket rather than refusing a newcomer, never sheds a connected one, and sheds within
 * an address before touching others; RefusalLog writes at most one line per interval, with counts.
 * Method: Admission over plain string items, driven step by step; RefusalLog with a hand-driven clock.
 */
import { describe, expect, test } from 'bun:test'
import type { Clock } from '../../lib/clock.ts'
import { Admission, RefusalLog, normalizeAddress, type AdmissionLimits } from './admission.ts'

const limits = (l: Partial<AdmissionLimits>): AdmissionLimits => ({
  maximumConnections: 100,
  maximumConnectionsPerAddress: 100,
  maximumPendingConnects: 100,
  maximumPendingConnectsPerAddress: 100,
  ...l,
})

describe('Admission', () => {
  test('Admission sheds the oldest pending socket when maximumPendingConnects is full', () => {
    const a = new Admission<string>(limits({ maximumPendingConnects: 3 }))
    for (const [i, addr] of ['A', 'B', 'C'].entries()) expect(a.admit(addr, `s${i}`)).toEqual({ ok: true, shed: [] })
    expect(a.admit('D', 's3')).toEqual({ ok: true, shed: ['s0'] })
    expect(a.pendingTotal).toBe(3)
    a.connected('s1')
    expect(a.admit('D', 's4')).toEqual({ ok: true, shed: [] })
    expect(a.admit('D', 's5')).toEqual({ ok: true, shed: ['s2'] })
    expect(a.total).toBe(4)
  })

  test('Admission sheds within the address when maximumPendingConnectsPerAddress is full, never another address', () => {
    const a = new Admission<string>(limits({ maximumPendingConnects: 10, maximumPendingConnectsPerAddress: 2 }))
    a.admit('B', 'b0')
    a.admit('A', 'a0')
    a.admit('A', 'a1')
    expect(a.admit('A', 'a2')).toEqual({ ok: true, shed: ['a0'] })
    expect(a.admit('A', 'a3')).toEqual({ ok: true, shed: ['a1'] })
    expect(a.countFrom('A')).toBe(2)
    expect(a.countFrom('B')).toBe(1)
  })

  test('Admission refuses past maximumConnectionsPerAddress only when the address has no silent socket to shed', () => {
    const a = new Admission<string>(limits({ maximumConnectionsPerAddress: 2 }))
    a.admit('A', 'a0')
    a.admit('A', 'a1')
    expect(a.admit('A', 'a2')).toEqual({ ok: true, shed: ['a0'] })
    a.connected('a1')
    a.connected('a2')
    expect(a.admit('A', 'a3')).toEqual({ ok: false, reason: 'maximumConnectionsPerAddress', shed: [] })
    expect(a.admit('B', 'b0')).toEqual({ ok: true, shed: [] })
    a.release('a1')
    expect(a.admit('A', 'a4').ok).toBe(true)
  })

  test('Admission refuses past maximumConnections only when every socket has completed CONNECT', () => {
    const a = new Admission<string>(limits({ maximumConnections: 2 }))
    a.admit('A', 's0')
    a.admit('B', 's1')
    a.connected('s1')
    expect(a.admit('C', 's2')).toEqual({ ok: true, shed: ['s0'] })
    a.connected('s2')
    expect(a.admit('C', 's3')).toEqual({ ok: false, reason: 'maximumConnections', shed: [] })
    expect(a.total).toBe(2)
  })

  test('Admission release is idempotent and a shed item is already released', () => {
    const a = new Admission<string>(limits({ maximumPendingConnects: 1 }))
    a.admit('A', 's0')
    expect(a.admit('A', 's1').shed).toEqual(['s0'])
    a.release('s0')
    a.release('s0')
    expect(a.total).toBe(1)
    a.release('s1')
    a.release('s1')
    expect([a.total, a.pendingTotal, a.countFrom('A')]).toEqual([0, 0, 0])
  })

  test('Admission under a flood from one address keeps room for other addresses and for connected clients', () => {
    const a = new Admission<string>(
      limits({ maximumConnections: 50, maximumPendingConnects: 20, maximumPendingConnectsPerAddress: 5 }),
    )
    for (let i = 0; i < 1000; i++) expect(a.admit('attacker', `x${i}`).ok).toBe(true)
    expect(a.countFrom('attacker')).toBe(5)
    for (let i = 0; i < 10; i++) {
      expect(a.admit(`client${i}`, `c${i}`)).toEqual({ ok: true, shed: [] })
      a.connected(`c${i}`)
    }
    expect(a.total).toBe(15)
  })

  test('normalizeAddress maps IPv4-mapped IPv6 to IPv4', () => {
    expect(normalizeAddress('::ffff:127.0.0.2')).toBe('127.0.0.2')
    expect(normalizeAddress('::1')).toBe('::1')
    expect(normalizeAddress(undefined)).toBe('?')
  })
})

class HandClock implements Clock {
  t = 0
  private timers: { at: number; fn: () => void; id: number }[] = []
  private ids = 0
  now(): number {
    return this.t
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids
    this.timers.push({ at: this.t + ms, fn, id })
    return id
  }
  clearTimeout(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h)
  }
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      this.timers.sort((x, y) => x.at - y.at)
      const next = this.timers[0]
      if (!next || next.at > end) break
      this.timers.shift()
      this.t = next.at
      next.fn()
    }
    this.t = end
  }
}

describe('RefusalLog', () => {
  test('RefusalLog writes the first refusal at once, then at most one line per interval with counts', () => {
    const clock = new HandClock()
    const lines: string[] = []
    const r = new RefusalLog((l) => lines.push(l), 'connector c', clock, 1000)
    r.note('refused by maximumConnections 5')
    expect(lines.length).toBe(1)
    expect(lines[0]).toContain('1 refused by maximumConnections 5')
    for (let i = 0; i < 10_000; i++) r.note(i % 2 ? 'refused by maximumConnections 5' : 'silent sockets shed')
    expect(lines.length).toBe(1)
    clock.advance(1000)
    expect(lines.length).toBe(2)
    expect(lines[1]).toContain('5000 refused by maximumConnections 5')
    expect(lines[1]).toContain('5000 silent sockets shed')
    // A quiet interval writes nothing and disarms; the next refusal is logged at once again.
    clock.advance(5000)
    expect(lines.length).toBe(2)
    r.note('silent sockets shed')
    expect(lines.length).toBe(3)
    r.note('silent sockets shed')
    r.close()
    expect(lines.length).toBe(4)
    expect(lines[3]).toContain('1 silent sockets shed')
  })
})
