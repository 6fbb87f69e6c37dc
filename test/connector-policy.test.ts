/**
 * Goal: settings a user writes in ActiveMQ XML reach real sockets. A connector URI with
 * `transport.connectAttemptTimeout` closes a socket that never sends CONNECT; `transport.defaultHeartBeat` is
 * applied to a CONNECT without a heart-beat header (STOMP 1.0) and, with `transport.hbGracePeriodMultiplier`,
 * closes that client when it goes silent; a `<policyEntry queue="small" memoryLimit=…>` blocks a non-persistent
 * producer on that queue only, until a consumer drains it.
 * Method: loadConfig on an XML file in a temp dir; the real Broker + StompServer in process (broker-harness) built
 * from the loaded connector and policy; raw 127.0.0.1 sockets. Bounded counts and generous waits; the only
 * assertions on time are "eventually closed" / "not yet receipted", never a speed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { loadConfig } from '../src/config/index.ts'
import { startBroker, type Harness } from '../src/protocol/stomp/testing/broker-harness.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'
import { makeTempDir } from '../src/testing/temp-dir.ts'

const scratch = makeTempDir('sfbroker-connector-policy-')
const dir = scratch.path
const cleanups: Array<() => Promise<void> | void> = []
afterAll(async () => {
  for (const f of cleanups.reverse()) await f()
  scratch.remove()
})

const SMALL_LIMIT = 256 * 1024
const BODY = 64 * 1024
const COUNT = 16 // 1 MiB: four times the small queue's limit, well under the 64 MiB default

const XML = `<broker xmlns="http://activemq.apache.org/schema/core" persistent="false">
  <destinationPolicy>
    <policyMap>
      <policyEntries>
        <policyEntry queue="small" producerFlowControl="true" memoryLimit="256 kb"/>
      </policyEntries>
    </policyMap>
  </destinationPolicy>
  <transportConnectors>
    <transportConnector name="stomp" uri="stomp://127.0.0.1:0?transport.connectAttemptTimeout=300&amp;transport.defaultHeartBeat=400,0&amp;transport.hbGracePeriodMultiplier=2"/>
  </transportConnectors>
</broker>
`

async function start(): Promise<Harness> {
  const file = path.join(dir, 'activemq.xml')
  fs.writeFileSync(file, XML)
  const cfg = loadConfig({ cwd: dir, file })
  expect(cfg.connectors[0]).toMatchObject({
    connectAttemptTimeout: 300,
    defaultHeartBeat: '400,0',
    hbGracePeriodMultiplier: 2,
  })
  const h = await startBroker({
    connector: cfg.connectors[0],
    config: (c) => ({ ...c, destinationPolicy: cfg.destinationPolicy }),
  })
  cleanups.push(() => h.stop())
  return h
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port)
  cleanups.push(() => c.destroy())
  return c
}

async function connected(port: number): Promise<RawClient> {
  const c = await client(port)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }))
  expect((await c.frame(0)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  return c
}

describe('connector options and destination policy from XML over real sockets', () => {
  let h: Harness
  test('a socket that sends no CONNECT within transport.connectAttemptTimeout is closed; a prompt one is served', async () => {
    h = await start()
    const silent = await client(h.port)
    const prompt = await connected(h.port)
    await silent.waitClosed(10_000)
    expect(silent.frames.every((f) => f.command === 'ERROR')).toBe(true)
    prompt.write(frame('SEND', { destination: '/queue/ping', receipt: 'r1' }, 'x'))
    expect((await prompt.receipt('r1')).headers['receipt-id']).toBe('r1')
  })

  test('a STOMP 1.0 CONNECT without heart-beat gets transport.defaultHeartBeat, and silence past the grace closes it', async () => {
    const c = await client(h.port)
    c.write(frame('CONNECT', { login: 'guest' }))
    const f = await c.frame(0)
    expect(f.command).toBe('CONNECTED')
    // The server sends nothing (cy=0) and expects a beat every 400 ms, closing after 400 × 2 of silence.
    expect(f.headers['heart-beat']).toBe('0,400')
    await c.waitClosed(10_000)
  })

  test('a policy memoryLimit blocks a non-persistent producer on that queue only, until a consumer drains it', async () => {
    const producer = await connected(h.port)
    const body = 's'.repeat(BODY)
    let burst = ''
    for (let i = 0; i < COUNT; i++)
      burst += frame(
        'SEND',
        { destination: '/queue/small', ...(i === COUNT - 1 ? { receipt: 'last-small' } : {}) },
        body,
      )
    producer.write(burst)
    // The same load on a queue without an entry (64 MiB default) is accepted in full.
    const other = await connected(h.port)
    let big = ''
    for (let i = 0; i < COUNT; i++)
      big += frame('SEND', { destination: '/queue/big', ...(i === COUNT - 1 ? { receipt: 'last-big' } : {}) }, body)
    other.write(big)
    await other.receipt('last-big', 10_000)
    const depth = (d: string) => h.broker.metrics().destinations.find((m) => m.destination === d)?.depth ?? 0
    expect(depth('/queue/big')).toBe(COUNT)
    // The small queue holds at most its limit (plus the one message that crossed it); its producer waits.
    await producer.waitFor(() => depth('/queue/small') >= SMALL_LIMIT / BODY - 1, 10_000, 'the small queue to fill')
    expect(depth('/queue/small')).toBeLessThanOrEqual(SMALL_LIMIT / BODY + 1)
    expect(producer.frames.some((fr) => fr.command === 'RECEIPT')).toBe(false)
    // A consumer drains it: the producer resumes and its last RECEIPT arrives.
    const consumer = await connected(h.port)
    consumer.write(frame('SUBSCRIBE', { id: 's', destination: '/queue/small', ack: 'auto' }))
    await producer.receipt('last-small', 20_000)
    await consumer.waitFor(
      () => consumer.frames.filter((fr) => fr.command === 'MESSAGE').length === COUNT,
      20_000,
      'every small message consumed',
    )
  })
})
