/**
 * AuthorizationMap as a table: (entries, subject, op, destination) → allowed or ActiveMQ's text. Covers the
 * union of every matching entry (not most-specific-wins), wildcards, the default entry, temporary destinations
 * with and without a temp entry, group "*", and the null subject.
 */
import { expect, test } from 'bun:test'
import { isBrokerError } from '../lib/errors.ts'
import type { AuthorizationConfig, AuthorizationEntryConfig } from '../config/index.ts'
import { AuthorizationMap } from './authorization-map.ts'
import type { Operation, SecuredDestination, Subject } from './types.ts'

const e = (
  kind: 'queue' | 'topic',
  patterns: string[],
  read: string[],
  write: string[] = [],
  admin: string[] = [],
): AuthorizationEntryConfig => ({ kind, patterns, read, write, admin })
const who = (user: string, ...groups: string[]): Subject => ({ user, groups: new Set(groups) })
const q = (name: string): SecuredDestination => ({ kind: 'queue', name })
const t = (name: string): SecuredDestination => ({ kind: 'topic', name })

const config: AuthorizationConfig = {
  entries: [
    e('queue', ['>'], ['admins'], ['admins'], ['admins']),
    e('queue', ['USERS.>'], ['users'], ['users'], ['users']),
    e('queue', ['USERS.*.audit'], ['auditors']),
    e('topic', ['prices', 'news.>'], ['*'], ['publishers']),
  ],
  defaultEntry: null,
  tempDestinationEntry: null,
}

const cases: [string, Subject | null, Operation, SecuredDestination, boolean][] = [
  ['admin reads any queue via ">"', who('a', 'admins'), 'read', q('ORDERS'), true],
  ['user reads USERS.x', who('u', 'users'), 'read', q('USERS.x'), true],
  ['user cannot read ORDERS', who('u', 'users'), 'read', q('ORDERS'), false],
  ['">" needs at least one segment after USERS.', who('u', 'users'), 'read', q('USERS'), false],
  ['union: admins still read USERS.x (">" matches too)', who('a', 'admins'), 'read', q('USERS.x'), true],
  ['"*" is one segment: auditors read USERS.bob.audit', who('x', 'auditors'), 'read', q('USERS.bob.audit'), true],
  ['"*" is one segment only', who('x', 'auditors'), 'read', q('USERS.a.b.audit'), false],
  ['auditors may not write', who('x', 'auditors'), 'write', q('USERS.bob.audit'), false],
  ['group "*" reads a topic', who('anyone'), 'read', t('prices'), true],
  ['comma list: news.> applies', who('p', 'publishers'), 'write', t('news.eu'), true],
  ['queue entries do not apply to topics', who('a', 'admins'), 'read', t('ORDERS'), false],
  ['no entry for a topic: refused', who('p', 'publishers'), 'admin', t('prices'), false],
  ['temp destinations without a temp entry: allowed', who('nobody'), 'admin', { kind: 'temp-queue', name: 'x' }, true],
  ['null subject is refused everything', null, 'read', q('ORDERS'), false],
]

for (const [what, subject, op, dest, allowed] of cases) {
  test(`AuthorizationMap ${what}`, () => {
    const m = new AuthorizationMap(config)
    expect(m.allows(subject, op, dest)).toBe(allowed)
    if (allowed) m.check(subject, op, dest)
    else expect(() => m.check(subject, op, dest)).toThrow()
  })
}

test('AuthorizationMap denial texts are ActiveMQ AuthorizationBroker texts', () => {
  let denials = 0
  const m = new AuthorizationMap(config, () => denials++)
  const msg = (s: Subject | null, op: Operation, d: SecuredDestination): string => {
    try {
      m.check(s, op, d)
    } catch (err) {
      expect(isBrokerError(err, 'SECURITY_NOT_AUTHORIZED')).toBe(true)
      return (err as Error).message
    }
    throw new Error('expected a denial')
  }
  expect(msg(who('u', 'users'), 'read', q('ORDERS'))).toBe('User u is not authorized to read from: queue://ORDERS')
  expect(msg(who('u', 'users'), 'write', t('prices'))).toBe('User u is not authorized to write to: topic://prices')
  expect(msg(who('u', 'users'), 'admin', q('ORDERS'))).toBe('User u is not authorized to create: queue://ORDERS')
  expect(msg(null, 'read', q('ORDERS'))).toBe('User is not authenticated.')
  expect(denials).toBe(4)
})

test('AuthorizationMap adds the default entry to every destination and uses only the temp entry for temporary ones', () => {
  const m = new AuthorizationMap({
    ...config,
    defaultEntry: e('queue', [], ['everyone']),
    tempDestinationEntry: { kind: null, patterns: [], read: ['temps'], write: ['temps'], admin: [] },
  })
  expect(m.allows(who('x', 'everyone'), 'read', q('ANY.thing'))).toBe(true)
  expect(m.allows(who('x', 'everyone'), 'read', t('ANY'))).toBe(true)
  expect(m.allows(who('x', 'temps'), 'read', { kind: 'temp-topic', name: 'ID:1' })).toBe(true)
  expect(m.allows(who('x', 'admins'), 'read', { kind: 'temp-queue', name: 'ID:1' })).toBe(false)
  expect(m.allows(who('x', 'temps'), 'admin', { kind: 'temp-queue', name: 'ID:1' })).toBe(false)
})
