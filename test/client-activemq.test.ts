/**
 * Goal: the client and the client CLI work against a real broker other than ours, Apache ActiveMQ 5.17, including
 * its shared file system master/slave failover. Method: private ActiveMQ instances (test/fixtures/activemq.ts) with
 * only a STOMP connector on a free 127.0.0.1 port; the CLI runs in-process through runProgram. Skipped, with the
 * reason, when ActiveMQ or java is not installed.
 * Note: ActiveMQ strips a SEND's message-id, so resends after a failover can be stored twice there; the failover
 * test asserts only that no receipted message is lost.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import * as fs from 'node:fs'
import { freePort } from '../src/testing/net-probe.ts'
import * as path from 'node:path'
import { connect, type StompClient } from '../src/client/index.ts'
import { runProgram } from '../src/cli/program.ts'
import { isBrokerError } from '../src/lib/errors.ts'
import { activemqUnavailable, startActiveMQ, waitForPort, type ActiveMQInstance } from './fixtures/activemq.ts'
import { makeTempDir, type TempDir } from '../src/testing/temp-dir.ts'

const skip = activemqUnavailable()
if (skip) console.warn(`client-activemq tests skipped: ${skip}`)

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runProgram(['bun', 'sfbroker', ...args, '--log-level', 'warn'], {
    version: 'test',
    out: (t) => out.push(t),
    err: (t) => err.push(t),
  })
  return { code, out, err }
}

describe.skipIf(skip !== undefined)('client against ActiveMQ 5.17', () => {
  let amq: ActiveMQInstance
  let port = 0
  let dataDir: TempDir | undefined
  const clients: StompClient[] = []

  beforeAll(async () => {
    dataDir = makeTempDir('sfb-amq-data-')
    port = await freePort()
    amq = await startActiveMQ({ stompPort: port, dataDir: dataDir.path })
  }, 120000)

  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined)
    await amq?.stop()
    dataDir?.remove()
  }, 30000)

  test('client sends with receipts, consumes with individual acks, and sees redelivered after a close', async () => {
    const c = await connect(`failover:(tcp://127.0.0.1:${port})`, { clientId: 'amq-1' })
    clients.push(c)
    expect(c.version).toBe('1.2')
    for (let i = 0; i < 5; i++) await c.send('queue://t1', `m${i}`, { persistent: true, kind: i % 2 ? 'odd' : 'even' })
    const sub = c.subscribe('/queue/t1', { ack: 'client-individual', prefetch: 10 })
    const got: string[] = []
    for (let i = 0; i < 5; i++) {
      const m = await sub.receive(10000)
      if (!m) throw new Error('missing message')
      got.push(m.text())
      if (i < 3) await m.ack({ receipt: true })
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4'])
    await sub.unsubscribe()
    const sub2 = c.subscribe('/queue/t1', { ack: 'client-individual' })
    const again: [string, boolean][] = []
    for (let i = 0; i < 2; i++) {
      const m = await sub2.receive(10000)
      if (!m) throw new Error('missing redelivery')
      again.push([m.text(), m.redelivered])
      await m.ack({ receipt: true })
    }
    expect(again).toEqual([
      ['m3', true],
      ['m4', true],
    ])
    await sub2.unsubscribe()
  }, 30000)

  test('client transactions commit and abort on ActiveMQ', async () => {
    const c = await connect(`tcp://127.0.0.1:${port}`)
    clients.push(c)
    const tx = c.begin()
    await tx.send('/queue/t2', 'committed')
    await tx.commit()
    const tx2 = c.begin()
    await tx2.send('/queue/t2', 'aborted')
    await tx2.abort()
    const sub = c.subscribe('/queue/t2', { ack: 'auto' })
    const first = await sub.receive(10000)
    expect(first?.text()).toBe('committed')
    expect(await sub.receive(500)).toBeUndefined()
    await sub.unsubscribe()
  }, 30000)

  test('client selectors and queue browsing work on ActiveMQ', async () => {
    const c = await connect(`tcp://127.0.0.1:${port}`)
    clients.push(c)
    for (let i = 0; i < 4; i++) await c.send('/queue/t3', `s${i}`, { color: i % 2 ? 'red' : 'blue' })
    const browser = c.subscribe('/queue/t3', { browser: true })
    const seen: string[] = []
    for await (const m of browser) seen.push(m.text())
    expect(seen).toEqual(['s0', 's1', 's2', 's3'])
    const sub = c.subscribe('/queue/t3', { selector: "color = 'red'" })
    const red = [await sub.receive(10000), await sub.receive(10000)].map((m) => m?.text())
    expect(red).toEqual(['s1', 's3'])
    await sub.unsubscribe()
  }, 30000)

  test('client rejects a destination without /queue/ or /topic/ with CLIENT_DESTINATION_INVALID', async () => {
    const c = await connect(`failover:(tcp://127.0.0.1:${port})?initialReconnectDelay=10`)
    clients.push(c)
    let err: unknown
    try {
      await c.send('bogus', 'x')
    } catch (e) {
      err = e
    }
    expect(isBrokerError(err, 'CLIENT_DESTINATION_INVALID')).toBe(true)
  })

  test('sfbroker produce, browse, consume, purge and bench round-trip through ActiveMQ', async () => {
    const url = `failover:(tcp://127.0.0.1:${port})`
    const p = await cli([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://cli',
      '--count',
      '20',
      '--quiet',
      '--header',
      'app=test',
      '--priority',
      '5',
      '--ttl',
      '600000',
    ])
    expect(p.code).toBe(0)
    expect(p.out.join('\n')).toContain('produced 20 message(s) to /queue/cli')
    const b = await cli(['browse', '--url', url, '--destination', 'queue://cli', '--quiet'])
    expect(b.code).toBe(0)
    expect(b.out).toEqual(['20'])
    const c = await cli([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://cli',
      '--count',
      '10',
      '--ack',
      'individual',
      '--timeout',
      '10000',
    ])
    expect(c.code).toBe(0)
    expect(c.out).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i}`))
    const t = await cli([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://cli',
      '--count',
      '6',
      '--transaction-batch',
      '4',
      '--quiet',
    ])
    expect(t.code).toBe(0)
    const u = await cli(['purge', '--url', url, '--destination', 'queue://cli', '--timeout', '1500'])
    expect(u.code).toBe(0)
    expect(u.out).toEqual(['purged 16 message(s) from /queue/cli'])
    const bench = await cli([
      'bench',
      '--url',
      url,
      '--producers',
      '2',
      '--consumers',
      '2',
      '--count',
      '400',
      '--size',
      '256',
      '--json',
      '--timeout',
      '20000',
    ])
    expect(bench.code).toBe(0)
    const r = JSON.parse(bench.out[0])
    expect(r.produced.messages).toBe(400)
    expect(r.consumed.messages).toBe(400)
    expect(r.consumed.endToEndLatency.p99Ms).toBeGreaterThan(0)
    expect(r.complete).toBe(true)
  }, 90000)

  test('sfbroker client commands exit 2 on bad flags', async () => {
    expect((await cli(['produce', '--url', 'failover:(tcp://a:1)?bogus=1'])).code).toBe(2)
    expect((await cli(['consume', '--ack', 'sometimes'])).code).toBe(2)
    expect((await cli(['consume', '--durable', 'd', '--destination', 'topic://x'])).code).toBe(2)
    expect((await cli(['produce', '--destination', 'nowhere'])).code).toBe(2)
    expect((await cli(['bench', '--receipts', 'some'])).code).toBe(2)
    expect((await cli(['browse', '--destination', 'topic://x'])).code).toBe(2)
    expect((await cli(['produce', '--message', 'a', '--file', 'b'])).code).toBe(2)
  })
})

describe.skipIf(skip !== undefined)('failover client across an ActiveMQ shared-file master/slave takeover', () => {
  const instances: ActiveMQInstance[] = []
  let dataDir: TempDir | undefined
  afterAll(async () => {
    for (const i of instances) await i.stop().catch(() => undefined)
    dataDir?.remove()
  }, 60000)

  test('producer and consumer resume on the slave after kill -9 of the master; no receipted message lost', async () => {
    const shared = makeTempDir('sfb-amq-shared-')
    dataDir = shared
    const [pa, pb] = [await freePort(), await freePort()]
    const master = await startActiveMQ({
      stompPort: pa,
      dataDir: shared.path,
      lockAcquireSleepInterval: 500,
      brokerName: 'a',
    })
    instances.push(master)
    const slave = await startActiveMQ({
      stompPort: pb,
      dataDir: shared.path,
      lockAcquireSleepInterval: 500,
      brokerName: 'b',
      waitForPort: false,
    })
    instances.push(slave)
    const url = `failover:(tcp://127.0.0.1:${pa},tcp://127.0.0.1:${pb})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=1000&timeout=120000`
    const producer = await connect(url)
    const consumer = await connect(url)
    const events: string[] = []
    producer.on('resumed', (i) => events.push(`producer resumed ${i.endpoint}`))
    consumer.on('resumed', (i) => events.push(`consumer resumed ${i.endpoint}`))
    try {
      const receipted = new Set<string>()
      const received: string[] = []
      const sub = consumer.subscribe(
        '/queue/ha',
        (m) => {
          received.push(m.text())
          void m.ack()
        },
        { ack: 'client-individual' },
      )
      await sub.ready
      const total = 300
      let killed = false
      const sends: Promise<void>[] = []
      for (let i = 0; i < total; i++) {
        if (i === 100) {
          await Promise.all(sends.splice(0))
          master.kill()
          killed = true
        }
        const body = `ha-${i}`
        sends.push(producer.send('/queue/ha', body, { persistent: true }).then(() => void receipted.add(body)))
        if (sends.length >= 20) await Promise.all(sends.splice(0))
      }
      await Promise.all(sends)
      expect(killed).toBe(true)
      expect(receipted.size).toBe(total)
      const end = Date.now() + 60000
      while ([...receipted].some((b) => !received.includes(b)) && Date.now() < end)
        await new Promise((r) => setTimeout(r, 200))
      const missing = [...receipted].filter((b) => !received.includes(b))
      expect(missing).toEqual([])
      expect(events).toContain(`producer resumed tcp://127.0.0.1:${pb}`)
      expect(events).toContain(`consumer resumed tcp://127.0.0.1:${pb}`)
      await waitForPort(pb, 1000)
    } finally {
      await producer.close()
      await consumer.close()
    }
  }, 240000)
})
