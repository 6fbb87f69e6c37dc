/**
 * Goal: FlowControl's waiting sends. A send that does not fit waits; a session's sends go in their order (a later
 * one never overtakes an earlier one of the same session); when memory is freed, waiting sessions take turns, one
 * send each per round; a closed session's waiting sends fail and the others are looked at again. Method: the class
 * alone with a FakeClock and a 1,000-byte broker-wide limit; assertions on the order sends are let through.
 */
import { describe, expect, test } from 'bun:test'
import { defaultConfig } from '../config/load-config.ts'
import { isBrokerError } from '../lib/errors.ts'
import { FakeClock } from '../testing/fake-clock.ts'
import { FlowControl, type FlowOwner } from './flow-control.ts'

function flow(): FlowControl {
  const config = defaultConfig()
  const limited = { ...config, limits: { ...config.limits, memoryLimit: 1000, destinationMemoryLimit: 1000 } }
  return new FlowControl(limited, new FakeClock(), () => null)
}

const settle = () => new Promise((r) => setTimeout(r, 0))

describe('FlowControl waiting sends', () => {
  test('FlowControl lets waiting sessions through in turns and keeps each session in order', async () => {
    const f = flow()
    const a: FlowOwner = { sessionId: 'a' }
    const b: FlowOwner = { sessionId: 'b' }
    await f.acquire([[f.memory, 1000]], a, '/queue/q')
    const went: string[] = []
    const send = (who: FlowOwner, name: string) =>
      Promise.resolve(f.acquire([[f.memory, 300]], who, '/queue/q')).then(() => void went.push(name))
    const all = [send(a, 'a1'), send(a, 'a2'), send(a, 'a3'), send(b, 'b1')]
    await settle()
    expect(went).toEqual([])
    // Room for two: one send of each waiting session, not a's first two.
    f.releaseNeeds([[f.memory, 600]])
    await settle()
    expect(went).toEqual(['a1', 'b1'])
    // A send of a that arrives now waits behind a2 and a3, even though it would fit after the next release.
    const late = send(a, 'a4')
    f.releaseNeeds([[f.memory, 900]])
    await Promise.all([...all, late])
    expect(went).toEqual(['a1', 'b1', 'a2', 'a3', 'a4'])
    expect(f.memory.used).toBe(1000)
  })

  test('FlowControl fails a closed session’s waiting sends and lets the next session’s go', async () => {
    const f = flow()
    const a: FlowOwner = { sessionId: 'a' }
    const b: FlowOwner = { sessionId: 'b' }
    await f.acquire([[f.memory, 800]], null, '/queue/q')
    const failed: unknown[] = []
    const aSends = [f.acquire([[f.memory, 500]], a, '/queue/q'), f.acquire([[f.memory, 100]], a, '/queue/q')].map((p) =>
      Promise.resolve(p).catch((e) => void failed.push(e)),
    )
    // b fits (950 of 1000) but a's first does not: a holds back only its own later send, and b is charged at once
    // (acquire returns null: nothing to wait for).
    expect(f.acquire([[f.memory, 150]], b, '/queue/q')).toBeNull()
    f.rejectWaiters(a)
    await Promise.all(aSends)
    expect(failed).toHaveLength(2)
    expect(failed.every((e) => isBrokerError(e, 'BROKER_SESSION_CLOSED'))).toBe(true)
    expect(f.memory.used).toBe(950)
  })
})
