/**
 * Goal: issue 12's client-facing availability, on the COMPILED binary: (1) a broker that stops serving tells every
 * STOMP client why before the close (ERROR with `sfbroker-reason`: `shutdown` on SIGTERM, `not-primary` when the
 * lock is lost), and `sfbroker consume` on a failover URI logs that reason and moves on to the broker that serves
 * next; (2) `sfbroker consume --count N` takes exactly N from a deeper queue and leaves the rest; (3) `sfbroker
 * status` after a clean stop shows the message count as it was at the stop.
 * Method: `sfbroker run` processes from one compiled binary on a shared temp dir and free ports; raw STOMP clients
 * (src/protocol/stomp/testing/raw-client.ts) in this process; CLI commands as child processes. Every wait is an
 * `until` poll with a limit of tens of seconds; nothing asserts a duration.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, exitOf, runCli, tailFile, spawnLines, type LineChild } from './fixtures/broker-process.ts'
import { freePorts, stompConnected } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'
import { RawClient, frame } from '../src/protocol/stomp/testing/raw-client.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-avail-clients-')
let binary = ''
// No Bun and no node_modules on PATH: only what the compiled binary embeds.
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }
const raws: RawClient[] = []

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)

afterAll(() => {
  for (const r of raws) r.destroy()
  procs.cleanup()
})

interface Broker {
  proc: ChildProcess
  port: number
  log: () => string
}

let seq = 0
/** `sfbroker run --data <shared>` on `port`, its output in a log file. */
function broker(shared: string, port: number): Broker {
  const file = path.join(workDir, `broker-${port}-${++seq}.log`)
  const fd = fs.openSync(file, 'a')
  const proc = procs.spawn([binary, 'run', '--data', shared, '--connector', `stomp://127.0.0.1:${port}`], {
    cwd: workDir,
    env,
    stdio: ['ignore', fd, fd],
  })
  fs.closeSync(fd)
  return { proc, port, log: () => tailFile(file, 4000) }
}

/** A fresh shared dir with a primary on ports[0] (serving) and a replica on ports[1] (waiting for the lock). */
async function primaryAndReplica(name: string): Promise<{ shared: string; ports: number[]; a: Broker; b: Broker }> {
  const shared = path.join(workDir, name)
  fs.mkdirSync(shared)
  const ports = await freePorts(2)
  const a = broker(shared, ports[0])
  await until(
    () => stompConnected(ports[0]),
    () => `the primary on ${ports[0]} (log: ${a.log()})`,
    60_000,
  )
  const b = broker(shared, ports[1])
  await until(
    () => b.log().includes('-> replica'),
    () => `the second broker to be a replica (log: ${b.log()})`,
    60_000,
  )
  return { shared, ports, a, b }
}

/** A raw STOMP 1.2 client connected to `port`, subscribed (receipted) so its session is live. */
async function rawClient(port: number, destination: string): Promise<RawClient> {
  const c = await RawClient.connect(port)
  raws.push(c)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }))
  expect((await c.frame(0, 30_000)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  c.write(frame('SUBSCRIBE', { id: 's', destination, ack: 'client-individual', receipt: 'sub' }))
  await c.receipt('sub', 30_000)
  return c
}

/** Send one message with a receipt over a fresh raw connection. */
async function sendOne(port: number, destination: string, body: string): Promise<RawClient> {
  const c = await RawClient.connect(port)
  raws.push(c)
  c.write(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }))
  expect((await c.frame(0, 30_000)).command).toBe('CONNECTED')
  c.setVersion('1.2')
  c.write(frame('SEND', { destination, persistent: 'true', receipt: 'send' }, body))
  await c.receipt('send', 30_000)
  return c
}

/** A CLI command of the binary; stdout split into lines as they arrive, stderr kept. */
function cliChild(args: string[]): LineChild {
  return spawnLines(procs, [binary, ...args], { cwd: workDir, env })
}

const cli = (args: string[], timeoutMs = 120_000) =>
  runCli(procs, args, { command: [binary], cwd: workDir, env, timeoutMs })

