/**
 * Goal: `sfbroker run`'s process glue: the first SIGINT/SIGTERM stops the node, the node's exit code becomes
 * the command's, a second signal exits at once with 1, and no signal listener outlives the command.
 * Method: runNode with a fake node handle and an EventEmitter standing in for the process.
 */
import { describe, expect, test } from 'bun:test'
import { EventEmitter } from 'node:events'
import { defaultConfig } from '../../config/index.ts'
import { configureLogging } from '../../lib/log.ts'
import { describeConfig, runNode, type NodeHandleLike, type SignalTarget } from './run.ts'

configureLogging('silent', 'pretty')

class FakeProcess extends EventEmitter {
  exits: number[] = []
  exit(code: number): void {
    this.exits.push(code)
  }
}

function fakeNode(): NodeHandleLike & { stops: string[]; finish(code: number): void } {
  let finish!: (code: number) => void
  const done = new Promise<number>((resolve) => (finish = resolve))
  const stops: string[] = []
  return {
    stops,
    done,
    finish,
    async stop(reason?: string) {
      stops.push(reason ?? '')
    },
  }
}

describe('runNode', () => {
  test('runNode stops the node on SIGTERM and returns its exit code', async () => {
    const proc = new FakeProcess()
    const node = fakeNode()
    const config = defaultConfig('/tmp')
    let started: unknown
    const result = runNode(config, (c) => ((started = c), node), proc as unknown as SignalTarget)
    expect(started).toBe(config)
    expect(proc.listenerCount('SIGTERM')).toBe(1)
    proc.emit('SIGTERM', 'SIGTERM')
    expect(node.stops).toEqual(['SIGTERM'])
    node.finish(0)
    expect(await result).toBe(0)
    expect(proc.listenerCount('SIGTERM')).toBe(0)
    expect(proc.listenerCount('SIGINT')).toBe(0)
    expect(proc.exits).toEqual([])
  })

  test('runNode exits with 1 on a second signal during shutdown', async () => {
    const proc = new FakeProcess()
    const node = fakeNode()
    const result = runNode(defaultConfig('/tmp'), () => node, proc as unknown as SignalTarget)
    proc.emit('SIGINT', 'SIGINT')
    proc.emit('SIGINT', 'SIGINT')
    expect(node.stops).toEqual(['SIGINT'])
    expect(proc.exits).toEqual([1])
    node.finish(1)
    expect(await result).toBe(1)
  })

  test('runNode passes through a lock-lost exit code without any signal', async () => {
    const proc = new FakeProcess()
    const node = fakeNode()
    const result = runNode(defaultConfig('/tmp'), () => node, proc as unknown as SignalTarget)
    node.finish(75)
    expect(await result).toBe(75)
    expect(node.stops).toEqual([])
  })

  test('describeConfig names store, lock and connectors in one line', () => {
    const line = describeConfig(defaultConfig('/srv'))
    expect(line).not.toContain('\n')
    expect(line).toContain('kahaDB store in /srv/data')
    expect(line).toContain('flock lock on /srv/data/lock')
    expect(line).toContain('stomp=127.0.0.1:61613')
  })
})
