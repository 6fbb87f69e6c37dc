/**
 * Queue semantics across a shared group (MQTT 5 §4.8.2) when the member a message was given to goes away. A
 * delivery carries the group that chose its session (Queued.group, DeliveryInfo.group in the store), so:
 * - a member that disconnects hands its undelivered group messages (memory queue and stored queue, not those in
 *   flight, which the spec keeps for its reconnect) to connected members, when there are any;
 * - a member whose session ends hands over those and its unacknowledged in-flight ones (not yet PUBREC'd) to any
 *   remaining member, connected ones first.
 * A stored message moves in one store batch (removed from the old member's key, added to the new one's), so a
 * takeover in between keeps it exactly once. A message handed to a member that keeps it in memory (a clean
 * session, or a broker without a store) lives as long as that member's memory queue.
 * Not done: messages held by a member that stays disconnected while no other member is connected wait for it (or
 * for its session's end); they are not pulled over when another member connects later.
 */
import { logger } from '../../lib/log.ts'
import type { CoreMessage } from '../../model/index.ts'
import type { MqttBrokerPort, StoreOp } from './broker-port.ts'
import type { MqttMessage } from './core-port.ts'
import { coreToMqtt, mqttToCore } from './message-map.ts'
import { deliveryCopy, keys, readDeliveryCopy } from './mqtt-store.ts'
import type { SessionState } from './broker-core-session.ts'
import type { MqttRouter } from './broker-core-router.ts'

const log = logger('mqtt')

/** Stored queue records read per page while handing over. */
export const HANDOVER_PAGE_MAX = 500

export interface GroupHost {
  readonly broker: MqttBrokerPort
  readonly router: MqttRouter
}

type Mode = 'detached' | 'ended'

/** Moves `s`'s shared-group deliveries to other members (see the file header). */
export async function handOverGroupDeliveries(host: GroupHost, s: SessionState, mode: Mode): Promise<void> {
  if (![...s.subs.values()].some((sub) => sub.opts.shareGroup !== undefined)) return
  const connectedOnly = mode === 'detached'
  const pick = (group: string) => host.router.otherMember(group, s, connectedOnly)
  const taken = s.takeGroupQueued()
  const keep: typeof taken = []
  for (const q of taken) {
    const to = pick(q.group!)
    if (to) toMemory(host, to, q.group!, q.message)
    else keep.push(q)
  }
  for (const q of keep) s.enqueue(q)
  if (mode === 'ended') {
    const ops: StoreOp[] = []
    const after: (() => void)[] = []
    for (const f of s.takeGroupInFlight()) {
      const to = pick(f.group)
      if (!to) continue
      if (f.seq > 0) ops.push({ op: 'remove', destination: keys.inflight(s.clientId), seq: f.seq })
      const m = f.delivery.message
      if (to.durable && m.qos > 0) ops.push(storedAdd(host, to, f.group, mqttToCore(m, coreContext(host)), after))
      else after.push(() => toMemory(host, to, f.group, m))
    }
    if (ops.length > 0) await s.write(ops)
    for (const f of after) f()
  }
  if (s.stored) await handOverStored(host, s, pick)
}

/** The stored queue, page by page, each page's moves in one batch; reading stops if the member reconnects. */
async function handOverStored(
  host: GroupHost,
  s: SessionState,
  pick: (group: string) => SessionState | undefined,
): Promise<void> {
  const key = keys.queue(s.clientId)
  s.handingOver = true
  try {
    let cursor = 0
    for (;;) {
      if (s.attached) return
      const page = await host.broker.storeLoad(key, cursor, HANDOVER_PAGE_MAX)
      const ops: StoreOp[] = []
      const after: (() => void)[] = []
      for (const rec of page) {
        cursor = rec.seq
        let read: ReturnType<typeof readDeliveryCopy>
        try {
          read = readDeliveryCopy(rec.message, key)
        } catch {
          continue // reported when the session itself reads it
        }
        const group = read.info.group
        const to = group === undefined ? undefined : pick(group)
        if (!to || group === undefined) continue
        ops.push({ op: 'remove', destination: key, seq: rec.seq })
        if (to.durable) ops.push(storedAdd(host, to, group, read.message, after))
        else after.push(() => toMemory(host, to, group, coreToMqtt(read.message)))
      }
      if (ops.length > 0) await s.write(ops)
      for (const f of after) f()
      if (page.length < HANDOVER_PAGE_MAX) return
    }
  } catch (e) {
    log.warn(`mqtt session ${s.clientId}: handing shared-group messages over failed: ${(e as Error).message}`)
  } finally {
    s.handingOver = false
    s.pump()
  }
}

function coreContext(host: GroupHost) {
  return { messageId: host.broker.newMessageId(), nowMs: host.broker.clock.now() }
}

/** The op adding `m` to `to`'s stored queue under its own subscription's grant; `after` learns of the arrival. */
function storedAdd(host: GroupHost, to: SessionState, group: string, m: CoreMessage, after: (() => void)[]): StoreOp {
  const q = { ...host.router.queued(coreToMqtt(m), to.subs.get(group)!, false), group }
  to.stored = true
  after.push(() => to.storedArrived())
  return { op: 'add', destination: keys.queue(to.clientId), message: deliveryCopy(m, q) }
}

function toMemory(host: GroupHost, to: SessionState, group: string, m: MqttMessage): void {
  const sub = to.subs.get(group)
  if (sub) to.enqueue({ ...host.router.queued(m, sub, false), group })
}
