/**
 * WarmStandby: what a replica node does while it waits for the lock. For each store directory whose adapter offers a
 * standby reader (kahaDB, amq; not levelDB), it polls that reader every `pollMs`, so the reader's in-memory index
 * follows what the primary writes. On activation the node takes the readers (stopping the polls at a record
 * boundary) and passes each to its store's open() as `standby`, which replays only what the reader had not yet read.
 *
 * It never writes to the store (the readers are read-only) and it owns no decision: a reader that cannot be used
 * makes open() recover cold, and a failing poll only logs (once per distinct message) and is retried.
 * Not promised: a reader is current to within one poll interval plus the time a poll takes.
 */
import type { AdapterKind } from '../config/index.ts'
import type { StandbyReader } from '../storage/index.ts'
import { createAdapter } from '../storage/index.ts'
import { logger } from '../lib/log.ts'
import { legacyStoreReader } from '../broker/scheduler/index.ts'
import { fromLegacyStored } from '../protocol/stomp/index.ts'

const log = logger('node')

/** Default interval between polls of a standby reader. */
export const STANDBY_POLL_MS_DEFAULT = 100

export class WarmStandby {
  private readers = new Map<string, StandbyReader>()
  private timer: ReturnType<typeof setTimeout> | null = null
  private running: Promise<void> | null = null
  private signal = { aborted: false }
  private stopped = false
  private lastError = new Map<string, string>()

  constructor(
    private readonly kind: AdapterKind,
    directories: string[],
    private readonly pollMs = STANDBY_POLL_MS_DEFAULT,
  ) {
    for (const dir of directories) {
      const adapter = createAdapter(kind)
      if (!adapter.standby) continue
      this.readers.set(dir, adapter.standby({ directory: dir, legacyMessage: legacyStoreReader(fromLegacyStored) }))
    }
  }

  /** Whether any directory has a reader (false for levelDB: cold open only). */
  get active(): boolean {
    return this.readers.size > 0
  }

  start(): void {
    if (!this.active) {
      log.info(
        `warm standby: the ${this.kind} adapter supports only a cold open; a takeover recovers the store from scratch`,
      )
      return
    }
    log.info(`warm standby: following ${[...this.readers.keys()].join(', ')} read-only every ${this.pollMs} ms`)
    this.schedule(0)
  }

  private schedule(ms: number) {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.pollAll().finally(() => {
        this.running = null
        this.schedule(this.pollMs)
      })
    }, ms)
    // A standby alone must not keep the process alive.
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private async pollAll() {
    for (const [dir, r] of this.readers) {
      if (this.signal.aborted) return
      const t0 = performance.now()
      try {
        const p = await r.poll(this.signal)
        this.lastError.delete(dir)
        if (p.resynced || p.recordsApplied > 10_000) {
          const st = r.stats()
          log.info(
            `warm standby ${dir}: ${p.recordsApplied} records applied in ${Math.round(performance.now() - t0)} ms, ${st.messages} messages indexed (~${Math.round(st.indexBytes / 1048576)} MiB)${p.resynced ? `; rebuilt: ${p.resynced}` : ''}`,
          )
        }
      } catch (e) {
        const msg = (e as Error).message
        if (this.lastError.get(dir) !== msg) log.warn(`warm standby ${dir}: poll failed (retried): ${msg}`)
        this.lastError.set(dir, msg)
      }
    }
  }

  /** Stop polling (a poll in flight stops at its next record boundary) and hand the readers over, by directory. */
  async take(): Promise<Map<string, StandbyReader>> {
    await this.halt()
    const out = this.readers
    this.readers = new Map()
    return out
  }

  /** Stop polling and drop the readers. */
  async stop(): Promise<void> {
    await this.halt()
    for (const r of this.readers.values()) await r.close()
    this.readers.clear()
  }

  private async halt() {
    this.stopped = true
    this.signal.aborted = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }

  /** For the admin endpoint and logs. */
  stats() {
    return [...this.readers.values()].map((r) => r.stats())
  }
}
