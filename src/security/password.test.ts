/**
 * Passwords at rest: scrypt round trips, plain values compared right, ENC(...) and malformed hashes refused with
 * messages that never quote the value, cost bounds.
 */
import { expect, test } from 'bun:test'
import { hashPassword, parseStoredPassword, storedPasswordProblem, verifyPassword } from './password.ts'

test('hashPassword output verifies with the right password only and is salted', async () => {
  const h1 = await hashPassword('correct horse', { N: 1024 })
  const h2 = await hashPassword('correct horse', { N: 1024 })
  expect(h1).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/)
  expect(h1).not.toBe(h2)
  expect(storedPasswordProblem(h1)).toBeNull()
  expect(await verifyPassword(parseStoredPassword(h1), 'correct horse')).toBe(true)
  expect(await verifyPassword(parseStoredPassword(h1), 'correct horse ')).toBe(false)
  expect(await verifyPassword(parseStoredPassword(h1), '')).toBe(false)
})

test('verifyPassword compares plain stored passwords exactly (ActiveMQ compatibility)', async () => {
  const p = parseStoredPassword('s3cret')
  expect(p.kind).toBe('plain')
  expect(await verifyPassword(p, 's3cret')).toBe(true)
  expect(await verifyPassword(p, 's3cre')).toBe(false)
  expect(await verifyPassword(p, 's3cret\u0000')).toBe(false)
})

test('storedPasswordProblem refuses ENC(...) saying what to do, and malformed or too costly scrypt values', () => {
  const enc = storedPasswordProblem('ENC(mYRkg+4Q4hua1kvpCCI2hg==)')
  expect(enc?.unsupported).toBe(true)
  expect(enc?.message).toContain('sfbroker hash-password')
  expect(enc?.message).not.toContain('mYRkg')
  for (const bad of [
    'scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    'scrypt$4194304$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    'scrypt$1024$8$1$%%$AA',
    'scrypt$1024$8',
  ]) {
    const p = storedPasswordProblem(bad)
    expect(p?.unsupported).toBe(false)
    expect(p?.message).toContain('scrypt$N$r$p')
  }
  expect(storedPasswordProblem('plain text is fine')).toBeNull()
})
