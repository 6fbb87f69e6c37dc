/**
 * The node part: one broker process (election → store → broker → scheduler → connectors) and its admin
 * endpoint. `startNode` is what `sfbroker run` calls.
 */
import type { BrokerConfig } from '../config/index.ts'
import { BrokerNode, EXIT } from './broker-node.ts'

export { BrokerNode, EXIT }
export type { NodeStatus } from './broker-node.ts'
export type { AdminAccess } from './admin-server.ts'

export interface NodeHandle {
  node: BrokerNode
  /** Stop in any state (starting, replica, activating, primary); a primary releases its lock promptly. */
  stop(reason?: string): Promise<void>
  /** Resolves with the exit code for the process: 0 after stop(), 75 lock lost with restartAllowed=false, 1 failure. */
  done: Promise<number>
}

export function startNode(config: BrokerConfig): NodeHandle {
  const node = new BrokerNode(config)
  const started = node.start()
  const done = started.then(
    () => node.done,
    async (err: Error) => {
      const { logger } = await import('../lib/log.ts')
      logger('node').error(`start failed: ${err.message}`)
      await node.stop('start failed').catch(() => undefined)
      return EXIT.failed
    },
  )
  return { node, stop: (reason) => node.stop(reason), done }
}
