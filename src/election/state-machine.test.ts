/**
 * Goal: the election state machine answers every (role, input) pair as designed. Method: a literal table of
 * expected (role, effects) for every role × input kind (plus the variants that depend on policy or on the
 * `then` of stepped-down); the test fails if a pair is missing from the table or answers differently.
 */
import { test, expect } from 'bun:test'
import { step, ROLES, INPUT_KINDS, type Input, type Policy, type Effect } from './state-machine.ts'

const sample: Record<string, Input> = {
  start: { kind: 'start' },
  locked: { kind: 'locked' },
  busy: { kind: 'busy' },
  'lock-error': { kind: 'lock-error', reason: 'ENOLCK' },
  activated: { kind: 'activated' },
  'activation-failed': { kind: 'activation-failed', reason: 'boom' },
  fenced: { kind: 'fenced', reason: 'epoch 3 > 2' },
  lost: { kind: 'lost', reason: 'lock file replaced' },
  'store-failed': { kind: 'store-failed', reason: 'EIO' },
  'share-error': { kind: 'share-error', reason: 'ENOTCONN' },
  yield: { kind: 'yield', reason: 'preferred back' },
  stop: { kind: 'stop' },
  'stepped-down:rejoin': { kind: 'stepped-down', then: 'rejoin' },
  'stepped-down:rejoin-later': { kind: 'stepped-down', then: 'rejoin-later' },
  'stepped-down:stop': { kind: 'stepped-down', then: 'stop' },
  'stepped-down:exit': { kind: 'stepped-down', then: 'exit' },
}

function fmt(effects: Effect[]): string {
  return effects
    .map((e) => {
      if (e.type === 'stepDown') return `stepDown(${e.then})`
      if (e.type === 'setThen') return `setThen(${e.then})`
      if (e.type === 'finish') return `finish(${e.code})`
      return e.type
    })
    .join(',')
}

const defaults: Policy = { failIfLocked: false, restartAllowed: true }

// `${role} ${input}` -> `${newRole} ${effects}` with the default policy. '=' means: ignored (same role, no effects).
const table: Record<string, string> = {
  'starting start': 'starting tryLock',
  'starting locked': 'activating activate',
  'starting busy': 'replica wait',
  'starting lock-error': 'stopped release,finish(1)',
  'starting activated': '=',
  'starting activation-failed': '=',
  'starting fenced': '=',
  'starting lost': '=',
  'starting store-failed': '=',
  'starting share-error': 'replica release,retryShare',
  'starting yield': '=',
  'starting stop': 'stopped release,finish(0)',
  'starting stepped-down': '=',

  'replica start': 'replica tryLock',
  'replica locked': 'activating activate',
  'replica busy': 'replica wait',
  'replica lock-error': 'stopped release,finish(1)',
  'replica activated': '=',
  'replica activation-failed': '=',
  'replica fenced': '=',
  'replica lost': '=',
  'replica store-failed': '=',
  'replica share-error': 'replica release,retryShare',
  'replica yield': '=',
  'replica stop': 'stopped release,finish(0)',
  'replica stepped-down': '=',

  'activating start': '=',
  'activating locked': '=',
  'activating busy': '=',
  'activating lock-error': '=',
  'activating activated': 'primary serve',
  'activating activation-failed': 'stepping-down stepDown(rejoin-later)',
  'activating fenced': 'stepping-down stepDown(rejoin-later)',
  'activating lost': 'stepping-down stepDown(rejoin-later)',
  'activating store-failed': 'stepping-down stepDown(rejoin-later)',
  'activating share-error': '=',
  'activating yield': 'stepping-down stepDown(rejoin-later)',
  'activating stop': 'stepping-down stepDown(stop)',
  'activating stepped-down': '=',

  'primary start': '=',
  'primary locked': '=',
  'primary busy': '=',
  'primary lock-error': '=',
  'primary activated': '=',
  'primary activation-failed': '=',
  'primary fenced': 'stepping-down stepDown(rejoin-later)',
  'primary lost': 'stepping-down stepDown(rejoin-later)',
  'primary store-failed': 'stepping-down stepDown(rejoin-later)',
  'primary share-error': '=',
  'primary yield': 'stepping-down stepDown(rejoin-later)',
  'primary stop': 'stepping-down stepDown(stop)',
  'primary stepped-down': '=',

  'stepping-down start': '=',
  'stepping-down locked': '=',
  'stepping-down busy': '=',
  'stepping-down lock-error': '=',
  'stepping-down activated': '=',
  'stepping-down activation-failed': '=',
  'stepping-down fenced': '=',
  'stepping-down lost': '=',
  'stepping-down store-failed': '=',
  'stepping-down share-error': '=',
  'stepping-down yield': '=',
  'stepping-down stop': 'stepping-down setThen(stop)',
  'stepping-down stepped-down:rejoin': 'starting tryLock',
  'stepping-down stepped-down:rejoin-later': 'starting retryLater',
  'stepping-down stepped-down:stop': 'stopped finish(0)',
  'stepping-down stepped-down:exit': 'stopped finish(75)',
}
for (const input of INPUT_KINDS) table[`stopped ${input}`] = '='

