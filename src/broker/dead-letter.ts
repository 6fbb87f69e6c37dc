/**
 * DeadLetters: where a message goes when it cannot be consumed: NACKed (a poison ack, with the client's cause when
 * it gave one, cut at DLQ_CAUSE_CHARS_MAX) or expired. Owns the DLQ
 * policy (ActiveMQ's shared strategy: processExpired=true, processNonPersistent=false, so an expired or NACKed
 * non-persistent message is dropped), the DLQ copy (never expires: expiration 0, the old value kept in the string
 * property `originalExpiration`, plus `original-destination` (its label) and `dlqDeliveryFailureCause`, as 0.1.0
 * wrote them), the store ops of a move to
 * `ActiveMQ.DLQ`, and dead-lettering outside a transaction. A NACK inside a batch is moved by ./commit-batch.ts
 * with these same ops, in the batch's one store write.
 */
import type { StoreOp } from '../storage/types.ts'
import { copyMessage, prop } from '../model/index.ts'
import { DLQ, labelOf, queueStoreKey } from './destination.ts'
import type { FlowControl } from './flow-control.ts'
import { brokerMessage, type BrokerMessage } from './message.ts'
import type { MessageQueue, QueueEntry } from './queue.ts'
import type { StoreWrites } from './store-writes.ts'

export interface DeadLetterPolicy {
  /** Dead-letter expired messages (ActiveMQ default true). */
  processExpired: boolean
  /** Dead-letter non-persistent messages too (ActiveMQ default false: they are dropped). */
  processNonPersistent: boolean
}

/** Characters of a client's failure cause kept on a DLQ copy (the rest is cut, marked with an ellipsis). */
export const DLQ_CAUSE_CHARS_MAX = 4096

/** The DLQ's store key. */
const DLQ_STORE_KEY = queueStoreKey(DLQ)

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
    const m = entry.msg.message
    if (!m.persistent && !this.policy.processNonPersistent) return null
    const c = copyMessage(m, { destination: DLQ, expiration: 0 })
    c.properties.set('original-destination', prop.string(labelOf(m.destination)))
    const text = cause.length > DLQ_CAUSE_CHARS_MAX ? `${cause.slice(0, DLQ_CAUSE_CHARS_MAX - 1)}…` : cause
    c.properties.set('dlqDeliveryFailureCause', prop.string(text))
    if (m.expiration > 0) c.properties.set('originalExpiration', prop.string(String(m.expiration)))
    return brokerMessage(c)
  }

  /** Store ops to move an entry to the DLQ (remove from its key, add to the DLQ key when persistent). */
  ops(entry: QueueEntry, copy: BrokerMessage | null): StoreOp[] {
    const ops: StoreOp[] = []
    if (!this.writes.store) return ops
    if (entry.seq > 0 && entry.queue.key && !entry.queue.deleted)
      ops.push({ op: 'remove', destination: entry.queue.key, seq: entry.seq })
    if (copy && copy.message.persistent) ops.push({ op: 'add', destination: DLQ_STORE_KEY, message: copy.message })
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
      seq = copy && copy.message.persistent ? seqs[0]! : 0
    }
    if (copy) this.enqueue(copy, seq)
  }
}
