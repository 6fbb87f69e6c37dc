/**
 * Goal: issue 6's "Done when" for the shipped artefact: `sfbroker produce` and `sfbroker consume` from the COMPILED
 * binary round-trip N persistent messages through a `failover:(...)` URI across a kill -9 of the primary, with
 * the brokers themselves run from the same binary on one shared directory (the README's failover example).
 * Method: `bun build --compile` (the `npm run build` flags) into a temp dir; three `sfbroker run` processes on one
 * shared dir and free ephemeral ports (the first is primary, the other two replicas with closed ports); a consumer
 * and a producer child process on the failover URI; kill -9 of the primary once the consumer has printed part
 * of the messages; both must exit 0 and every produced body must have been printed (duplicates allowed: a message
 * delivered before the kill and not acked is delivered again). Every child is killed in afterAll; every wait is
 * bounded; no timing assertion.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { compiledBinary } from './fixtures/binary.ts'
import { TestProcesses, tailFile, spawnLines, type LineChild } from './fixtures/broker-process.ts'
import { freePort, tcpAccepts } from '../src/testing/net-probe.ts'
import { until } from '../src/testing/until.ts'

const procs = new TestProcesses()
const workDir = procs.tempDir('sfb-bin-failover-')
let binary = ''
// No Bun and no node_modules on PATH: only what the compiled binary embeds.
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir, NO_COLOR: '1' }

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)

afterAll(() => procs.cleanup())

/** Whether the port accepts TCP (no bound: a refused connect answers at once, and a replica's port is closed). */
const listening = (port: number): Promise<boolean> => tcpAccepts(port, 10_000)
const tail = (file: string): string => tailFile(file, 2000)

/** A client command from the binary; stdout split into lines as they arrive. */
function client(args: string[]): LineChild {
  return spawnLines(procs, [binary, ...args, '--log-level', 'warn'], { cwd: workDir, env })
}

describe('compiled sfbroker binary: produce and consume through a failover', () => {
  test('sfbroker produce/consume (compiled binary) round-trip N persistent messages across a kill -9 of the primary', async () => {
    const shared = path.join(workDir, 'shared')
    fs.mkdirSync(shared)
    const ports = [await freePort(), await freePort(), await freePort()]
    const logs = ports.map((p) => path.join(workDir, `broker-${p}.log`))
    const start = (i: number): ChildProcess => {
      const fd = fs.openSync(logs[i], 'a')
      const proc = procs.spawn([binary, 'run', '--data', shared, '--connector', `stomp://127.0.0.1:${ports[i]}`], {
        cwd: workDir,
        env,
        stdio: ['ignore', fd, fd],
      })
      fs.closeSync(fd)
      return proc
    }
    const primary = start(0)
    await until(() => listening(ports[0]), `the first broker on ${ports[0]} (log: ${tail(logs[0])})`, 60_000)
    const replicas = [start(1), start(2)]
    // The replicas must be waiting on the lock (ports closed), not serving.
    await new Promise((r) => setTimeout(r, 1500))
    expect(await listening(ports[1])).toBe(false)
    expect(await listening(ports[2])).toBe(false)

    // The README's failover example, with a quick first retry so the test does not wait on defaults.
    const url = `failover:(${ports.map((p) => `tcp://127.0.0.1:${p}`).join(',')})?randomize=false&initialReconnectDelay=50&maxReconnectDelay=1000&timeout=120000`
    const total = 1500
    // No --count on the consumer: it counts deliveries, and redeliveries after the kill would end it early.
    const consumer = client([
      'consume',
      '--url',
      url,
      '--destination',
      'queue://bin-failover',
      '--ack',
      'individual',
      '--prefetch',
      '10',
      '--timeout',
      '15000',
    ])
    const producer = client([
      'produce',
      '--url',
      url,
      '--destination',
      'queue://bin-failover',
      '--count',
      String(total),
      '--persistent',
      '--window',
      '10',
      '--quiet',
    ])
    // Kill -9 mid-stream: once the consumer has printed some messages, so both clients are live on the primary.
    await until(
      () => consumer.lines.length >= 100 || consumer.proc.exitCode !== null,
      `the consumer to print 100 messages (stderr: ${consumer.stderr()})`,
      90_000,
    )
    primary.kill('SIGKILL')
    const [pc, cc] = await Promise.all([producer.exit, consumer.exit])
    if (pc !== 0 || cc !== 0) {
      throw new Error(
        `produce exit ${pc}: ${producer.stderr()}\nconsume exit ${cc}: ${consumer.stderr()}\nreplica logs:\n${tail(logs[1])}\n${tail(logs[2])}`,
      )
    }
    expect(producer.lines.join('\n')).toContain(`produced ${total} message(s)`)
    const bodies = new Set(consumer.lines)
    const missing = Array.from({ length: total }, (_, i) => `message ${i}`).filter((b) => !bodies.has(b))
    expect(missing).toEqual([])
    // One of the replicas took over and served the rest.
    const served = await Promise.all([listening(ports[1]), listening(ports[2])])
    expect(served.filter(Boolean).length).toBe(1)
    for (const r of replicas) r.kill('SIGKILL')
  }, 240_000)
})
