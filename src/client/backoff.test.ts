/**
 * Goal: the reconnect pacing follows ActiveMQ's doReconnect (delay grows by the exponent up to the cap, limits count
 * failed passes, success resets), jitter stays within its band, the failed URI goes to the end; and the client
 * really sleeps those delays on its Clock. Method: pure calls, then a StompClient with a FakeClock against ports
 * that refuse connections, asserting the sleeps it asked the clock for.
 */
import { describe, expect, test } from 'bun:test'
import { freePort } from '../testing/net-probe.ts'
import { until } from '../testing/until.ts'
import { isBrokerError } from '../lib/errors.ts'
import { passOrder, ReconnectBackoff } from './backoff.ts'
import { StompClient } from './client.ts'
import { FAILOVER_DEFAULTS, parseBrokerUri, type FailoverOptions } from './failover-uri.ts'
import { FakeClock } from '../testing/fake-clock.ts'

function opts(o: Partial<FailoverOptions>): FailoverOptions {
  return { ...FAILOVER_DEFAULTS, priorityURIs: [], reconnectDelayJitter: 0, ...o }
}

describe('ReconnectBackoff', () => {
  test('ReconnectBackoff doubles the delay up to maxReconnectDelay', () => {
    const b = new ReconnectBackoff(opts({ initialReconnectDelay: 10, maxReconnectDelay: 100 }))
    const delays: number[] = []
    for (let i = 0; i < 6; i++) {
      const o = b.failedPass()
      if (o.giveUp) throw new Error('unexpected give up')
      delays.push(o.delayMs)
    }
    expect(delays).toEqual([10, 20, 40, 80, 100, 100])
  })

  test('ReconnectBackoff keeps the delay flat without exponential backoff', () => {
    const b = new ReconnectBackoff(opts({ initialReconnectDelay: 50, useExponentialBackOff: false }))
    const d = [0, 1, 2].map(() => {
      const o = b.failedPass()
      return o.giveUp ? -1 : o.delayMs
    })
    expect(d).toEqual([50, 50, 50])
  })

  test('ReconnectBackoff gives up after maxReconnectAttempts failed passes; 0 means one pass', () => {
    const b = new ReconnectBackoff(opts({ maxReconnectAttempts: 3 }))
    b.succeeded()
    expect(b.failedPass().giveUp).toBe(false)
    expect(b.failedPass().giveUp).toBe(false)
    expect(b.failedPass().giveUp).toBe(true)
    const once = new ReconnectBackoff(opts({ maxReconnectAttempts: 0 }))
    once.succeeded()
    expect(once.failedPass().giveUp).toBe(true)
  })

  test('ReconnectBackoff uses startupMaxReconnectAttempts before the first connection only', () => {
    const b = new ReconnectBackoff(opts({ startupMaxReconnectAttempts: 1, maxReconnectAttempts: -1 }))
    expect(b.limit()).toBe(1)
    expect(b.failedPass().giveUp).toBe(true)
    b.succeeded()
    expect(b.limit()).toBe(-1)
    for (let i = 0; i < 50; i++) expect(b.failedPass().giveUp).toBe(false)
  })

  test('ReconnectBackoff resets the delay on success', () => {
    const b = new ReconnectBackoff(opts({ initialReconnectDelay: 10 }))
    b.failedPass()
    b.failedPass()
    b.succeeded()
    const o = b.failedPass()
    expect(o.giveUp ? -1 : o.delayMs).toBe(10)
  })

  test('ReconnectBackoff warns on the first failed pass and every warnAfterReconnectAttempts', () => {
    const b = new ReconnectBackoff(opts({ warnAfterReconnectAttempts: 3 }))
    const warns = [1, 2, 3, 4, 5, 6].map(() => b.failedPass().warn)
    expect(warns).toEqual([true, false, true, false, false, true])
  })

  test('ReconnectBackoff jitter stays within [1 - j, 1] of the delay', () => {
    let x = 0
    const random = () => (x = (x + 0.37) % 1)
    const b = new ReconnectBackoff(
      opts({ initialReconnectDelay: 1000, useExponentialBackOff: false, reconnectDelayJitter: 0.2 }),
      random,
    )
    const seen = new Set<number>()
    for (let i = 0; i < 20; i++) {
      const o = b.failedPass()
      if (o.giveUp) throw new Error('unexpected give up')
      expect(o.delayMs).toBeGreaterThanOrEqual(800)
      expect(o.delayMs).toBeLessThanOrEqual(1000)
      seen.add(o.delayMs)
    }
    expect(seen.size).toBeGreaterThan(1)
  })
})

describe('passOrder', () => {
  const eps = [{ uri: 'a' }, { uri: 'b' }, { uri: 'c' }]
  test('passOrder keeps list order without randomize and moves the failed URI to the end', () => {
    expect(passOrder(eps, { randomize: false }, undefined).map((e) => e.uri)).toEqual(['a', 'b', 'c'])
    expect(passOrder(eps, { randomize: false }, 'a').map((e) => e.uri)).toEqual(['b', 'c', 'a'])
  })
  test('passOrder shuffles with randomize and still puts the failed URI last', () => {
    let x = 0.9
    const random = () => (x = (x * 7.3) % 1)
    for (let i = 0; i < 10; i++) {
      const o = passOrder(eps, { randomize: true }, 'b', random).map((e) => e.uri)
      expect(o[2]).toBe('b')
      expect([...o].sort()).toEqual(['a', 'b', 'c'])
    }
  })
})

/** A port on 127.0.0.1 with nothing listening (bound then released). */
const deadPort = freePort

describe('StompClient reconnect pacing', () => {
  test('StompClient sleeps the backoff delays on its Clock between passes, then gives up', async () => {
    const p1 = await deadPort()
    const p2 = await deadPort()
    const CT = 60000 // connectionTimeout: tells connect timers apart from backoff sleeps
    const uri = parseBrokerUri(
      `failover:(tcp://127.0.0.1:${p1},tcp://127.0.0.1:${p2})?randomize=false&initialReconnectDelay=100&maxReconnectDelay=500&startupMaxReconnectAttempts=5&timeout=-1&reconnectDelayJitter=0&warnAfterReconnectAttempts=0&nested.connectionTimeout=${CT}`,
    )
    const clock = new FakeClock()
    const client = new StompClient(uri, { clock })
    let err: unknown
    const done = client.start().catch((e) => (err = e))
    const sleeps: number[] = []
    for (let i = 0; i < 4; i++) {
      // Wait (real time) for both refused connects of this pass, then for the backoff sleep to be scheduled.
      await until(() => clock.pending().some((ms) => ms !== CT), `sleep ${i + 1}`, 5000, 5)
      const ms = clock.pending().find((m) => m !== CT)!
      sleeps.push(ms)
      clock.advance(ms)
    }
    await done
    expect(sleeps).toEqual([100, 200, 400, 500])
    expect(isBrokerError(err, 'CLIENT_DISCONNECTED')).toBe(true)
    expect(client.state).toBe('failed')
    // 5 passes x 2 endpoints = 10 connect attempts, each with its own connect timer.
    expect(clock.requested.filter((ms) => ms === CT).length).toBe(10)
  })
})
