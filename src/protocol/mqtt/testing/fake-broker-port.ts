/**
 * A minimal in-memory MqttBrokerPort for debugging BrokerMqttCore without the real broker: sends call every topic
 * tap (telling it the broker has no subscribers of its own), write their ops and the extra ops as one batch, then run the taps' committed callbacks. No authorization, no
 * other protocols. The store object outlives a FakeBrokerPort, so a new port over it is a restart. Test-only.
 */
import type { Clock } from '../../../lib/clock.ts'
import type { CoreMessage } from '../../../model/index.ts'
import type { MqttBrokerPort, StoreOp, StoredMessage, TopicTap } from '../broker-port.ts'
import type { TapInfo } from '../broker-core-router.ts'

export class FakeStore {
  readonly keys = new Map<string, StoredMessage[]>()
  private seq = 0
  write(ops: StoreOp[]): number[] {
    const seqs: number[] = []
    for (const o of ops) {
      if (o.op === 'add') {
        const seq = ++this.seq
        seqs.push(seq)
        const list = this.keys.get(o.destination) ?? []
        list.push({ seq, message: o.message })
        this.keys.set(o.destination, list)
      } else if (o.op === 'remove') {
        const list = this.keys.get(o.destination) ?? []
        const i = list.findIndex((m) => m.seq === o.seq)
        if (i < 0) throw new Error(`remove of missing ${o.destination} ${o.seq}`)
        list.splice(i, 1)
        if (list.length === 0) this.keys.delete(o.destination)
      } else if (o.op === 'purge') this.keys.delete(o.destination)
    }
    return seqs
  }
}

export class FakeBrokerPort implements MqttBrokerPort {
  private readonly taps = new Set<TopicTap>()
  private ids = 0
  constructor(
    readonly store: FakeStore,
    readonly clock: Clock,
  ) {}

  connect(): never {
    const send = async (req: { message: CoreMessage; extraOps?: StoreOp[] }) => {
      const m = req.message
      if (!m.messageId) m.messageId = this.newMessageId()
      // No other protocols here: the broker's own subscribers are always none (the TapInfo a broker may pass).
      const results = [...this.taps]
        .map((t) =>
          (t.onTopicMessage as (m: CoreMessage, info: TapInfo) => ReturnType<TopicTap['onTopicMessage']>)(m, {
            subscribers: 0,
          }),
        )
        .filter((r) => r !== null)
      await this.storeWrite([...(req.extraOps ?? []), ...results.flatMap((r) => r.ops)])
      for (const r of results) r.committed?.()
    }
    return { send, close: async () => {} } as never
  }

  addTopicTap(tap: TopicTap): () => void {
    this.taps.add(tap)
    return () => this.taps.delete(tap)
  }

  async storeWrite(ops: StoreOp[]): Promise<number[]> {
    await Promise.resolve()
    return this.store.write(ops)
  }

  async storeLoad(key: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    await Promise.resolve()
    return (this.store.keys.get(key) ?? []).filter((m) => m.seq > afterSeq).slice(0, limit)
  }

  storeKeys(prefix: string): string[] {
    return [...this.store.keys.keys()].filter((k) => k.startsWith(prefix))
  }

  authorize(): void {}

  newMessageId(): string {
    return `ID:fake-${++this.ids}`
  }
}
