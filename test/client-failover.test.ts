/**
 * Goal: the issue's end-to-end promise. Three real sfbroker processes share one directory (one primary, two replicas
 * with closed ports); a producer and a consumer use `failover:(...)`; kill -9 of the primary mid-stream; both resume
 * on the new primary; no receipted message is lost; every message delivered more than once is marked redelivered on
 * its later deliveries (the producer's resends carry the same message-id, so the broker stores each message once).
 * Then the same through the CLI: `sfbroker produce` and `sfbroker consume` child processes across a kill.
 * Method: `bun src/main.ts run --data DIR --connector stomp://127.0.0.1:PORT`, free ephemeral ports, a temp shared
 * dir; every child is killed in afterAll; every wait bounded.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { connect } from '../src/client/index.ts'
import { FROM_SOURCE, TestProcesses, tailFile } from './fixtures/broker-process.ts'
import { freePort, tcpAccepts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

/** Whether the port accepts TCP (a refused connect answers at once, and a replica's port is closed). */
const listening = (port: number): Promise<boolean> => tcpAccepts(port, 10_000)

interface Broker {
  port: number
  proc: ChildProcess
  log: string
}

function startBroker(shared: string, port: number, logDir: string): Broker {
  const log = path.join(logDir, `broker-${port}.log`)
  const fd = fs.openSync(log, 'a')
  const proc = procs.spawn([...FROM_SOURCE, 'run', '--data', shared, '--connector', `stomp://127.0.0.1:${port}`], {
    stdio: ['ignore', fd, fd],
  })
  fs.closeSync(fd)
  return { port, proc, log }
}

/** Start three brokers on one shared dir: the first becomes primary, the other two replicas. */
async function cluster(): Promise<{ brokers: Broker[]; url: string; dir: string }> {
  const dir = procs.tempDir('sfb-client-failover-')
  const shared = path.join(dir, 'shared')
  fs.mkdirSync(shared)
  const ports = [await freePort(), await freePort(), await freePort()]
  const brokers = [startBroker(shared, ports[0], dir)]
  await until(() => listening(ports[0]), `the first broker on ${ports[0]} (log ${brokers[0].log})`, 60000)
  brokers.push(startBroker(shared, ports[1], dir), startBroker(shared, ports[2], dir))
  // Give the replicas time to start and reach their lock-wait loop (their ports stay closed).
  await new Promise((r) => setTimeout(r, 1500))
  const url = `failover:(${ports.map((p) => `tcp://127.0.0.1:${p}`).join(',')})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=1000&timeout=120000`
  return { brokers, url, dir }
}

const tail = (file: string): string => tailFile(file, 3000)

describe('failover client across a kill -9 of the sfbroker primary', () => {
  test('producer and consumer resume on the new primary; no receipted message lost; duplicates marked redelivered', async () => {
    const { brokers, url } = await cluster()
    const producer = await connect(url)
    const consumer = await connect(url)
    const resumed: string[] = []
    producer.on('resumed', (i) => resumed.push(`producer ${i.endpoint}`))
    consumer.on('resumed', (i) => resumed.push(`consumer ${i.endpoint}`))
    const deliveries = new Map<string, boolean[]>()
    try {
      const sub = consumer.subscribe(
        '/queue/failover',
        (m) => {
          const list = deliveries.get(m.text()) ?? []
          // The broker's own flag (not the client's duplicate check): the new primary marks what it recovered.
          list.push(m.brokerRedelivered)
          deliveries.set(m.text(), list)
          void m.ack()
        },
        { ack: 'client-individual', prefetch: 50 },
      )
      await sub.ready
      const total = 400
      const receipted = new Set<string>()
      const inFlight: Promise<void>[] = []
      for (let i = 0; i < total; i++) {
        // Kill the primary while sends are in flight and messages are being delivered and acked.
        if (i === 150) brokers[0].proc.kill('SIGKILL')
        const body = `msg-${i}`
        inFlight.push(producer.send('/queue/failover', body, { persistent: true }).then(() => void receipted.add(body)))
        if (inFlight.length >= 25) await Promise.all(inFlight.splice(0))
      }
      await Promise.all(inFlight)
      expect(receipted.size).toBe(total)
      try {
        await until(
          () => [...receipted].every((b) => deliveries.has(b)),
          'every receipted message to be delivered',
          60000,
        )
      } catch (e) {
        throw new Error(
          `${(e as Error).message}\n--- new primary logs:\n${tail(brokers[1].log)}\n${tail(brokers[2].log)}`,
        )
      }
      const missing = [...receipted].filter((b) => !deliveries.has(b))
      expect(missing).toEqual([])
      // A message delivered twice was delivered before the kill and not (durably) acked: later copies say so.
      const unmarked = [...deliveries].filter(([, flags]) => flags.slice(1).some((r) => !r)).map(([b]) => b)
      expect(unmarked).toEqual([])
      const newPrimary = [brokers[1], brokers[2]].map((b) => `tcp://127.0.0.1:${b.port}`)
      expect(resumed.length).toBe(2)
      for (const r of resumed) expect(newPrimary).toContain(r.split(' ')[1])
      expect(producer.stats.reconnects).toBe(1)
    } finally {
      await producer.close()
      await consumer.close()
      for (const b of brokers) b.proc.kill('SIGKILL')
    }
  }, 180000)

  test('sfbroker produce and consume round-trip N messages through a failover across a kill', async () => {
    const { brokers, url } = await cluster()
    const run = (args: string[]) => {
      const out: string[] = []
      const p = procs.spawn([...FROM_SOURCE, ...args, '--log-level', 'warn'])
      let buf = ''
      p.stdout!.on('data', (d) => (buf += String(d)))
      p.stderr!.on('data', () => undefined)
      const done = new Promise<number | null>((r) =>
        p.once('exit', (code) => (out.push(...buf.split('\n').filter((l) => l !== '')), r(code))),
      )
      return { p, out, done }
    }
    const total = 2000
    // No --count: it counts deliveries, and redeliveries after the kill would end it early. It stops when idle.
    const consumer = run([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://cli-failover',
      '--ack',
      'individual',
      '--timeout',
      '15000',
    ])
    const producer = run([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://cli-failover',
      '--count',
      String(total),
      '--window',
      '20',
      '--quiet',
    ])
    // Kill the primary mid-stream: once it has taken some of the load.
    await new Promise((r) => setTimeout(r, 1500))
    brokers[0].proc.kill('SIGKILL')
    const [pc, cc] = await Promise.all([producer.done, consumer.done])
    expect(pc).toBe(0)
    expect(producer.out.join('\n')).toContain(`produced ${total} message(s)`)
    expect(cc).toBe(0)
    const bodies = new Set(consumer.out)
    const missing = Array.from({ length: total }, (_, i) => `message ${i}`).filter((b) => !bodies.has(b))
    expect(missing).toEqual([])
    for (const b of brokers) b.proc.kill('SIGKILL')
  }, 180000)
})
