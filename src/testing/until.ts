/**
 * Test kit: `until` polls a condition against a wall-clock deadline and fails naming what it waited for; `sleep`
 * is the plain timer it polls with. For tests and test tooling only. `until` is for conditions another process or
 * the event loop makes true; a test that can ask for a receipt or an event should wait for that instead.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

type Truthy<T> = Exclude<T, null | undefined | false | 0 | ''>

/**
 * Poll `fn` every intervalMs until it returns a truthy value, and return that value; throw after timeoutMs
 * naming `what`. `what` may be a function, so a failure message can carry the log as it is at that moment.
 */
export async function until<T>(
  fn: () => T | Promise<T>,
  what: string | (() => string),
  timeoutMs: number,
  intervalMs = 100,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await fn()
    if (v) return v as Truthy<T>
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`)
    await sleep(intervalMs)
  }
}

/** Like `until`, but answers whether `fn` came true within timeoutMs instead of throwing. */
export function cameTrue(fn: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  return until(fn, 'condition', timeoutMs, intervalMs).then(
    () => true,
    () => false,
  )
}
