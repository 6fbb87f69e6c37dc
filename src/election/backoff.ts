/**
 * The election's waits, as pure functions of counts and a random draw, so tests check them as tables and the
 * simulation replays them from its seed.
 */

/** Back-off while the share is unavailable: first retry, growth cap (so a returning share is used within ~1 s). */
export const SHARE_RETRY_FIRST_MS = 100
export const SHARE_RETRY_MAX_MS = 1000
/** Flap damping: the longest wait after repeated deposals, and the term length after which the count resets. */
export const DEPOSAL_BACKOFF_MAX_MS = 30_000
export const STABLE_TERM_MS = 60_000

/** The wait before the next attempt after `failures` failed ones on an unavailable share: 100 ms doubling to 1 s, ±25 %. */
export function shareRetryMs(failures: number, random: number): number {
  const base = Math.min(SHARE_RETRY_MAX_MS, SHARE_RETRY_FIRST_MS * 2 ** Math.min(10, failures))
  return Math.round(base * (0.75 + random * 0.5))
}

/**
 * Flap damping: the wait before competing for the lock again after `deposals` deposals in a row by another node's
 * epoch. One deposal waits `baseMs` (lockAcquireSleepInterval); each further one doubles it, up to
 * DEPOSAL_BACKOFF_MAX_MS, with ±25 % jitter (`random` in [0, 1)) so two flapping nodes drift apart.
 */
export function deposalBackoffMs(baseMs: number, deposals: number, random: number): number {
  if (deposals <= 1) return baseMs
  const ms = Math.min(DEPOSAL_BACKOFF_MAX_MS, baseMs * 2 ** Math.min(16, deposals - 1))
  return Math.round(ms * (0.75 + random * 0.5))
}

/** `p` settled within `ms` of `clock` time: true, else false (p goes on; its outcome is dropped). */
export async function within(
  p: Promise<unknown>,
  ms: number,
  clock: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(h: unknown): void },
): Promise<boolean> {
  let timer: unknown = null
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      new Promise<false>((r) => (timer = clock.setTimeout(() => r(false), ms))),
    ])
  } finally {
    clock.clearTimeout(timer)
  }
}
