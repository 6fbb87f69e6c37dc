/**
 * Durability through the STOMP connector over real processes: `sfbroker run` (bun src/main.ts) on a temp data
 * dir, python3-stomp clients put persistent messages on a queue and on a durable topic subscription (each SEND
 * receipted, i.e. durable), the broker is killed with SIGKILL and started again on the same dir, and every
 * receipted message must come back to the queue consumer and the durable subscriber. Ports are random in
 * 20000-60000 (retried on a clash); every child is killed in afterAll and the temp dir removed.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { TestProcesses, killed, startBroker, type BrokerProcess } from './fixtures/broker-process.ts'
import { runPython as runPy } from './fixtures/python-stomp.ts'
import { pickPort } from '../src/testing/net-probe.ts'

const procs = new TestProcesses()
afterAll(() => procs.cleanup())

/** Start `sfbroker run` and wait until it answers a STOMP CONNECT (bounded). */
function startNode(dataDir: string, port: number): Promise<BrokerProcess> {
  return startBroker(procs, { args: ['--data', dataDir, '--log-level', 'warn'], port, timeoutMs: 20_000 })
}

function runPython(
  port: number,
  scenario: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<Record<string, unknown>> {
  return runPy(procs, port, scenario, args, timeoutMs)
}

describe('STOMP durability across kill -9', () => {
  test('receipted persistent queue messages and a durable subscription survive kill -9 and restart', async () => {
    const dataDir = procs.tempDir('sfbroker-stomp-restart-')
    const port = await pickPort()
    const first = await startNode(dataDir, port)
    await runPython(port, 'durable-subscribe', ['/topic/restart', 'py-restart', 'sub-a'])
    await runPython(port, 'send', ['/queue/restart', '5'])
    await runPython(port, 'send', ['/topic/restart', '3'])
    await killed(first.child)

    const second = await startNode(dataDir, port)
    const dur = await runPython(port, 'durable-receive', ['/topic/restart', 'py-restart', 'sub-a', '3'])
    expect(dur.bodies).toEqual(['py-0', 'py-1', 'py-2'])
    const q = await runPython(port, 'drain', ['/queue/restart', '5'])
    expect(q.bodies).toEqual(['py-0', 'py-1', 'py-2', 'py-3', 'py-4'])
    expect(q.extra).toBe(null)
    await killed(second.child)
  }, 90_000)
})
