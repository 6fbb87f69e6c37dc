/**
 * What an Elector is built from and what it reports: its options, the status it answers, the two bounds on a term's
 * teardown, and the check of the lock settings it runs on. No behaviour beyond that check; the elector (elector.ts)
 * and its takeover and step-down paths (takeover.ts, step-down.ts) use these.
 */
import type { LockConfig } from '../config/index.ts'
import { BrokerError } from '../lib/errors.ts'
import type { Clock } from '../lib/clock.ts'
import type { ElectionHooks, Role } from './types.ts'
import type { SharePort, Watchdog } from './ports.ts'
import type { HolderRecord, TakeoverRecord } from './shared-dir.ts'

/** How long a new term waits for the previous term's teardown (store close) before the process gives up (exit 76). */
export const TEARDOWN_WAIT_MAX_MS = 60_000
/** How long a step-down waits for hooks.deactivate before releasing the lock anyway (connectors close first, in ms). */
export const STEP_DOWN_WAIT_MS = 3000

export interface ElectorInfo {
  adapter?: string | null
  dataDirectory?: string | null
  schedulerDirectory?: string | null
  schedulerSupport?: boolean
  version?: string
}

export interface ElectorOptions {
  sharedDir: string
  lock: LockConfig
  brokerName: string
  nodeId: string
  connectors: string[]
  /** Client-facing OpenWire URLs, written into the holder record and the replica heartbeat (default none). */
  clientUrls?: string[]
  info?: ElectorInfo
  hooks: ElectionHooks
  clock?: Clock
  host?: string
  pid?: number
  /** The shared directory and its lock (default: the real filesystem). */
  port?: SharePort
  /** Random draws for jitter (default Math.random; the simulation passes its seeded generator). */
  random?: () => number
  /** The stall watchdog (default: stall-watchdog.ts `createStallWatchdog`; null: none). */
  watchdog?: ((killAfterMs: number) => Watchdog | Promise<Watchdog>) | null
}

export interface ElectorStatus {
  nodeId: string
  role: Role
  epoch: number | null
  /** The holder record as last read (ours while primary). */
  holder: HolderRecord | null
  lastTakeover: TakeoverRecord | null
  since: number
  /** Duration of the last keep-alive check as primary (ms), or null before the first. */
  keepAliveLatencyMs: number | null
}

/** Throws CONFIG_INVALID unless every period is non-negative and lockAcquireSleepInterval is positive. */
export function checkLockSettings(lk: LockConfig): void {
  if (
    lk.lockKeepAlivePeriod < 0 ||
    lk.keepAliveTimeout < 0 ||
    lk.lockAcquireSleepInterval <= 0 ||
    lk.eventLoopStallMax < 0
  ) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `election lock settings: lockKeepAlivePeriod=${lk.lockKeepAlivePeriod}, keepAliveTimeout=${lk.keepAliveTimeout}, lockAcquireSleepInterval=${lk.lockAcquireSleepInterval}, eventLoopStallMax=${lk.eventLoopStallMax}; expected non-negative values and lockAcquireSleepInterval > 0`,
    )
  }
}
