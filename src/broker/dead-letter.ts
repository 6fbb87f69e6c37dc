/**
 * DeadLetters: where a message goes when it cannot be consumed: NACKed (a poison ack) or expired. Owns the DLQ
 * policy (ActiveMQ's shared strategy: processExpired=true, processNonPersistent=false, so an expired or NACKed
 * non-persistent message is dropped), the DLQ copy (never expires: `expires:0`, the old value kept in
 * `originalExpiration`, plus `original-destination` and `dlqDeliveryFailureCause`), the store ops of a move to
 * `ActiveMQ.DLQ`, and dead-lettering outside a transaction. A NACK inside a batch is moved by ./commit-batch.ts
 * with these same ops, in the batch's one store write.
 */
import type { StoreOp } from '../storage/types.ts'
import { DLQ_DESTINATION, queueStoreKey } from './destination.ts'
import type { FlowControl } from './flow-control.ts'
import type { BrokerMessage } from './message.ts'
import type { MessageQueue, QueueEntry } from './queue.ts'
import type { StoreWrites } from './store-writes.ts'

export interface DeadLetterPolicy {
  /** Dead-letter expired messages (ActiveMQ default true). */
  processExpired: boolean
  /** Dead-letter non-persistent messages too (ActiveMQ default false: they are dropped). */
  processNonPersistent: boolean
}

/** The DLQ's store key. */
const DLQ_STORE_KEY = queueStoreKey(DLQ_DESTINATION.slice('/queue/'.length))

export class DeadLetters {
  readonly policy: DeadLetterPolicy

  constructor(
    policy: Partial<DeadLetterPolicy> | undefined,
    private readonly writes: StoreWrites,
    private readonly flow: FlowControl,
    /** The DLQ, created on first use. */
    private readonly dlq: () => MessageQueue,
  ) {
    this.policy = { processExpired: true, processNonPersistent: false, ...policy }
  }

  /** Expired at dispatch or in the sweep (the entry is already unlisted): to the DLQ, or dropped by the policy. */
  expire(entry: QueueEntry): void {
    if (!this.policy.processExpired) {
      this.drop(entry)
      return
    }
    this.deadLetterNow(entry, 'expired').catch(() => {})
  }

  /** A pending entry that leaves for good without delivery (expired and not dead-lettered). */
  private drop(entry: QueueEntry): void {
    entry.queue.dequeued++
    this.flow.unref(entry.msg)
    if (entry.seq > 0 && entry.queue.key && !entry.queue.deleted)
      this.writes.remove(entry.queue.key, entry.seq).catch(() => {})
  }

  /** The DLQ copy of an entry's message, or null when the policy drops it. */
  copy(entry: QueueEntry, cause: string): BrokerMessage | null {
    const m = entry.msg
    if (!m.persistent && !this.policy.processNonPersistent) return null
    const headers: Record<string, string> = { ...m.headers }
    headers['original-destination'] = entry.queue.destination
    headers.destination = DLQ_DESTINATION
    headers.dlqDeliveryFailureCause = cause
    if (m.expires > 0) headers.originalExpiration = String(m.expires)
    headers.expires = '0'
    return { ...m, headers, expires: 0, refs: 0, charged: null, size: m.size + 64 + cause.length }
  }

  /** Store ops to move an entry to the DLQ (remove from its key, add to the DLQ key when persistent). */
  ops(entry: QueueEntry, copy: BrokerMessage | null): StoreOp[] {
    const ops: StoreOp[] = []
    if (!this.writes.store) return ops
    if (entry.seq > 0 && entry.queue.key && !entry.queue.deleted)
      ops.push({ op: 'remove', destination: entry.queue.key, seq: entry.seq })
    if (copy && copy.persistent)
      ops.push({
        op: 'add',
        destination: DLQ_STORE_KEY,
        message: { messageId: copy.id, headers: copy.headers, body: copy.body },
      })
    return ops
  }

  /** Put a DLQ copy on the DLQ (after its store add, with `seq`, or memory-only with 0). */
  enqueue(copy: BrokerMessage, seq: number): void {
    this.flow.place(this.dlq(), copy, seq)
  }

  /** Dead-letter a pending (already unlisted) or in-flight entry now, outside any transaction. */
  private async deadLetterNow(entry: QueueEntry, cause: string): Promise<void> {
    const copy = this.copy(entry, cause)
    const ops = this.ops(entry, copy)
    entry.queue.dequeued++
    this.flow.unref(entry.msg)
    let seq = 0
    if (ops.length) {
      const seqs = await this.writes.write(ops)
      seq = copy && copy.persistent ? seqs[0]! : 0
    }
    if (copy) this.enqueue(copy, seq)
  }
}
