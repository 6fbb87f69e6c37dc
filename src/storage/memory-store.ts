/**
 * MemoryStore: an in-memory PersistenceAdapter. It keeps the contract's ordering, atomic batches, dedupe record
 * and STORAGE_CLOSED semantics, but nothing survives the process. Uses: the scheduler's job store of a broker
 * with persistent=false (as ActiveMQ's InMemoryJobSchedulerStore), and unit tests of the broker and scheduler.
 */
import { BrokerError } from '../lib/errors.ts'
import type {
  DurableSubscriptionRecord,
  OpenOptions,
  PersistenceAdapter,
  RecoveredState,
  StoreOp,
  StoreStats,
  StoredMessage,
  WriteResult,
} from './types.ts'

export class MemoryStore implements PersistenceAdapter {
  readonly kind = 'kahaDB' as const
  private dests = new Map<string, Map<number, StoredMessage>>()
  private subs = new Map<string, DurableSubscriptionRecord>()
  private seen = new Set<string>()
  private nextSeq = 1
  private closed = true
  private directory = ':memory:'
  /** Tests can make the next writes fail, as a full disk would. */
  failWrites: Error | null = null

  async open(opts: OpenOptions): Promise<RecoveredState> {
    this.directory = opts.directory
    this.closed = false
    return {
      destinations: [...this.dests].map(([destination, m]) => ({
        destination,
        count: m.size,
        bytes: [...m.values()].reduce((a, x) => a + x.body.length, 0),
      })),
      subscriptions: [...this.subs.values()],
      report: { durationMs: 0, recordsReplayed: 0, tornTail: null, corrupt: [], fencedRecordsIgnored: 0 },
    }
  }

  private check(): void {
    if (this.closed) throw new BrokerError('STORAGE_CLOSED', `store ${this.directory} is closed`)
  }

  async write(ops: StoreOp[]): Promise<WriteResult> {
    this.check()
    if (this.failWrites) throw this.failWrites
    const seqs: number[] = []
    for (const o of ops) {
      if (o.op === 'add') {
        const seq = this.nextSeq++
        seqs.push(seq)
        let d = this.dests.get(o.destination)
        if (!d) this.dests.set(o.destination, (d = new Map()))
        d.set(seq, { ...o.message, seq })
        this.seen.add(o.message.messageId)
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

  async load(destination: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    this.check()
    const d = this.dests.get(destination)
    if (!d) return []
    return [...d.values()]
      .filter((m) => m.seq > afterSeq)
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
  }

  isDuplicate(messageId: string): boolean {
    return this.seen.has(messageId)
  }

  stats(): StoreStats {
    const destinations = [...this.dests].map(([destination, m]) => ({
      destination,
      count: m.size,
      bytes: [...m.values()].reduce((a, x) => a + x.body.length, 0),
    }))
    return {
      adapter: 'kahaDB',
      directory: this.directory,
      bytes: destinations.reduce((a, d) => a + d.bytes, 0),
      messages: destinations.reduce((a, d) => a + d.count, 0),
      destinations,
      syncs: 0,
      syncLatencyMs: [{ le: Infinity, count: 0 }],
      syncLatencySumMs: 0,
    }
  }

  async checkpoint(): Promise<void> {
    this.check()
  }

  async close(): Promise<void> {
    this.closed = true
  }
}
