/**
 * MemoryStore: an in-memory PersistenceAdapter behind the shared validating front. It keeps the contract's
 * ordering, atomic batches (a batch is validated whole before any of it is applied), dedupe record and
 * STORAGE_CLOSED semantics, but nothing survives the process; a reopen of the same object sees what it held. Uses:
 * the scheduler's job store of a broker with persistent=false (as ActiveMQ's InMemoryJobSchedulerStore), and unit
 * tests of the broker and scheduler. No group commit: a write is applied when it is called.
 */
import { dedupeKey } from '../model/index.ts'
import { AbstractAdapter } from './abstract-adapter.ts'
import type {
  DestinationSummary,
  DurableSubscriptionRecord,
  OpenOptions,
  RecoveredState,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from './types.ts'

export class MemoryStore extends AbstractAdapter {
  readonly kind = 'kahaDB' as const
  private dests = new Map<string, Map<number, StoredMessage>>()
  private subs = new Map<string, DurableSubscriptionRecord>()
  private seen = new Set<string>()
  private nextSeq = 1
  /** Tests can make the next writes fail, as a full disk would. */
  failWrites: Error | null = null

  constructor() {
    super({ reopenable: true, gatherTick: false })
    this.where = ':memory:'
  }

  /** Opening an open store again is a restart: it recovers what it holds (broker tests simulate a crash so). */
  override open(opts: OpenOptions): Promise<RecoveredState> {
    if (this.state === 'open') this.state = 'closed'
    return super.open(opts)
  }

  protected async openStore(_opts: OpenOptions): Promise<RecoveredState> {
    return {
      destinations: this.summaries(),
      subscriptions: [...this.subs.values()],
      report: { durationMs: 0, recordsReplayed: 0, tornTail: null, corrupt: [], fencedRecordsIgnored: 0 },
    }
  }

  protected async writeStore(ops: StoreOp[]): Promise<WriteResult> {
    if (this.failWrites) throw this.failWrites
    const seqs: number[] = []
    for (const o of ops) {
      if (o.op === 'add') {
        const seq = this.nextSeq++
        seqs.push(seq)
        let d = this.dests.get(o.destination)
        if (!d) this.dests.set(o.destination, (d = new Map()))
        d.set(seq, { seq, message: o.message })
        const key = dedupeKey(o.message)
        if (key !== null) this.seen.add(key)
      } else if (o.op === 'remove') {
        this.dests.get(o.destination)?.delete(o.seq)
      } else if (o.op === 'purge') {
        this.dests.delete(o.destination)
      } else if (o.op === 'putSubscription') {
        this.subs.set(`${o.subscription.clientId}:${o.subscription.subscriptionName}`, o.subscription)
      } else {
        this.subs.delete(`${o.clientId}:${o.subscriptionName}`)
      }
    }
    return { seqs }
  }

  protected async loadStore(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    const d = this.dests.get(destination)
    if (!d) return []
    return [...d.values()]
      .filter((m) => m.seq > afterSeq)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
  }

  protected isDuplicateStore(key: string): boolean {
    return this.seen.has(key)
  }

  private summaries(): DestinationSummary[] {
    return [...this.dests].map(([destination, m]) => ({
      destination,
      count: m.size,
      bytes: [...m.values()].reduce((a, x) => a + x.message.body.length, 0),
    }))
  }

  protected statsStore(): StoreStats {
    const destinations = this.summaries()
    return {
      adapter: 'kahaDB',
      directory: this.where,
      bytes: destinations.reduce((a, d) => a + d.bytes, 0),
      messages: destinations.reduce((a, d) => a + d.count, 0),
      destinations,
      syncs: 0,
      syncLatencyMs: [{ le: Infinity, count: 0 }],
      syncLatencySumMs: 0,
    }
  }

  protected async checkpointStore(): Promise<void> {}

  protected async closeStore(_wasOpen: boolean): Promise<void> {}
}
