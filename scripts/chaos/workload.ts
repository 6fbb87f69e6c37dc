/**
 * Workload and ledger of the chaos harness. Drives the brokers through OUR client library with the failover
 * transport, and records every fact the verdict needs:
 *  - queue producers: persistent SENDs with receipts to /queue/chaos.q (each receipt: id, time, broker port);
 *  - a topic producer to /topic/chaos.t, read by a durable subscriber (client-id + subscription name);
 *  - transactions of 3 persistent SENDs to /queue/chaos.tx, committed (or deliberately aborted one time in five);
 *    a commit the client reports in doubt (CLIENT_TX_IN_DOUBT) is counted, and must be all-or-nothing;
 *  - scheduled messages (AMQ_SCHEDULED_DELAY 200..3000 ms) to /queue/chaos.sched;
 *  - consumers with client-individual acks that ack at once with a receipt, recording every delivery
 *    (id, redelivered flag, whether an earlier delivery's ack had been receipted on the same connection).
 * Owns no verdict: report.ts turns the ledger into counters. The harness's own ids travel in a `chaos-id` header.
 */
import { connect, type ClientMessage, type StompClient } from '../../src/client/index.ts'
import { isBrokerError } from '../../src/lib/errors.ts'
import { SeededRandom } from '../../src/lib/random.ts'
import { sleep } from '../../src/testing/until.ts'

export type Stream = 'queue' | 'topic' | 'tx' | 'sched'

export interface Receipt {
  id: string
  stream: Stream
  /** When the RECEIPT arrived (ms epoch), and from which broker port. */
  at: number
  port: number | null
  /** Scheduled messages: the delay asked for and when the SEND was issued. */
  delayMs?: number
  sentAt?: number
}

export interface DeliveryRecord {
  count: number
  /** Deliveries of an already delivered id that did not carry redelivered:true. */
  unmarked: number
  /** Deliveries that came after an earlier delivery's ACK had been receipted on the same connection. */
  afterConfirmedAck: number
  confirmedAck: boolean
  firstAt: number
}

export interface TxRecord {
  ids: string[]
  outcome: 'committed' | 'aborted' | 'in-doubt' | 'failed'
  error?: string
}

export interface WorkloadOptions {
  ports: number[]
  seed: number
  /** Pause between SENDs of each producer loop (ms). */
  paceMs: number
  /** Body size in bytes of every message. */
  bodyBytes: number
  /** Client receipt timeout (ms). */
  timeoutMs: number
}

export class Ledger {
  readonly receipts = new Map<string, Receipt>()
  /** SENDs that rejected (timeout, broker error): whether the broker stored them is unknown. */
  readonly unconfirmed = new Map<string, string>()
  readonly deliveries: Record<Stream, Map<string, DeliveryRecord>> = {
    queue: new Map(),
    topic: new Map(),
    tx: new Map(),
    sched: new Map(),
  }
  readonly txs: TxRecord[] = []
  /** Scheduled messages delivered before their delay had passed since the SEND. */
  scheduledEarly = 0
  ackFailures = 0
  /** First few repeats that came after a receipted ack, and first few unmarked repeats: "stream id time". */
  readonly samples: { afterConfirmedAck: string[]; unmarked: string[] } = { afterConfirmedAck: [], unmarked: [] }
  lastDeliveryAt = 0
  sent: Record<Stream, number> = { queue: 0, topic: 0, tx: 0, sched: 0 }
}

function portOf(client: StompClient): number | null {
  const ep = client.endpoint
  if (!ep) return null
  const m = /:(\d+)$/.exec(ep)
  return m ? Number(m[1]) : null
}

export function failoverUri(ports: number[], rotate: number, timeoutMs: number): string {
  const list = ports.map((_, i) => ports[(i + rotate) % ports.length]!)
  // connectionTimeout bounds a connect to a SIGSTOPped broker (the kernel completes the TCP handshake for it).
  const eps = list.map((p) => `tcp://127.0.0.1:${p}`).join(',')
  return `failover:(${eps})?randomize=false&initialReconnectDelay=10&maxReconnectDelay=250&timeout=${timeoutMs}&nested.connectionTimeout=1500&warnAfterReconnectAttempts=0`
}

export class Workload {
  readonly ledger = new Ledger()
  private clients: StompClient[] = []
  private loops: Promise<void>[] = []
  private running = false
  private readonly rnd: SeededRandom
  private readonly pad: string

  constructor(private readonly o: WorkloadOptions) {
    this.rnd = new SeededRandom(o.seed ^ 0x5eed)
    this.pad = 'x'.repeat(Math.max(0, o.bodyBytes - 40))
  }

  private async client(rotate: number, clientId?: string): Promise<StompClient> {
    const c = await connect(failoverUri(this.o.ports, rotate, this.o.timeoutMs), {
      clientId,
      heartbeat: [1000, 1000],
      timeoutMs: this.o.timeoutMs,
      closeTimeoutMs: 1000,
    })
    this.clients.push(c)
    return c
  }