/** A `sfbroker consume` on the failover URI of both ports, connected to ports[0]. */
async function failoverConsumer(ports: number[], destination: string): Promise<LineChild> {
  const url = `failover:(${ports.map((p) => `tcp://127.0.0.1:${p}`).join(',')})?randomize=false&initialReconnectDelay=100&maxReconnectDelay=1000&timeout=120000`
  const c = cliChild([
    'consume',
    '--url',
    url,
    '--destination',
    destination,
    '--ack',
    'individual',
    '--timeout',
    '120000',
    '--log-level',
    'info',
  ])
  await until(
    () => c.stderr().includes(`connected to tcp://127.0.0.1:${ports[0]}`),
    () => `the consumer to connect to ${ports[0]} (stderr: ${c.stderr()})`,
    60_000,
  )
  return c
}

describe('compiled sfbroker: clients are told when the broker stops serving', () => {
  test('SIGTERM of the primary: a raw client gets ERROR sfbroker-reason:shutdown before the close; sfbroker consume logs it and moves to the new primary', async () => {
    const { ports, a, b } = await primaryAndReplica('sigterm')
    const raw = await rawClient(ports[0], '/queue/avail-term')
    const consumer = await failoverConsumer(ports, 'queue://avail-term')

    a.proc.kill('SIGTERM')
    await raw.waitClosed(60_000)
    const err = raw.frames.at(-1)!
    expect(err.command).toBe('ERROR')
    expect(err.headers['sfbroker-reason']).toBe('shutdown')
    expect(err.headers.message).toContain('broker is shutting down')
    expect(await exitOf(a.proc, 60_000)).toBe(0)

    // The consumer logs the broker's reason, fails over to the replica that took over, and consumes there.
    await until(
      () => consumer.stderr().includes(`reconnected to tcp://127.0.0.1:${ports[1]}`),
      () => `the consumer to move to ${ports[1]} (stderr: ${consumer.stderr()}; replica log: ${b.log()})`,
      60_000,
    )
    expect(consumer.stderr()).toContain('sfbroker-reason: shutdown')
    expect(consumer.stderr()).toContain('broker is shutting down')
    await sendOne(ports[1], '/queue/avail-term', 'after the stop')
    await until(
      () => consumer.lines.includes('after the stop'),
      () => `the consumer to print the message sent to the new primary (stderr: ${consumer.stderr()})`,
      60_000,
    )
    consumer.proc.kill('SIGINT')
    await exitOf(consumer.proc, 30_000)
    b.proc.kill('SIGKILL')
  }, 240_000)

  test('lock file replaced under the primary: a raw client gets ERROR sfbroker-reason:not-primary before the close; sfbroker consume logs it and resumes where a broker serves', async () => {
    const { shared, ports, a, b } = await primaryAndReplica('lock-loss')
    const raw = await rawClient(ports[0], '/queue/avail-lost')
    const consumer = await failoverConsumer(ports, 'queue://avail-lost')

    // Replace <dir>/lock by a copy (same record, new inode): the primary's keep-alive sees a lock it does not hold.
    const lock = path.join(shared, 'lock')
    const copy = path.join(workDir, 'lock-copy')
    fs.copyFileSync(lock, copy)
    fs.rmSync(lock)
    fs.copyFileSync(copy, lock)

    await raw.waitClosed(60_000)
    const err = raw.frames.at(-1)!
    expect(err.command).toBe('ERROR')
    expect(err.headers['sfbroker-reason']).toBe('not-primary')
    expect(err.headers.message).toContain('broker is no longer primary')
    expect(err.headers.message).toContain('lock')

    await until(
      () => consumer.stderr().includes('reconnected to tcp://127.0.0.1:'),
      () => `the consumer to reconnect (stderr: ${consumer.stderr()}; logs: ${a.log()}\n${b.log()})`,
      60_000,
    )
    expect(consumer.stderr()).toContain('sfbroker-reason: not-primary')
    expect(consumer.stderr()).toContain('broker is no longer primary')
    // Whichever broker serves now (the old primary may win the new lock) gets a message the consumer then prints.
    const serving = await until(
      async () => ((await stompConnected(ports[1])) ? ports[1] : (await stompConnected(ports[0])) ? ports[0] : null),
      'a broker serving again',
      60_000,
    )
    await sendOne(serving, '/queue/avail-lost', 'after the loss')
    await until(
      () => consumer.lines.includes('after the loss'),
      () => `the consumer to print the message sent after the loss (stderr: ${consumer.stderr()})`,
      60_000,
    )
    consumer.proc.kill('SIGINT')
    await exitOf(consumer.proc, 30_000)
    a.proc.kill('SIGKILL')
    b.proc.kill('SIGKILL')
  }, 240_000)
})

