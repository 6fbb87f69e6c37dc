/**
 * ReplicaHeartbeat: a waiting node's `replicas/<id>.json`, rewritten every period so `status`, the console and a
 * failback primary can see it. One write at a time (on a hung share each would otherwise hold a thread of the fs
 * pool until none is left); failures are logged once per state change. Stopping removes the file at once and again
 * after a write still in flight, whose rename would otherwise re-create it.
 */
import type { Clock } from '../lib/clock.ts'
import { logger } from '../lib/log.ts'
import type { SharePort } from './ports.ts'
import type { ReplicaRecord } from './shared-dir.ts'

const log = logger('election')

export class ReplicaHeartbeat {
  private timer: unknown = null
  private inFlight = false
  private write: Promise<void> = Promise.resolve()
  private failing = false
  private since = 0
  /** The last removal; a final stop waits for it (bounded) so `status` does not list a node that is gone. */
  removal: Promise<void> = Promise.resolve()

  constructor(
    private readonly port: SharePort,
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly record: () => Omit<ReplicaRecord, 'since' | 'lastSeen' | 'heartbeatMs'>,
  ) {}

  get running(): boolean {
    return this.timer !== null
  }

  start(): void {
    if (this.timer !== null) return
    this.since = this.since || this.clock.now()
    const beat = () => {
      this.timer = this.clock.setTimeout(beat, this.periodMs)
      if (this.inFlight) return
      this.inFlight = true
      const rec: ReplicaRecord = {
        ...this.record(),
        since: this.since,
        lastSeen: this.clock.now(),
        heartbeatMs: this.periodMs,
      }
      this.write = this.port
        .writeReplica(rec)
        .then(
          () => {
            if (this.failing) log.info('replica heartbeat written again')
            this.failing = false
          },
          (err: Error) => {
            if (!this.failing) log.warn(`replica heartbeat write failed: ${err.message}`)
            this.failing = true
          },
        )
        .finally(() => (this.inFlight = false))
    }
    beat()
  }

  stop(removeFile: boolean, nodeId: string): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.since = 0
    if (!removeFile) return
    const rm = () => this.port.removeReplica(nodeId).catch(() => undefined)
    this.removal = Promise.all([rm(), this.write.catch(() => undefined).then(rm)]).then(() => undefined)
  }
}
