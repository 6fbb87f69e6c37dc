/**
 * NodeMetrics: the node's own counters that outlive a primary term (role changes, takeovers), kept in memory
 * for /metrics. Everything per-destination or per-store is read live from the serving parts instead.
 */
import type { Role } from '../election/index.ts'

export const ROLES: Role[] = ['starting', 'replica', 'activating', 'primary', 'stepping-down', 'stopped']

export class NodeMetrics {
  role: Role = 'starting'
  takeovers = 0
  stepDowns = 0
  lastTakeoverMs: number | null = null
  private activatingSince: number | null = null

  onRole(role: Role, now = Date.now()): void {
    if (role === 'activating') this.activatingSince = now
    if (role === 'primary') {
      this.takeovers++
      if (this.activatingSince !== null) this.lastTakeoverMs = now - this.activatingSince
      this.activatingSince = null
    }
    if (role === 'stepping-down') this.stepDowns++
    this.role = role
  }
}
