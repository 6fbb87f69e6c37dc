/**
 * Topic: a publish/subscribe destination and its fan-out. A topic holds no messages itself; each subscription
 * (non-durable: memory only; durable: stored under `durable://<clientId>:<name>`) is a MessageQueue, and a
 * published message goes to every subscription whose filters let it through. Owns those filters: an inactive
 * durable subscription keeps persistent messages only (ActiveMQ), noLocal (by session for non-durable
 * subscriptions, by client id for durable ones) and the subscription's selector.
 */
import type { BrokerMessage } from './message.ts'
import type { MessageQueue } from './queue.ts'
import { headerSource } from './selector.ts'

export interface Topic {
  destination: string
  subs: Set<MessageQueue>
  /** The session that created a temporary topic, else null. */
  owner: object | null
  published: number
}

/** The subscriptions of `t` a message published by a session with `clientId` goes to (appended to `out`). */
export function fanOut(t: Topic, msg: BrokerMessage, clientId: string | null | undefined, out: MessageQueue[]): void {
  const src = headerSource(msg.headers)
  for (const q of t.subs) {
    // ActiveMQ keeps only persistent messages for an inactive durable subscriber.
    if (q.kind === 'durable' && !msg.persistent && q.consumers.length === 0) continue
    if (q.noLocalSessionId !== null && q.noLocalSessionId === msg.originSessionId) continue
    if (q.noLocalClientId !== null && clientId === q.noLocalClientId) continue
    if (q.subSelector && !q.subSelector.matches(src)) continue
    out.push(q)
  }
}
