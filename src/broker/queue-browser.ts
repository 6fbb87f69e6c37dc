/**
 * QueueBrowser: one `browser:true` subscription. It delivers a snapshot of a queue without consuming: what is in
 * memory when it starts, then what is paged out, read from the store a page at a time; then ActiveMQ's end
 * marker (a browserEnd delivery: STOMP sends a MESSAGE with `browser:end` and an empty body). It waits while its session's dispatch is paused and
 * yields to the event loop every `batch` (the browser prefetch) messages. Expired messages and those its
 * selector rejects are skipped. Browsed messages are not acked (ack ids `browse:<session>-<n>`).
 */
import { logger } from '../lib/log.ts'
import type { PersistenceAdapter } from '../storage/types.ts'
import type { Delivery } from './types.ts'
import { type CoreMessage, createMessage, isExpired } from '../model/index.ts'
import { deliveredMessage } from './message.ts'
import type { MessageQueue } from './queue.ts'
import type { Selector } from './selector.ts'
import { messageSource } from './selector-source.ts'

const log = logger('broker')

/** Stored messages read per store.load, and store pages read at most, while browsing paged-out messages. */
const BROWSE_LOAD_PAGE = 500
const BROWSE_PAGES_MAX = 1_000_000

/** What a browser needs of its session. */
export interface BrowsingSession {
  readonly sessionNo: number
  readonly paused: boolean
  readonly isClosed: boolean
}

/** What a browser needs of the broker. */
export interface BrowseHost {
  readonly store: PersistenceAdapter | null
  readonly seqBoundary: number
  readonly clock: { now(): number }
}

export class QueueBrowser {
  private stopped = false
  private wake: (() => void) | null = null

  constructor(
    readonly id: string,
    private readonly session: BrowsingSession,
    private readonly host: BrowseHost,
  ) {}

  /** Unsubscribed or session closed: deliver nothing more. */
  stop(): void {
    this.stopped = true
    this.resume()
  }

  /** The session's dispatch was resumed. */
  resume(): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  /** Whether to wait for resume() before the next delivery (no await when not: the common case stays sync). */
  private mustWait(): boolean {
    return this.session.paused && !this.stopped && !this.session.isClosed
  }

  /** Deliver the snapshot of `q`, then the end marker; `onEnd` runs before the marker goes out. */
  async run(
    q: MessageQueue,
    selector: Selector | null,
    batch: number,
    onDelivery: (d: Delivery) => void,
    onEnd: () => void,
  ): Promise<void> {
    // A snapshot: what is in memory now, then what is paged out, read from the store without consuming.
    const mem = q.snapshot().map((e) => deliveredMessage(e.msg.message, e.redeliveries, e.recovered === true))
    const paged = q.pagedSnapshot()
    const sessionNo = this.session.sessionNo
    let n = 0
    const deliver = async (message: CoreMessage): Promise<boolean> => {
      while (this.mustWait()) await new Promise<void>((r) => (this.wake = r))
      if (this.stopped || this.session.isClosed) return false
      if (isExpired(message, this.host.clock.now())) return true
      if (selector && !selector.matches(messageSource(message))) return true
      const redelivered = message.redeliveryCount > 0
      try {
        onDelivery({ subscriptionId: this.id, ackId: `browse:${sessionNo}-${++n}`, message, redelivered })
      } catch (e) {
        log.error(`browser ${this.id} delivery callback threw`, e)
      }
      // Yield every `batch` messages so a large snapshot does not hold the event loop.
      if (n % batch === 0) await new Promise((r) => setImmediate(r))
      return true
    }
    for (const m of mem) if (!(await deliver(m))) return
    const store = this.host.store
    if (store && q.key && (paged.rangeActive || paged.seqs.size > 0)) {
      let after = paged.rangeAfter
      if (!paged.rangeActive) {
        after = Infinity
        for (const x of paged.seqs) if (x < after) after = x
        after -= 1
      }
      for (let pages = 0; pages < BROWSE_PAGES_MAX; pages++) {
        const page = await store.load(q.key, after, BROWSE_LOAD_PAGE)
        for (const m of page) {
          after = m.seq
          const inRange = paged.rangeActive && m.seq < this.host.seqBoundary
          if (!inRange && !paged.seqs.has(m.seq)) continue
          if (!(await deliver(deliveredMessage(m.message, 0, inRange)))) return
        }
        if (page.length < BROWSE_LOAD_PAGE) break
      }
    }
    while (this.mustWait()) await new Promise<void>((r) => (this.wake = r))
    if (this.stopped || this.session.isClosed) return
    onEnd()
    try {
      onDelivery({
        subscriptionId: this.id,
        ackId: `browse:${sessionNo}-end`,
        message: createMessage({ messageId: '0', destination: { kind: q.dest.kind, name: q.dest.name }, timestamp: 0 }),
        redelivered: false,
        browserEnd: true,
      })
    } catch (e) {
      log.error(`browser ${this.id} end callback threw`, e)
    }
  }
}
