/**
 * The election's ports: everything the Elector does to the world goes through these, so the same logic runs over
 * the real shared directory (fs-share-port.ts) and over the seeded simulation (sim/). Time comes only from the
 * injected `Clock` (src/lib/clock.ts). Nothing here promises more than the real filesystem does: every call may be
 * slow, hang or fail, and the Elector must live with each of those.
 */
import type { HolderRecord, ReplicaRecord, TakeoverRecord } from './shared-dir.ts'

/** One open lock file. The lock belongs to this handle (its open file description), not to the path. */
export interface LockHandle {
  readonly ino: number
  readonly dev: number
  /** Non-blocking exclusive attempt: true when held now, false when another holder has it; throws on failure. */
  tryLock(): boolean
  /** Wait for the lock (off the main thread); `done` rejects with `wouldBlock` set when the wait was refused. */
  waitLock(): { done: Promise<void>; cancel(): void }
  /** Release and close without blocking the caller (the close may hang on a dead mount: it happens elsewhere). */
  close(): void
}

/** What one keep-alive look at the shared directory found. */
export interface ShareFacts {
  /** errno code when the lock path could not be stat'ed (ENOENT: deleted). */
  missing?: string
  pathIno: number
  pathDev: number
  recordText: string
  /** Names in epochs/. */
  epochs: string[]
  /** Texts of replicas/*.json, when asked. */
  replicas: string[] | null
}

export interface SharePort {
  /** The shared directory, for messages. */
  readonly dir: string
  /** The lock file's path, for messages. */
  readonly lockPath: string
  /** Create the shared directory if needed (start only: a failure here ends the process). */
  ensureDir(): Promise<void>
  /** Open (creating it if missing) the lock file. */
  openLock(): Promise<LockHandle>
  /** dev/ino the lock path names now. */
  statLock(): Promise<{ ino: number; dev: number }>
  /** The keep-alive look: lock path inode, holder record text, epochs, optionally replicas. */
  check(withReplicas: boolean): Promise<ShareFacts>
  /**
   * The filesystem call in progress where calls run: its age (0 when idle) and a number that changes with every
   * call. The only evidence of a hang: the same call seen in progress for over the timeout on two looks.
   */
  busy(): { ms: number; seq: number }
  /**
   * Rewrite the holder record in place, if the lock path still names inode ino/dev. `renewal`: only if the file
   * still holds this node's record of this epoch (else ENOTOURS): a renewal delayed by a hung share must never
   * overwrite the record of a primary that took over meanwhile.
   */
  writeRecord(ino: number, dev: number, rec: HolderRecord, renewal: boolean): Promise<void>
  /** The holder record in the file the path names now, read afresh (null when missing or torn). */
  readRecord(): Promise<{ rec: HolderRecord | null; ino: number } | null>
  /** Highest claimed epoch (0 when none). */
  maxEpoch(): Promise<number>
  /** Whether epochs/<n> exists (the fence's check: claims are contiguous). */
  epochExists(n: number): Promise<boolean>
  /** Claim epoch max+1 by exclusive create; null when another node claimed it first. */
  claimEpoch(who: { nodeId: string; host: string; pid: number }): Promise<number | null>
  writeReplica(rec: ReplicaRecord): Promise<void>
  removeReplica(nodeId: string): Promise<void>
  readReplicas(): Promise<ReplicaRecord[]>
  readTakeovers(): Promise<TakeoverRecord[]>
  appendTakeover(rec: TakeoverRecord): Promise<void>
  /** Whether a process of this host is alive (to tell a killed holder from a live one on lying locks). */
  pidAlive(pid: number): boolean
  /** Release what the port holds (worker threads); calls queued before it still run. */
  shutdown(): void
}

/** The stall watchdog's controls (a kernel timer or a thread that kills a process whose event loop never comes back). */
export interface Watchdog {
  /** What kills the process and how, for the arm-time log line (e.g. "a kernel timer (timer_create, …)"). */
  readonly mechanism: string
  /** Start what watches (once, at the first arm); an error message when it cannot run here. */
  start(): string | null
  arm(): void
  disarm(): void
  stop(): void
}
