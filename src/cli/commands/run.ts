/**
 * `sfbroker run`: load the config (file + flags + defaults), log it, start one broker node (primary if it takes
 * the lock on the shared directory, replica otherwise) and run until SIGINT/SIGTERM or a fatal condition. The
 * node decides the exit code (0 after a clean stop, 75 when the lock is lost and restartAllowed=false, 1 on
 * failure). A second signal during shutdown exits at once with 1: the operator asked twice.
 */
import fs from 'node:fs'
import type { CAC } from 'cac'
import type { BrokerConfig } from '../../config/index.ts'
import { BrokerError } from '../../lib/errors.ts'
import { loadConfig } from '../../config/index.ts'
import { logger } from '../../lib/log.ts'
import { EXIT, stringFlag, stringListFlag, type CliContext } from '../shared.ts'

/** One line naming everything an operator checks first after a start. */
export function describeConfig(c: BrokerConfig): string {
  const store = c.persistent
    ? `${c.persistence.adapter} store in ${c.persistence.directory}`
    : 'no store (persistent=false)'
  const lock = c.lock.useLock
    ? `${c.lock.type} lock on ${c.persistence.directory}/lock, keep-alive ${c.lock.lockKeepAlivePeriod} ms`
    : 'no lock (useLock=false)'
  const listeners = c.connectors.map((k) => `${k.name}=${k.host}:${k.port}`).join(', ')
  const admin = c.admin ? `, admin ${c.admin.host}:${c.admin.port}` : ''
  const scheduler = c.schedulerSupport ? `, scheduler in ${c.schedulerDirectory}` : ''
  return `config from ${c.source}: broker ${c.brokerName}, ${store}, ${lock}, connectors ${listeners}${admin}${scheduler}`
}

/** What runNode needs of a started node (src/node/index.ts NodeHandle). */
export interface NodeHandleLike {
  stop(reason?: string): Promise<void>
  done: Promise<number>
}

/** What runNode needs of the process: signal listeners and a way out. */
export interface SignalTarget {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
  exit(code: number): void
}

/**
 * Start the node and wait for it: the first SIGINT/SIGTERM asks it to stop (it releases the lock and resolves
 * `done` with 0), a second one exits at once with 1. Resolves with the node's exit code.
 */
export async function runNode(
  config: BrokerConfig,
  start: (c: BrokerConfig) => NodeHandleLike,
  proc: SignalTarget = process,
): Promise<number> {
  const log = logger('run')
  const node = start(config)
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++
    if (signals > 1) {
      log.warn(`${signal} again during shutdown: exiting now`)
      proc.exit(EXIT.failed)
      return
    }
    log.info(`${signal}: stopping`)
    node.stop(signal).catch((e: Error) => log.error(`stop failed: ${e.message}`))
  }
  proc.on('SIGINT', onSignal)
  proc.on('SIGTERM', onSignal)
  try {
    return await node.done
  } finally {
    proc.off('SIGINT', onSignal)
    proc.off('SIGTERM', onSignal)
  }
}

/**
 * Refuse, before any node starts, a store or scheduler directory that exists as something other than a directory
 * (the node would fail later with a bare EEXIST from mkdir); a missing one is created by the store.
 */
export function checkDirectories(c: BrokerConfig): void {
  const dirs: Array<[string, string | undefined]> = [
    ['store directory', c.persistent || c.lock.useLock ? c.persistence.directory : undefined],
    ['schedulerDirectory', c.schedulerSupport ? c.schedulerDirectory : undefined],
  ]
  for (const [what, dir] of dirs) {
    if (dir === undefined) continue
    const st = fs.statSync(dir, { throwIfNoEntry: false })
    if (st && !st.isDirectory()) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${what} (--data or the config's directory): ${JSON.stringify(dir)} is not a directory, expected a directory (or nothing there yet)`,
      )
    }
  }
}

export function register(cli: CAC, _ctx: CliContext): void {
  cli
    .command('run', 'Run a broker node: primary while it holds the lock on the shared directory, replica otherwise')
    .option('--config <file>', 'Config file: ActiveMQ-style XML (.xml) or JSON (.json); none = embedded default')
    .option(
      '--data <dir>',
      'Data directory (default ./data); also the shared store directory unless the config names one',
    )
    .option(
      '--connector <uri>',
      'STOMP listener, e.g. stomp://0.0.0.0:61613 (repeatable; replaces configured connectors)',
      { type: [String] },
    )
    .option('--broker-name <name>', 'Broker name (default localhost)')
    .option('--admin <host:port>', 'Serve the admin endpoint (health, status, metrics) on host:port')
    .option('--admin-writable', 'Let the admin console change state (send, purge, move, delete, close); off by default')
    .option(
      '--lock-type <type>',
      'Lock call: flock (default) or fcntl (for filesystems whose flock is not cluster-aware)',
    )
    .example('  $ sfbroker run                                         # 127.0.0.1:61613, data in ./data')
    .example('  $ sfbroker run --config examples/activemq.xml')
    .example('  $ sfbroker run --data /mnt/shared/broker --connector stomp://0.0.0.0:61613 --admin 127.0.0.1:8161')
    .example('  $ sfbroker run --config broker.json --log-format json  # JSON logs for a log shipper')
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const config = loadConfig({
        file: stringFlag(opts.config, 'config'),
        overrides: {
          data: stringFlag(opts.data, 'data'),
          connectors: stringListFlag(opts.connector, 'connector'),
          brokerName: stringFlag(opts.brokerName, 'broker-name'),
          admin: stringFlag(opts.admin, 'admin'),
          adminWritable: opts.adminWritable === true,
          lockType: stringFlag(opts.lockType, 'lock-type'),
        },
      })
      checkDirectories(config)
      const log = logger('run')
      log.info(describeConfig(config))
      log.debug('resolved config', { config })
      // Imported here, not at the top: `--help` and the other commands need not load the node, storage and the
      // runtime-specific lock binding.
      const { startNode } = await import('../../node/index.ts')
      return runNode(config, startNode)
    })
}
