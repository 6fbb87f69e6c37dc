/**
 * Goal: DELIVERED acks outside a transaction widen the window through a transaction of the consumer's own, and
 * client acks end up final whatever order they come in. Method: a recording fake session; each test checks the
 * calls the window makes and the keys it reports settled.
 */
import { describe, expect, test } from 'bun:test'
import type { CoreSession } from './core-port.ts'
import { DeliveredWindow, type Pending, WINDOW_TXS_MAX, type WindowBudget } from './delivered-window.ts'

function recorder(): { session: CoreSession; calls: string[] } {
  const calls: string[] = []
  const ok = async () => {}
  const session = {
    sessionId: 's',
    ack: (id: string, tx?: string) => (calls.push(tx ? `ack ${id} in ${tx}` : `ack ${id}`), ok()),
    begin: (tx: string) => void calls.push(`begin ${tx}`),
    commit: (tx: string) => (calls.push(`commit ${tx}`), ok()),
    abort: (tx: string) => (calls.push(`abort ${tx}`), ok()),
  } as unknown as CoreSession
  return { session, calls }
}

function entries(n: number): Array<[string, Pending]> {
  return Array.from({ length: n }, (_, i) => [`m${i}`, { ackId: `a${i}`, state: 'open', txId: null }])
}

describe('DeliveredWindow', () => {
  test('DeliveredWindow acks delivered messages in its transaction and commits once the client acked all', () => {
    const { session, calls } = recorder()
    const w = new DeliveredWindow(session, 'c1', { open: 0 })
    const es = entries(3)
    const work: Promise<void>[] = []
    w.widen(es, work)
    expect(calls).toEqual([
      'begin openwire-window:c1:1',
      'ack a0 in openwire-window:c1:1',
      'ack a1 in openwire-window:c1:1',
      'ack a2 in openwire-window:c1:1',
    ])
    expect(es.map(([, p]) => p.state)).toEqual(['window', 'window', 'window'])
    const settled: string[] = []
    calls.length = 0
    w.acknowledge(['m0'], work, (k) => settled.push(k))
    expect(calls).toEqual([])
    w.acknowledge(['m1', 'm2'], work, (k) => settled.push(k))
    expect(calls).toEqual(['commit openwire-window:c1:1'])
    expect(settled).toEqual(['m0', 'm1', 'm2'])
    expect(w.size).toBe(0)
  })

  test('DeliveredWindow splits once half its members are acked: those acked at once, the rest re-widened', () => {
    const { session, calls } = recorder()
    const budget: WindowBudget = { open: 0 }
    const w = new DeliveredWindow(session, 'c', budget)
    const es = entries(4)
    w.widen(es, [])
    calls.length = 0
    const settled: string[] = []
    w.acknowledge(['m0', 'm2'], [], (k) => settled.push(k))
    expect(calls).toEqual([
      'abort openwire-window:c:1',
      'ack a0',
      'ack a2',
      'begin openwire-window:c:2',
      'ack a1 in openwire-window:c:2',
      'ack a3 in openwire-window:c:2',
    ])
    expect(settled).toEqual(['m0', 'm2'])
    expect(w.size).toBe(2)
    expect(budget.open).toBe(1)
  })

  test('DeliveredWindow release lets members leave unacked for a transaction; close acks the client-acked', () => {
    const { session, calls } = recorder()
    const budget: WindowBudget = { open: 0 }
    const w = new DeliveredWindow(session, 'c', budget)
    const es = entries(5)
    w.widen(es, [])
    w.acknowledge(['m4'], [], () => {})
    calls.length = 0
    w.release(['m0'], [], () => {})
    expect(es[0]![1].state).toBe('open')
    expect(calls[0]).toBe('abort openwire-window:c:1')
    expect(calls).toContain('ack a4')
    expect(calls).not.toContain('ack a0 in openwire-window:c:2')
    calls.length = 0
    w.close([], () => {})
    expect(calls).toEqual(['abort openwire-window:c:2'])
    expect(es.every(([k, p]) => k === 'm4' || p.state === 'open')).toBe(true)
    expect(budget.open).toBe(0)
  })

  test('DeliveredWindow widens nothing past WINDOW_TXS_MAX open window transactions on the connection', () => {
    const { session, calls } = recorder()
    const w = new DeliveredWindow(session, 'c', { open: WINDOW_TXS_MAX })
    const es = entries(2)
    w.widen(es, [])
    expect(calls).toEqual([])
    expect(es.map(([, p]) => p.state)).toEqual(['open', 'open'])
  })
})
