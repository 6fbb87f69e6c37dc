/**
 * Goal: a store failure gives up the primary role only for the epoch the node still serves. A store of an older
 * epoch that fails later (a hung share resuming after the step-down) is expected: logged at info, never at error,
 * and not reported, so it cannot depose the node's current term.
 * Method: one BrokerNode in this process on a temp shared dir (real election, connector on port 0); its
 * storeFailed() is called as the stores' onFatalError would call it. Waits are `until` polls with generous limits.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { defaultConfig } from '../config/index.ts'
import { until } from '../testing/until.ts'
import { BrokerNode } from './broker-node.ts'
import { configureLogging } from '../lib/log.ts'
import { tempDirs } from '../testing/temp-dir.ts'

// The assertions read log lines: bun runs every test file in one process, and other files silence logging.
beforeAll(() => configureLogging('info', 'pretty'))

const scratchDir = tempDirs('sfb-node-')

function node(): BrokerNode {
  const dir = scratchDir()
  const base = defaultConfig(dir)
  const connectors = base.connectors.map((c) => ({ ...c, host: '127.0.0.1', port: 0, uri: 'stomp://127.0.0.1:0' }))
  return new BrokerNode({ ...base, connectors })
}

describe('BrokerNode storeFailed', () => {
  test('BrokerNode ignores (info) a failure of a store of an epoch it does not serve, and steps down for its own', async () => {
    const n = node()
    const stderr = spyOn(process.stderr, 'write')
    try {
      // Not started: serves no epoch at all.
      expect(n.storeFailed(1, new Error('EIO: write'))).toBe(false)
      await n.start()
      await until(
        () => n.status().role === 'primary',
        () => `the node to be primary (role ${n.status().role})`,
        30_000,
      )
      const epoch = n.status().epoch!
      expect(n.storeFailed(epoch - 1, new Error('ENOTCONN: late write of an older term'))).toBe(false)
      expect(n.status().role).toBe('primary')
      const logged = stderr.mock.calls.map((c) => String(c[0])).join('')
      expect(logged).toContain(`store of epoch ${epoch - 1} failed after this node stopped serving it`)
      expect(logged).not.toContain('store failure, giving up the primary role')

      expect(n.storeFailed(epoch, new Error('EIO: journal write'))).toBe(true)
      await until(
        () => n.status().role !== 'primary' || n.status().epoch !== epoch,
        'the node to give up its epoch',
        30_000,
      )
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toContain(
        'store failure, giving up the primary role: EIO: journal write',
      )
    } finally {
      stderr.mockRestore()
      await n.stop('test done')
    }
  }, 120_000)
})
