/**
 * The election's contract with the node that runs it. Election knows nothing of what it guards: it calls
 * `activate` once it holds the lock and has claimed an epoch, and `deactivate` when it must stop serving.
 */

export type Role = 'starting' | 'replica' | 'activating' | 'primary' | 'stepping-down' | 'stopped'

export interface TakeoverTimeline {
  /** epoch ms when the lock was acquired, and ms offsets after it */
  lockAcquiredAt: number
  epochClaimedMs: number
  storeRecoveredMs: number | null
  connectorsOpenMs: number | null
  /** ms between the previous holder's last renewal seen and our acquisition, when known */
  previousHolderLastRenewedAgoMs: number | null
  /** How the previous holder's term ended, as far as its record tells (holder-end.ts); absent in older records. */
  previousHolderEnd?: string | null
}

/**
 * The election's proof of office for one epoch (FENCING.md): `assertCurrent()` throws ELECTION_FENCED once a newer
 * epoch exists or this node no longer serves `epoch`. The election owns it; the node hands it to the store, whose
 * own fence contract (storage/types.ts) it satisfies, so neither part imports the other.
 */
export interface EpochFence {
  readonly epoch: number
  assertCurrent(): Promise<void>
}

export interface ActivationContext {
  epoch: number
  fence: EpochFence
  /**
   * The node reports milestones so the timeline (kept for `status`) is complete. With `connectorsOpen` it may
   * pass the addresses actually bound (port 0 resolved); the holder record carries them from the next renewal.
   */
  mark(step: 'storeRecovered' | 'connectorsOpen', bound?: string[]): void
}

export interface ElectionHooks {
  /** Open store, broker and connectors. A throw releases the lock (no zombie primary). */
  activate(ctx: ActivationContext): Promise<void>
  /** Close connectors at once, stop writing, close the store. Must not throw. */
  deactivate(reason: string): Promise<void>
  /** A role transition, for logs, /health and metrics. */
  onRole?(role: Role, reason: string): void
}
