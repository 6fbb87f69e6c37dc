/**
 * Goal: the chaos harness's new verdicts are right on hand-made records, without starting a broker: which step-downs
 * count as spurious (outside every fault window, inside a cpu-starvation window, another broker's inside a kill -9
 * window; an asked-for stop never), which exits count as self exits, and that the short profile always plans the
 * cpu-starvation and share-blink faults.
 * Method: BrokerProc-shaped objects with role and exit lists, fault records with windows; the pure functions of
 * report.ts and run.ts.
 */
import { expect, test } from 'bun:test'
import type { BrokerProc } from './broker-proc.ts'
import { selfExits, spuriousStepDowns, type FaultRecord } from './report.ts'
import { FAULT_KINDS, planFaults } from './run.ts'
import { SeededRandom } from '../../src/lib/random.ts'

type Fake = Pick<BrokerProc, 'name' | 'roles' | 'exits'>

function broker(name: string, downs: { at: number; reason?: string; stopAsked?: boolean }[]): Fake {
  return {
    name,
    roles: downs.map((d) => ({
      at: d.at,
      from: 'primary',
      role: 'stepping-down',
      reason: d.reason ?? 'keep-alive: late',
      stopAsked: d.stopAsked ?? false,
    })),
    exits: [],
  }
}

const fault = (kind: string, at: number, endAt: number, excuse: FaultRecord['excuse'], target = 'b0'): FaultRecord => ({
  kind,
  at,
  endAt,
  excuse,
  target,
  ok: true,
  notes: [],
})

test('spuriousStepDowns counts step-downs outside fault windows and inside cpu-starvation', () => {
  const grace = 3000
  const faults = [
    fault('hang-share', 10_000, 12_000, 'all'),
    fault('cpu-starvation', 30_000, 36_000, 'none'),
    fault('kill-primary', 50_000, 51_000, 'target', 'b0'),
  ]
  const b0 = broker('b0', [
    { at: 11_000 },
    { at: 14_500 },
    { at: 20_000 },
    { at: 33_000 },
    { at: 50_500 },
    { at: 60_000, reason: 'stop requested' },
  ])
  const b1 = broker('b1', [{ at: 50_600 }, { at: 70_000, stopAsked: true }])
  const got = spuriousStepDowns([b0, b1] as BrokerProc[], faults, grace, 100_000)
  // b0 at 11 s (hang-share) and 14.5 s (grace) excused; 20 s no fault; 33 s during cpu-starvation; 50.5 s kill victim excused.
  // b1 at 50.6 s: inside the kill -9 window, but not its victim; 70 s was an asked-for stop.
  expect(got.length).toBe(3)
  expect(got[0]).toContain('(no fault)')
  expect(got[1]).toContain('(during cpu-starvation)')
  expect(got[2]).toStartWith('b1 ')
})

test('selfExits lists only exits the harness did not cause', () => {
  const b = broker('b2', []) as { name: string; exits: BrokerProc['exits'] }
  b.exits.push({ at: 1, code: null, signal: 'SIGKILL', cause: 'harness', why: 'harness sent SIGKILL' })
  b.exits.push({ at: 2, code: 1, signal: null, cause: 'self', why: 'last role line: replica -> stopped: ENOTCONN' })
  const got = selfExits([b] as BrokerProc[])
  expect(got.length).toBe(1)
  expect(got[0]).toContain('code 1')
})

test('planFaults short profile always includes cpu-starvation and share-blink', () => {
  for (let seed = 0; seed < 20; seed++) {
    const plan = planFaults(FAULT_KINDS, 4, 'short', new SeededRandom(seed))
    expect(plan.length).toBe(4)
    expect(plan).toContain('cpu-starvation')
    expect(plan).toContain('share-blink')
  }
  const all = planFaults(FAULT_KINDS, 12, 'short', new SeededRandom(1))
  for (const k of FAULT_KINDS) expect(all).toContain(k)
})