describe('compiled sfbroker: consume and status', () => {
  test('sfbroker consume --count 1000 on a queue of 3000 prints exactly 1000 and leaves the other 2000', async () => {
    const shared = path.join(workDir, 'consume-count')
    fs.mkdirSync(shared)
    const [port] = await freePorts(1)
    const a = broker(shared, port)
    await until(
      () => stompConnected(port),
      () => `the broker on ${port} (log: ${a.log()})`,
      60_000,
    )
    const url = `tcp://127.0.0.1:${port}`
    const produced = await cli([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://exact',
      '--count',
      '3000',
      '--persistent',
      '--quiet',
      '--log-level',
      'warn',
    ])
    expect(produced.code).toBe(0)

    const first = await cli([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://exact',
      '--count',
      '1000',
      '--timeout',
      '30000',
      '--log-level',
      'warn',
    ])
    expect(first.code).toBe(0)
    const firstBodies = first.out.split('\n').filter((l) => l !== '')
    expect(firstBodies.length).toBe(1000)
    expect(new Set(firstBodies).size).toBe(1000)

    const browsed = await cli([
      'browse',
      '--url',
      url,
      '--destination',
      'queue://exact',
      '--quiet',
      '--timeout',
      '30000',
      '--log-level',
      'warn',
    ])
    expect(browsed.code).toBe(0)
    expect(browsed.out.trim()).toBe('2000')

    // The 2000 left are exactly the ones not printed: together the two runs printed every message once.
    const rest = await cli([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://exact',
      '--count',
      '2000',
      '--timeout',
      '30000',
      '--log-level',
      'warn',
    ])
    expect(rest.code).toBe(0)
    const restBodies = rest.out.split('\n').filter((l) => l !== '')
    expect(restBodies.length).toBe(2000)
    const all = new Set([...firstBodies, ...restBodies])
    expect(all.size).toBe(3000)
    a.proc.kill('SIGKILL')
  }, 240_000)

  test('sfbroker status after a clean SIGTERM shows the message count as it was at the stop', async () => {
    const shared = path.join(workDir, 'status-stop')
    fs.mkdirSync(shared)
    const [port] = await freePorts(1)
    const a = broker(shared, port)
    await until(
      () => stompConnected(port),
      () => `the broker on ${port} (log: ${a.log()})`,
      60_000,
    )
    const produced = await cli([
      'produce',
      '--url',
      `tcp://127.0.0.1:${port}`,
      '--destination',
      'queue://counted',
      '--count',
      '1234',
      '--persistent',
      '--quiet',
      '--log-level',
      'warn',
    ])
    expect(produced.code).toBe(0)
    // The last message, receipted just before the stop: the 2 s summary timer cannot have caught it.
    await sendOne(port, '/queue/counted', 'the last one')
    a.proc.kill('SIGTERM')
    expect(await exitOf(a.proc, 60_000)).toBe(0)

    const st = await cli(['status', shared, '--json'])
    const report = JSON.parse(st.out) as {
      primary: boolean
      store: { messages: number; destinations: { destination: string; count: number }[] } | null
    }
    expect(report.primary).toBe(false)
    expect(report.store?.messages).toBe(1235)
    expect(report.store?.destinations.find((d) => d.destination.includes('counted'))?.count).toBe(1235)
  }, 240_000)
})
