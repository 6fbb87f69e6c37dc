/**
 * Topic: a publish/subscribe destination and its fan-out. A topic holds no messages itself; each subscription
 * (non-durable: memory only; durable: stored under `durable://<clientId>:<name>`) is a MessageQueue registered
 * under its filter (a topic name, or an ActiveMQ wildcard filter `a.*`, `a.>`) in ./destinations.ts's
 * DestinationIndex; a published message goes to every matching subscription whose rules let it through. Owns
 * those rules: an inactive durable subscription keeps persistent messages only (ActiveMQ), noLocal (by session
 * for non-durable subscriptions, by client id for durable ones) and the subscription's selector. Also the topic
 * taps: protocol plug-ins that see every topic message inside its commit (types.ts TopicTap).
 */
import { logger } from '../lib/log.ts'
import type { CoreMessage } from '../model/index.ts'
import type { StoreOp } from '../storage/types.ts'
import type { BrokerMessage } from './message.ts'
import type { MessageQueue } from './queue.ts'
import { messageSource } from './selector-source.ts'
import type { TopicTap, TopicTapInfo } from './types.ts'

const log = logger('broker')

export interface Topic {
  /** The topic's label, or a wildcard filter's (`/topic/a.>`): the registry key subscriptions are counted under. */
  destination: string
  subs: Set<MessageQueue>
  /** The session that created a temporary topic, else null. */
  owner: object | null
  published: number
}

/** The subscriptions among `subs` a message published by a session with `clientId` goes to (appended to `out`). */
export function fanOut(
  subs: Iterable<MessageQueue>,
  msg: BrokerMessage,
  clientId: string | null | undefined,
  out: MessageQueue[],
): void {
  const m = msg.message
  let src: ReturnType<typeof messageSource> | null = null
  for (const q of subs) {
    // ActiveMQ keeps only persistent messages for an inactive durable subscriber.
    if (q.kind === 'durable' && !m.persistent && q.consumers.length === 0) continue
    if (q.noLocalSessionId !== null && q.noLocalSessionId === msg.originSessionId) continue
    if (q.noLocalClientId !== null && clientId === q.noLocalClientId) continue
    if (q.subSelector && !q.subSelector.matches((src ??= messageSource(m)))) continue
    out.push(q)
  }
}

/** What the taps returned for one message. */
export type TapResult = { ops: StoreOp[]; committed?: () => void }

/** The plugged-in topic taps, called in the order they were added. */
export class TopicTaps {
  private readonly taps: TopicTap[] = []

  get size(): number {
    return this.taps.length
  }

  add(tap: TopicTap): () => void {
    this.taps.push(tap)
    return () => {
      const i = this.taps.indexOf(tap)
      if (i >= 0) this.taps.splice(i, 1)
    }
  }

  /** Every tap's answer for a topic message; a non-persistent message gets no ops (they are dropped, logged). */
  collect(m: CoreMessage, info: TopicTapInfo): TapResult[] {
    const out: TapResult[] = []
    for (const t of this.taps) {
      let r: TapResult | null
      try {
        r = t.onTopicMessage(m, info)
      } catch (e) {
        log.error(`topic tap threw on a message to ${m.destination.name}; ignoring its answer`, e)
        continue
      }
      if (r === null) continue
      if (!m.persistent && r.ops.length > 0) {
        log.error(`topic tap returned ${r.ops.length} store op(s) for a non-persistent message; dropped`)
        r = { ops: [], committed: r.committed }
      }
      out.push(r)
    }
    return out
  }

  runCommitted(f: () => void): void {
    try {
      f()
    } catch (e) {
      log.error('topic tap committed() threw', e)
    }
  }
}
