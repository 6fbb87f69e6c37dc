/**
 * Fuzz: CONNECT frames with odd credentials (colons, backslashes, STOMP escape look-alikes, non-ASCII, blanks,
 * empty, long, missing) from a seeded PRNG against the real broker with a simpleAuthenticationPlugin whose users
 * themselves have odd names and passwords. Each CONNECT must end in CONNECTED exactly when login and passcode
 * are a configured pair, else in an ERROR with a code and a closed connection; the password never appears in an
 * ERROR; and the broker keeps serving. A failure prints the seed: SEED=<n> bun test replays it.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { SeededRandom, seedFromEnv } from '../lib/random.ts'
import { Secret } from '../config/secret.ts'
import { startBroker, type Harness } from '../protocol/stomp/testing/broker-harness.ts'
import { RawClient, frame } from '../protocol/stomp/testing/raw-client.ts'
import { Security } from './security.ts'

const USERS: [string, string][] = [
  ['admin', 'adm:in\\pass'],
  ['ü:ser', 'p ss wörd\\c'],
  ['x', ''],
]
const PIECES = [
  'a',
  'admin',
  ':',
  '\\',
  '\\c',
  '\\n',
  ' ',
  'ü',
  '日本',
  '😀',
  'adm:in\\pass',
  'p ss wörd\\c',
  '=',
  ',',
  '\t',
  'A'.repeat(300),
]

let h: Harness
let security: Security
beforeAll(async () => {
  security = new Security(
    {
      authentication: {
        kind: 'simple',
        anonymousAccessAllowed: false,
        anonymousUser: 'anonymous',
        anonymousGroup: 'anonymous',
        users: USERS.map(([username, pw]) => ({ username, password: new Secret(pw), groups: ['g'] })),
      },
      authorization: null,
    },
    { backoff: { freeFailures: 1_000_000 } },
  )
  h = await startBroker({ server: { authenticator: security.authenticator } })
})
afterAll(async () => {
  await h.stop()
})

function oddString(r: SeededRandom): string | undefined {
  if (r.next() < 0.1) return undefined
  let s = ''
  const n = r.int(0, 4)
  for (let i = 0; i < n; i++) s += r.pick(PIECES)
  return s
}

test('CONNECT with odd credentials: CONNECTED exactly for configured pairs, else a coded ERROR; the broker keeps serving', async () => {
  const seed = seedFromEnv()
  const r = new SeededRandom(seed)
  try {
    for (let i = 0; i < 60; i++) {
      let login = oddString(r)
      let passcode = oddString(r)
      if (r.next() < 0.3) [login, passcode] = r.pick(USERS)
      const version = r.pick(['1.0', '1.1', '1.2'])
      const headers: Record<string, string> = { 'accept-version': version, host: 'x' }
      if (login !== undefined) headers.login = login
      if (passcode !== undefined) headers.passcode = passcode
      const c = await RawClient.connect(h.port)
      try {
        c.write(frame('CONNECT', headers))
        const f = await c.frame(0, 10_000)
        const ok = USERS.some(([u, p]) => u === login && p === passcode)
        expect(`${i}:${f.command}`).toBe(`${i}:${ok ? 'CONNECTED' : 'ERROR'}`)
        if (!ok) {
          expect(f.headers.code).toBe('SECURITY_AUTHENTICATION_FAILED')
          if (passcode !== undefined && passcode.length > 3 && !(login ?? '').includes(passcode)) {
            expect(f.headers.message!.includes(passcode)).toBe(false)
            expect(new TextDecoder().decode(f.body).includes(passcode)).toBe(false)
          }
          await c.waitClosed()
        }
      } finally {
        c.destroy()
      }
    }
  } catch (e) {
    console.error(`connect fuzz failed with SEED=${seed}`)
    throw e
  }
  const good = await RawClient.connect(h.port)
  good.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x', login: 'admin', passcode: 'adm:in\\pass' }))
  expect((await good.frame(0)).command).toBe('CONNECTED')
  good.destroy()
  expect(security.stats().authSuccesses + security.stats().authFailures).toBeGreaterThanOrEqual(61)
})
