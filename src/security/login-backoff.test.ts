/**
 * LoginBackoff with a FakeClock: free failures, doubling delays up to the cap, forgetting after forgetAfterMs,
 * and the address table bounded at addressesMax (least recently failed dropped first).
 */
import { expect, test } from 'bun:test'
import { FakeClock } from '../testing/fake-clock.ts'
import { LoginBackoff, addressKey } from './login-backoff.ts'

test('LoginBackoff delays after the free failures, doubling up to maxDelayMs', () => {
  const clock = new FakeClock()
  const b = new LoginBackoff(clock, {
    freeFailures: 2,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    forgetAfterMs: 60_000,
    addressesMax: 10,
  })
  const delays: number[] = []
  for (let i = 0; i < 8; i++) {
    delays.push(b.delayMs('10.0.0.1'))
    b.recordFailure('10.0.0.1')
  }
  expect(delays).toEqual([0, 0, 0, 100, 200, 400, 800, 1000])
  expect(b.delayMs('10.0.0.2')).toBe(0)
})

test('LoginBackoff forgets an address forgetAfterMs after its last failure', () => {
  const clock = new FakeClock()
  const b = new LoginBackoff(clock, {
    freeFailures: 0,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    forgetAfterMs: 5000,
    addressesMax: 10,
  })
  b.recordFailure('a')
  clock.advance(4999)
  expect(b.delayMs('a')).toBe(100)
  clock.advance(1)
  expect(b.delayMs('a')).toBe(0)
  expect(b.size).toBe(0)
})

test('LoginBackoff wait resolves only after the delay on the clock', async () => {
  const clock = new FakeClock()
  const b = new LoginBackoff(clock, {
    freeFailures: 0,
    baseDelayMs: 300,
    maxDelayMs: 1000,
    forgetAfterMs: 60_000,
    addressesMax: 10,
  })
  b.recordFailure('a')
  let done = false
  const p = b.wait('a').then(() => (done = true))
  clock.advance(299)
  await Promise.resolve()
  expect(done).toBe(false)
  clock.advance(1)
  await p
  expect(done).toBe(true)
})

test('LoginBackoff holds at most addressesMax addresses, dropping the least recently failed', () => {
  const clock = new FakeClock()
  const b = new LoginBackoff(clock, {
    freeFailures: 0,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    forgetAfterMs: 60_000,
    addressesMax: 100,
  })
  for (let i = 0; i < 1000; i++) b.recordFailure(`10.0.${i >> 8}.${i & 255}`)
  expect(b.size).toBe(100)
  expect(b.failures('10.0.0.0')).toBe(0)
  expect(b.failures(`10.0.3.231`)).toBe(1)
})

test('addressKey drops ports and the IPv4-mapped prefix, keeps bare IPv6', () => {
  expect(addressKey('127.0.0.1:5555')).toBe('127.0.0.1')
  expect(addressKey('[::1]:5555')).toBe('::1')
  expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3')
  expect(addressKey('fe80::1')).toBe('fe80::1')
  expect(addressKey('10.1.2.3')).toBe('10.1.2.3')
})
