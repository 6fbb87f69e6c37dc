/**
 * A node of the election simulation (simulation.ts) as the simulation tracks it beside its real Elector, and the
 * timing bounds its invariants use. Data only.
 */
import type { Elector } from '../elector.ts'
import type { EpochFence, Role } from '../types.ts'
import type { NodeClock } from './sim-scheduler.ts'
import type { SimSharePort } from './sim-share.ts'

export const KEEPALIVE_MS = 500
export const KEEPALIVE_TIMEOUT_MS = 1000
/** Detection bound: next check (period) + hang verdict (timeout + two polls) + latencies and scheduling slack. */
export const LOSS_BOUND_MS = KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS + 2 * 250 + 1000

export interface SimNode {
  idx: number
  nodeId: string
  incarnation: number
  clock: NodeClock
  port: SimSharePort
  elector: Elector
  alive: boolean
  role: Role
  fence: EpochFence | null
  epoch: number | null
  termStart: number | null
  /** Last time evidence against this node's term appeared (virtual ms), or -1. */
  evidenceAt: number
  /** Until when this node's timing is disturbed (paused or starved): loss bounds do not apply then. */
  disturbedUntil: number
  /** Loss deadlines pending: [deadline, epoch, why]. */
  deadlines: { at: number; epoch: number; why: string }[]
}