// Variants under other policies.
const variants: { policy: Policy; role: string; input: string; expect: string }[] = [
  {
    policy: { failIfLocked: true, restartAllowed: true },
    role: 'starting',
    input: 'busy',
    expect: 'stopped release,finish(73)',
  },
  // failIfLocked applies to the first attempt only: a replica that lost a race after a step-down keeps waiting.
  { policy: { failIfLocked: true, restartAllowed: true }, role: 'replica', input: 'busy', expect: 'replica wait' },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'primary',
    input: 'lost',
    expect: 'stepping-down stepDown(exit)',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'primary',
    input: 'fenced',
    expect: 'stepping-down stepDown(exit)',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'primary',
    input: 'store-failed',
    expect: 'stepping-down stepDown(exit)',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'replica',
    input: 'share-error',
    expect: 'replica release,retryShare',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'activating',
    input: 'activation-failed',
    expect: 'stepping-down stepDown(exit)',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'activating',
    input: 'lost',
    expect: 'stepping-down stepDown(exit)',
  },
  // A failback hand-over is graceful: even without restartAllowed the node rejoins as a replica.
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'primary',
    input: 'yield',
    expect: 'stepping-down stepDown(rejoin-later)',
  },
  {
    policy: { failIfLocked: false, restartAllowed: false },
    role: 'primary',
    input: 'stop',
    expect: 'stepping-down stepDown(stop)',
  },
]

function run(role: string, inputKey: string, policy: Policy): string {
  const r = step(role as (typeof ROLES)[number], sample[inputKey]!, policy)
  if (r.role === role && r.effects.length === 0) return '='
  return `${r.role} ${fmt(r.effects)}`
}

test('step answers every (role, input) pair as the table says', () => {
  let checked = 0
  for (const role of ROLES) {
    for (const kind of INPUT_KINDS) {
      const keys = kind === 'stepped-down' ? Object.keys(sample).filter((k) => k.startsWith('stepped-down')) : [kind]
      for (const k of keys) {
        const key = `${role} ${k}`
        const expected = table[key] ?? table[`${role} ${kind}`]
        expect(expected, `table misses ${key}`).toBeDefined()
        expect(`${key} -> ${run(role, k, defaults)}`).toBe(`${key} -> ${expected}`)
        checked++
      }
    }
  }
  expect(checked).toBe(ROLES.length * (INPUT_KINDS.length - 1) + ROLES.length * 4)
})

test('step policy variants (failIfLocked, restartAllowed=false)', () => {
  for (const v of variants) {
    expect(`${v.role} ${v.input} -> ${run(v.role, v.input, v.policy)}`).toBe(`${v.role} ${v.input} -> ${v.expect}`)
  }
})

test('step is pure: same inputs give equal results', () => {
  for (const role of ROLES)
    for (const k of Object.keys(sample))
      expect(step(role, sample[k]!, defaults)).toEqual(step(role, sample[k]!, defaults))
})
