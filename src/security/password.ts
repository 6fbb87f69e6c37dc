/**
 * Passwords at rest. A stored password is either a self-describing scrypt hash, `scrypt$N$r$p$<salt b64>$<hash b64>`
 * (node:crypto, so it works in the compiled binary and on Deno), or plain text as ActiveMQ files hold it. Plain
 * ones are compared in constant time (both sides hashed to SHA-256 first, so lengths do not leak either).
 * Jasypt `ENC(...)` values are refused: their key lives in a Java-only setup sfbroker cannot reproduce.
 * Owns the format and its bounds; not where passwords come from (users files, config) nor login policy.
 */
import crypto from 'node:crypto'
import { parseScrypt, type ScryptHash } from '../config/index.ts'

export { storedPasswordProblem, SCRYPT_EXPECTED, type ScryptHash } from '../config/index.ts'

export type StoredPassword = { kind: 'plain'; value: string } | { kind: 'scrypt'; params: ScryptHash }

/** Classify a stored password. Call storedPasswordProblem first; an unusable value here throws a plain Error. */
export function parseStoredPassword(value: string): StoredPassword {
  if (value.startsWith('scrypt$')) {
    const params = parseScrypt(value)
    if (!params)
      throw new Error('parseStoredPassword: malformed scrypt value (checked by storedPasswordProblem before)')
    return { kind: 'scrypt', params }
  }
  return { kind: 'plain', value }
}

/** Defaults of `sfbroker hash-password`: N=2^15 (about 32 MiB, tens of ms), r=8, p=1, 16-byte salt, 32-byte hash. */
export const SCRYPT_DEFAULTS = { N: 32768, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const

function scrypt(password: string, salt: Buffer, keyBytes: number, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(
      password.normalize('NFC'),
      salt,
      keyBytes,
      { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    )
  })
}

/** A new scrypt hash of `password` in the stored format. */
export async function hashPassword(
  password: string,
  opts: { N?: number; r?: number; p?: number } = {},
): Promise<string> {
  const { N, r, p } = { ...SCRYPT_DEFAULTS, ...opts }
  const salt = crypto.randomBytes(SCRYPT_DEFAULTS.saltBytes)
  const key = await scrypt(password, salt, SCRYPT_DEFAULTS.keyBytes, N, r, p)
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`
}

function digest(s: string): Buffer {
  return crypto.createHash('sha256').update(s, 'utf8').digest()
}

/** Whether `given` matches `stored`, in time independent of where they differ. */
export async function verifyPassword(stored: StoredPassword, given: string): Promise<boolean> {
  if (stored.kind === 'plain') return crypto.timingSafeEqual(digest(stored.value), digest(given))
  const { N, r, p, salt, hash } = stored.params
  const key = await scrypt(given, salt, hash.length, N, r, p)
  return crypto.timingSafeEqual(key, hash)
}

/** A stored password no login matches, verified for unknown users so their answer takes as long as a known one's. */
export const DECOY_PASSWORD: StoredPassword = { kind: 'plain', value: crypto.randomBytes(18).toString('base64') }
