/**
 * How the previous primary's term ended, as the node that takes over can tell from the holder record it finds in
 * the lock file: released (a clean stop or hand-over), or not released — and then whether it stopped renewing long
 * enough before the lock came free for its stall watchdog to have fired (the kernel timer kills without a word, so
 * this record and the SIGKILL exit status are what an operator has afterwards). An inference from timings, worded so.
 */
import type { HolderRecord } from './shared-dir.ts'
import { stallBeatMs } from './stall-watchdog-worker.ts'

/** One line for the takeover log and takeovers.json; null when there was no previous holder. */
export function previousHolderEnd(prev: HolderRecord | null, lockAcquiredAt: number): string | null {
  if (!prev) return null
  if (prev.released) return 'released the lock (clean stop or hand-over)'
  const silentMs = lockAcquiredAt - prev.renewedAt
  const killMs = prev.stallKillMs ?? 0
  // Renewals and beats both run on the holder's loop, and the watchdog fires killMs after the last beat, which is at
  // most one beat before the stall began: its kill always leaves at least killMs - beat of silence. Other ends may
  // too (nobody was waiting for the lock when it died), hence "consistent with", not "caused by".
  if (killMs > 0 && silentMs >= killMs - stallBeatMs(killMs)) {
    return `did not release the lock; it stopped renewing ${silentMs} ms before, at least its stall watchdog's ${killMs} ms: consistent with a kill (SIGKILL) by its stall watchdog, its event loop unresponsive`
  }
  return `did not release the lock (last renewal ${silentMs} ms before): killed, crashed, or cut off from the share`
}
