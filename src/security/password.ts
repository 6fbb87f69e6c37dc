/**
 * Passwords at rest. A stored password is either a self-describing scrypt hash, `scrypt$N$r$p$<salt b64>$<hash b64>`
 * (node:crypto, so it works in the compiled binary and on Deno), or plain text as ActiveMQ files hold it. Plain
 * ones are compared in constant time (both sides hashed to SHA-256 first, so lengths do not leak either).
 * Jasypt `ENC(...)` values are refused: their key lives in a Java-only setup sfbroker cannot reproduce.
 * Owns the format and its bounds; not where passwords come from (users files, config) nor login policy.
 */
import crypto from 'node:crypto'

/** Defaults of `sfbroker hash-password`: N=2^15 (about 32 MiB, tens of ms), r=8, p=1, 16-byte salt, 32-byte hash. */
export const SCRYPT_DEFAULTS = { N: 32768, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const
/** Largest cost accepted from a stored hash: a file must not make each login allocate gigabytes. */
export const SCRYPT_N_MAX = 2 ** 20
export const SCRYPT_R_MAX = 32
export const SCRYPT_P_MAX = 16
/** Largest memory one verification may use (128·N·r bytes). */
export const SCRYPT_MEMORY_MAX = 256 * 1024 * 1024

export interface ScryptHash {
  N: number
  r: number
  p: number
  salt: Buffer
  hash: Buffer
}

export type StoredPassword = { kind: 'plain'; value: string } | { kind: 'scrypt'; params: ScryptHash }

export const SCRYPT_EXPECTED = 'scrypt$N$r$p$<salt base64>$<hash base64> with N a power of two from 1024 to 1048576 (make one with `sfbroker hash-password`)'

/** Why a stored value cannot be used, or null. `ENC(...)` and malformed `scrypt$` values are refused. */
export function storedPasswordProblem(value: string): { unsupported: boolean; message: string } | null {
  if (/^ENC\(.*\)$/s.test(value.trim())) {
    return {
      unsupported: true,
      message: 'is a Jasypt ENC(...) value; sfbroker cannot decrypt Jasypt (its key lives in the Java setup), expected a scrypt hash: run `sfbroker hash-password` and store its output instead',
    }
  }
  if (value.startsWith('scrypt$') && parseScrypt(value) === null) return { unsupported: false, message: `is not a valid scrypt hash, expected ${SCRYPT_EXPECTED}` }
  return null
}

/** Classify a stored password. Call storedPasswordProblem first; an unusable value here throws a plain Error. */
export function parseStoredPassword(value: string): StoredPassword {
  if (value.startsWith('scrypt$')) {
    const params = parseScrypt(value)
    if (!params) throw new Error('parseStoredPassword: malformed scrypt value (checked by storedPasswordProblem before)')
    return { kind: 'scrypt', params }
  }
  return { kind: 'plain', value }
}

function parseScrypt(value: string): ScryptHash | null {
  const parts = value.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [N, r, p] = parts.slice(1, 4).map((x) => (/^\d{1,8}$/.test(x!) ? Number(x) : NaN)) as [number, number, number]
  if (!(N >= 1024 && N <= SCRYPT_N_MAX && (N & (N - 1)) === 0)) return null
  if (!(r >= 1 && r <= SCRYPT_R_MAX && p >= 1 && p <= SCRYPT_P_MAX)) return null
  if (128 * N * r > SCRYPT_MEMORY_MAX) return null
  const b64 = /^[A-Za-z0-9+/]+={0,2}$/
  if (!b64.test(parts[4]!) || !b64.test(parts[5]!)) return null
  const salt = Buffer.from(parts[4]!, 'base64')
  const hash = Buffer.from(parts[5]!, 'base64')
  if (salt.length < 8 || hash.length < 16 || hash.length > 64) return null
  return { N, r, p, salt, hash }
}

function scrypt(password: string, salt: Buffer, keyBytes: number, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    crypto.scrypt(password.normalize('NFC'), salt, keyBytes, { N, r, p, maxmem: 128 * N * r * p + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)))
  })
}

/** A new scrypt hash of `password` in the stored format. */
export async function hashPassword(password: string, opts: Partial<Pick<typeof SCRYPT_DEFAULTS, 'N' | 'r' | 'p'>> = {}): Promise<string> {
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