  /** Connect consumers first (the durable subscription must exist before the topic producer starts), then producers. */
  async start(): Promise<void> {
    this.running = true
    const consumer = await this.client(0)
    for (const [stream, dest] of [
      ['queue', '/queue/chaos.q'],
      ['tx', '/queue/chaos.tx'],
      ['sched', '/queue/chaos.sched'],
    ] as const) {
      const sub = consumer.subscribe(dest, (m) => this.onMessage(consumer, stream, m), { ack: 'client-individual' })
      await sub.ready
    }
    const durable = await this.client(1, 'chaos-durable')
    await durable.subscribe('/topic/chaos.t', (m) => this.onMessage(durable, 'topic', m), {
      ack: 'client-individual',
      durableName: 'chaos-sub',
    }).ready
    const p0 = await this.client(1)
    const p1 = await this.client(2)
    const p2 = await this.client(0)
    this.loops.push(this.sendLoop(p0, 'queue', '/queue/chaos.q', 'q0'))
    this.loops.push(this.sendLoop(p1, 'queue', '/queue/chaos.q', 'q1'))
    this.loops.push(this.sendLoop(p1, 'topic', '/topic/chaos.t', 't0'))
    this.loops.push(this.sendLoop(p2, 'sched', '/queue/chaos.sched', 's0'))
    this.loops.push(this.txLoop(p2))
  }

  private body(id: string): string {
    return `${id} ${this.pad}`
  }

  private async sendLoop(c: StompClient, stream: Stream, dest: string, tag: string): Promise<void> {
    const L = this.ledger
    let seq = 0
    const pace = stream === 'sched' ? this.o.paceMs * 4 : stream === 'topic' ? this.o.paceMs * 2 : this.o.paceMs
    while (this.running) {
      const id = `${tag}-${++seq}`
      const headers: Record<string, string> = { persistent: 'true', 'chaos-id': id }
      let delayMs: number | undefined
      if (stream === 'sched') {
        delayMs = this.rnd.int(200, 3000)
        headers.AMQ_SCHEDULED_DELAY = String(delayMs)
      }
      const sentAt = Date.now()
      L.sent[stream]++
      try {
        await c.send(dest, this.body(id), headers)
        L.receipts.set(id, { id, stream, at: Date.now(), port: portOf(c), delayMs, sentAt })
      } catch (e) {
        L.unconfirmed.set(id, isBrokerError(e) ? e.code : (e as Error).message)
        await sleep(50)
      }
      await sleep(pace)
    }
  }

  private async txLoop(c: StompClient): Promise<void> {
    const L = this.ledger
    let n = 0
    while (this.running) {
      n++
      const ids = [0, 1, 2].map((k) => `tx${n}-${k}`)
      const abort = this.rnd.next() < 0.2
      const rec: TxRecord = { ids, outcome: 'failed' }
      const tx = c.begin()
      L.sent.tx += ids.length
      try {
        await Promise.all(
          ids.map((id) => tx.send('/queue/chaos.tx', this.body(id), { persistent: 'true', 'chaos-id': id })),
        )
        if (abort) {
          await tx.abort()
          rec.outcome = 'aborted'
        } else {
          await tx.commit()
          rec.outcome = 'committed'
          const at = Date.now()
          for (const id of ids) L.receipts.set(id, { id, stream: 'tx', at, port: portOf(c) })
        }
      } catch (e) {
        rec.outcome = isBrokerError(e, 'CLIENT_TX_IN_DOUBT') ? 'in-doubt' : 'failed'
        rec.error = isBrokerError(e) ? e.code : (e as Error).message
        // The transaction may be half-sent on a live connection (e.g. one SEND timed out): abort what is left.
        await tx.abort().catch(() => undefined)
      }
      L.txs.push(rec)
      await sleep(this.o.paceMs * 6)
    }
  }

  private onMessage(c: StompClient, stream: Stream, m: ClientMessage): void {
    const L = this.ledger
    const id = m.headers['chaos-id'] ?? `?${m.messageId}`
    const now = Date.now()
    L.lastDeliveryAt = now
    const map = L.deliveries[stream]
    let d = map.get(id)
    if (!d) {
      d = { count: 0, unmarked: 0, afterConfirmedAck: 0, confirmedAck: false, firstAt: now }
      map.set(id, d)
    } else {
      const what = `${stream} ${id} ${new Date(now).toISOString()} redelivered=${m.redelivered} from ${c.endpoint ?? '?'}`
      if (!m.redelivered) {
        d.unmarked++
        if (L.samples.unmarked.length < 20) L.samples.unmarked.push(what)
      }
      if (d.confirmedAck) {
        d.afterConfirmedAck++
        if (L.samples.afterConfirmedAck.length < 20) L.samples.afterConfirmedAck.push(what)
      }
    }
    d.count++
    if (stream === 'sched') {
      const r = L.receipts.get(id)
      if (r?.sentAt !== undefined && r.delayMs !== undefined && d.count === 1 && now < r.sentAt + r.delayMs - 20)
        L.scheduledEarly++
    }
    const reconnects = c.stats.reconnects
    const rec = d
    m.ack({ receipt: true }).then(
      () => {
        // A stale ack (message of an older connection) is resolved without reaching the broker: only a receipt
        // on the same connection proves the broker processed it.
        // The client resolves pending acks when their connection drops (conn gone by then): require a live
        // connection, the same one that delivered the message.
        if (c.endpoint !== undefined && c.stats.reconnects === reconnects) rec.confirmedAck = true
      },
      () => {
        L.ackFailures++
      },
    )
  }

  /** Stop the producer loops (each finishes its SEND in flight, bounded by the client timeout). */
  async stopProducing(): Promise<void> {
    this.running = false
    await Promise.allSettled(this.loops)
    this.loops = []
  }

  /** Every receipted id of a stream delivered? */
  missing(): number {
    let n = 0
    for (const r of this.ledger.receipts.values()) if (!this.ledger.deliveries[r.stream].has(r.id)) n++
    return n
  }

  async close(): Promise<void> {
    this.running = false
    await Promise.allSettled(this.clients.map((c) => c.close()))
    this.clients = []
  }
}
