/**
 * The MQTT load generator: one MqttJob (subscribers connected and subscribed first, then one publisher, then the
 * subscribers' tally) driven through MQTT.js (the `mqtt` npm client, written by neither broker's authors), in its
 * own process so the broker and the generator each get a core. Prints one JSON line (MqttResult).
 *
 *   bun scripts/bench-lib/mqtt-worker.ts '<MqttJob as JSON>'
 *
 * Publishing: QoS 0 with at most `window` publishes whose write callback has not fired (MQTT.js queues QoS 0 into
 * its stream without back-pressure otherwise); QoS 1 with `window` 1 awaits each PUBACK (its latency is sampled),
 * with a larger window keeps that many PUBACKs outstanding. Subscribers count PUBLISHes; a persistent-session
 * subscriber (clean false) makes the broker store every QoS 1 message before it PUBACKs. Every wait is bounded by
 * timeoutMs; a refused CONNECT or a closed connection fails the job.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { latencySummary, type SideResult } from './load-worker.ts'
import { JobFailed, JobGate } from './worker-main.ts'

export interface MqttJob {
  /** mqtt://127.0.0.1:<port> */
  url: string
  topic: string
  /** Messages published. */
  count: number
  sizeBytes: number
  qos: 0 | 1
  /** Publishes outstanding at once (QoS 0: write callbacks; QoS 1: PUBACKs); 1 = each one awaited. */
  window: number
  /** Subscribing connections (each gets every message). */
  subscribers: number
  /** Subscriber sessions survive disconnects (MQTT clean session false): the broker stores QoS 1 messages. */
  persistentSubscribers: boolean
  /** 4 = MQTT 3.1.1, 5 = MQTT 5. */
  protocolVersion: 4 | 5
  timeoutMs: number
}

export interface MqttResult {
  complete: boolean
  error?: string
  publish?: SideResult
  /** Every subscriber's deliveries summed; seconds from the first publish to the last delivery. */
  subscribe?: SideResult
}

/** Most publishes outstanding a job may ask for: MQTT.js keeps each in memory until it completes. */
export const MQTT_WINDOW_MAX = 65_535
const now = (): number => performance.now()

async function connect(job: MqttJob, clientId: string, clean: boolean, gate: JobGate): Promise<MqttClient> {
  const client = mqtt.connect(job.url, {
    clientId,
    clean,
    protocolVersion: job.protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: Math.max(1000, job.timeoutMs),
    keepalive: 0,
  })
  let connected = false
  client.on('connect', () => {
    connected = true
    gate.wake()
  })
  client.on('error', (e) => gate.fail(new JobFailed(`${clientId}: ${e.message}`)))
  client.on('close', () => gate.fail(new JobFailed(`${clientId}: connection closed by ${job.url}`)))
  await gate.waitFor(() => connected)
  return client
}

/** Close without failing the gate (the 'close' listener is for unexpected closes). */
function close(client: MqttClient): void {
  client.removeAllListeners('close')
  client.end(true)
}

export async function runMqttJob(job: MqttJob): Promise<MqttResult> {
  if (!(job.window >= 1 && job.window <= MQTT_WINDOW_MAX))
    return { complete: false, error: `window ${job.window}: expected 1..${MQTT_WINDOW_MAX}` }
  const deadline = now() + job.timeoutMs
  const gate = new JobGate(deadline)
  const clients: MqttClient[] = []
  const result: MqttResult = { complete: false }
  try {
    const tag = `${process.pid}-${Date.now().toString(36)}`
    let delivered = 0
    let lastDelivery = 0
    for (let i = 0; i < job.subscribers; i++) {
      const c = await connect(job, `bench-sub-${tag}-${i}`, !job.persistentSubscribers, gate)
      clients.push(c)
      c.on('message', () => {
        delivered++
        lastDelivery = now()
        if (delivered >= job.count * job.subscribers) gate.wake()
      })
      let granted = false
      c.subscribe(job.topic, { qos: job.qos }, (err, grants) => {
        if (err || !grants || grants.some((g) => g.qos > 2))
          gate.fail(new JobFailed(`SUBSCRIBE ${job.topic} refused: ${err?.message ?? JSON.stringify(grants)}`))
        granted = true
        gate.wake()
      })
      await gate.waitFor(() => granted)
    }
    const pub = await connect(job, `bench-pub-${tag}`, true, gate)
    clients.push(pub)
    const body = Buffer.alloc(job.sizeBytes, 0x61)
    const latencies: number[] = []
    let sent = 0
    let done = 0
    const t0 = now()
    while (sent < job.count) {
      while (sent < job.count && sent - done < job.window) {
        const ts = now()
        sent++
        pub.publish(job.topic, body, { qos: job.qos }, (err) => {
          if (err) gate.fail(new JobFailed(`PUBLISH failed: ${err.message}`))
          if (job.window === 1) latencies.push(now() - ts)
          done++
          gate.wake()
        })
      }
      await gate.waitFor(() => sent - done < job.window || done >= job.count)
    }
    await gate.waitFor(() => done >= job.count)
    const pubSeconds = (now() - t0) / 1000
    const pubackMs = job.qos === 1 ? latencySummary(latencies) : undefined
    result.publish = {
      messages: done,
      seconds: pubSeconds,
      msgsPerSec: done / pubSeconds,
      ...(pubackMs ? { receiptMs: pubackMs } : {}),
    }
    if (job.subscribers > 0) {
      const want = job.count * job.subscribers
      try {
        await gate.waitFor(() => delivered >= want)
      } catch (e) {
        if (e instanceof JobFailed && e.message === 'timeout')
          throw new JobFailed(`timeout after ${delivered} of ${want} deliveries`)
        throw e
      }
      const subSeconds = (lastDelivery - t0) / 1000
      result.subscribe = { messages: delivered, seconds: subSeconds, msgsPerSec: delivered / subSeconds }
    }
    result.complete = true
  } catch (e) {
    result.error = (e as Error).message
  } finally {
    for (const c of clients) close(c)
  }
  return result
}

if (import.meta.main) {
  const arg = process.argv[2]
  if (!arg) {
    console.error("usage: bun scripts/bench-lib/mqtt-worker.ts '<MqttJob JSON>'")
    process.exit(2)
  }
  const job = JSON.parse(arg) as MqttJob
  // A hard stop in case some wait was not bounded by the job's deadline.
  setTimeout(() => {
    process.stdout.write(
      JSON.stringify({ complete: false, error: `job did not end within ${job.timeoutMs} ms` }) + '\n',
    )
    process.exit(1)
  }, job.timeoutMs + 1000).unref()
  const r = await runMqttJob(job)
  process.stdout.write(JSON.stringify(r) + '\n')
  process.exit(r.complete ? 0 : 1)
}
