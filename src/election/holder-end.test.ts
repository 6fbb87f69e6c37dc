/**
 * Goal: the takeover's account of how the previous term ended (holder-end.ts) names the stall watchdog only when the
 * holder had one and stopped renewing for at least its bound less one beat (what its kill always leaves), and never claims more than the record shows.
 * Method: a table of holder records against the moment the lock was taken.
 */
import { test, expect } from 'bun:test'
import { previousHolderEnd } from './holder-end.ts'
import type { HolderRecord } from './shared-dir.ts'

const base = { renewedAt: 10_000, lockKeepAlivePeriod: 1000, released: false } as HolderRecord

test('previousHolderEnd tells released, watchdog-like silence and other unreleased ends apart', () => {
  const cases: [string, HolderRecord | null, number, string | null][] = [
    ['no previous holder', null, 0, null],
    ['released', { ...base, released: true, stallKillMs: 900 }, 20_000, 'released the lock'],
    [
      'silent past the bound',
      { ...base, stallKillMs: 3000 },
      13_100,
      'consistent with a kill (SIGKILL) by its stall watchdog',
    ],
    ['silent one beat (250 ms) short of the bound', { ...base, stallKillMs: 3000 }, 12_750, 'stall watchdog'],
    [
      'silent more than a beat short of the bound',
      { ...base, stallKillMs: 3000 },
      12_700,
      'killed, crashed, or cut off',
    ],
    ['kill -9 right after a renewal', { ...base, stallKillMs: 3000 }, 10_200, 'killed, crashed, or cut off'],
    ['no watchdog', { ...base, stallKillMs: 0 }, 60_000, 'killed, crashed, or cut off'],
    ['record of an older version', { ...base }, 60_000, 'killed, crashed, or cut off'],
    ['short bound (beat 37 ms)', { ...base, stallKillMs: 300 }, 10_263, 'stall watchdog'],
  ]
  for (const [name, rec, at, want] of cases) {
    const got = previousHolderEnd(rec, at)
    if (want === null) expect(got, name).toBeNull()
    else expect(got, name).toContain(want)
  }
})
