/**
 * CheckpointVerification: kahaDB recovery trusts the checkpoint and does not re-read the messages before it, so
 * after open each of them is checked against its CRC in the background (paged, yielding between pages, stopped by
 * close()), and rot in a stopped broker's journal is reported at startup rather than when a consumer reaches the
 * message. After a warm takeover it starts a little later: the new primary's first clients come first.
 */
import type { Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import type { StoreIntegrity } from '../types.ts'
import type { IndexState } from './index-state.ts'
import type { JournalReader } from './reader.ts'

const log = logger('storage')

/** Messages CRC-checked per step of the background verification (it yields to the event loop between steps). */
const VERIFY_PAGE_MESSAGES = 1000
/** After a warm open, the background verification waits this long (the takeover's first deliveries go first). */
export const VERIFY_DELAY_AFTER_WARM_OPEN_MS = 3000

export class CheckpointVerification {
  state: StoreIntegrity['verification'] = 'not-needed'
  verifiedMessages = 0
  private running: Promise<void> | null = null
  private delayEnd: (() => void) | null = null

  constructor(
    private readonly dir: string,
    private readonly index: IndexState,
    private readonly reader: JournalReader,
    private readonly clock: Clock,
    /** Whether the store is still open (the check stops after its current page otherwise). */
    private readonly open: () => boolean,
  ) {}

  /** Check every message stored before `before`; after a warm open, VERIFY_DELAY_AFTER_WARM_OPEN_MS from now. */
  start(before: { file: number; offset: number }, warm: boolean): void {
    this.state = 'running'
    this.running = warm
      ? new Promise<void>((r) => {
          const t = this.clock.setTimeout(r, VERIFY_DELAY_AFTER_WARM_OPEN_MS)
          ;(t as { unref?: () => void } | null)?.unref?.()
          // stop() ends the wait at once (run() then sees the store closing and stops).
          this.delayEnd = () => {
            this.clock.clearTimeout(t)
            r()
          }
        }).then(() => {
          this.delayEnd = null
          return this.run(before)
        })
      : this.run(before)
  }

  /** Resolves when the verification has finished or stopped (tests, tools, close). */
  done(): Promise<void> {
    return this.running ?? Promise.resolve()
  }

  /** Close: end a pending delay now; the check stops after its current page. Resolves when it stopped. */
  stop(): Promise<void> {
    this.delayEnd?.()
    return this.done()
  }

  private async run(before: { file: number; offset: number }) {
    const started = this.clock.now()
    const found0 = this.reader.corruptCount
    let checked = 0
    try {
      for (const destination of [...this.index.dests.keys()]) {
        let after = -Infinity
        // Bounded: every page moves `after` forward; the destination's index is finite.
        for (;;) {
          if (!this.open()) {
            this.state = 'stopped'
            return
          }
          const want = this.reader.snapshot(destination, after, VERIFY_PAGE_MESSAGES, before)
          if (want.length === 0) break
          checked += want.length
          this.verifiedMessages += await this.reader.readLocations(destination, want, null)
          after = want[want.length - 1].seq
          await new Promise<void>((r) => setImmediate(r))
        }
      }
      this.state = 'done'
      const found = this.reader.corruptCount - found0
      const line = `store ${this.dir}: verified ${checked} checkpointed message(s) in ${this.clock.now() - started} ms, ${found} corrupt`
      if (found > 0) log.error(line)
      else log.info(line)
    } catch (e) {
      this.state = 'stopped'
      if (!this.open()) return
      log.error(`store ${this.dir}: verification of checkpointed messages stopped: ${(e as Error).message}`)
    }
  }
}
