/**
 * The stored-password formats config files may hold, judged without any crypto: a self-describing scrypt hash
 * `scrypt$N$r$p$<salt b64>$<hash b64>` within cost bounds, or plain text (ActiveMQ's); Jasypt `ENC(...)` is refused
 * with what to do instead. src/security verifies; this file only says whether a value is usable. Messages never
 * quote the value.
 */
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

export const SCRYPT_EXPECTED =
  'scrypt$N$r$p$<salt base64>$<hash base64> with N a power of two from 1024 to 1048576 (make one with `sfbroker hash-password`)'

/** Why a stored value cannot be used, or null. `ENC(...)` and malformed `scrypt$` values are refused. */
export function storedPasswordProblem(value: string): { unsupported: boolean; message: string } | null {
  if (/^ENC\(.*\)$/s.test(value.trim())) {
    return {
      unsupported: true,
      message:
        'is a Jasypt ENC(...) value; sfbroker cannot decrypt Jasypt (its key lives in the Java setup), expected a scrypt hash: run `sfbroker hash-password` and store its output instead',
    }
  }
  if (value.startsWith('scrypt$') && parseScrypt(value) === null)
    return { unsupported: false, message: `is not a valid scrypt hash, expected ${SCRYPT_EXPECTED}` }
  return null
}

/** The parts of a `scrypt$N$r$p$salt$hash` value within the bounds above, or null. */
export function parseScrypt(value: string): ScryptHash | null {
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
