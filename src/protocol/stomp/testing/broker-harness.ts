/**
 * Test-only: the real Broker (src/broker) behind a real StompServer on an ephemeral 127.0.0.1 port, with a
 * MemoryStore or a real adapter in a directory. Used by test/stomp-*.test.ts.
 */
import { defaultConfig } from '../../../config/index.ts'
import type { AdapterKind, BrokerConfig, ConnectorConfig } from '../../../config/types.ts'
import type { BrokerCore } from '../../../broker/types.ts'
import type { Authorizer } from '../../../security/index.ts'
import type { PersistenceAdapter } from '../../../storage/types.ts'
import { MemoryStore } from '../../../testing/memory-store.ts'
import { StompServer, type StompServerOptions } from '../server.ts'

export interface Harness {
  port: number
  broker: BrokerCore
  server: StompServer
  store: PersistenceAdapter
  config: BrokerConfig
  /** Close server, broker, store (in the node's order). Idempotent. */
  stop(): Promise<void>
}

export interface HarnessOptions {
  /** Real adapter in `directory`; default: MemoryStore. */
  adapter?: AdapterKind
  directory?: string
  connector?: Partial<ConnectorConfig>
  server?: Partial<StompServerOptions>
  config?: (c: BrokerConfig) => BrokerConfig
  /** The broker's authorization hook (src/security). */
  authorizer?: Authorizer | null
}

export async function startBroker(opts: HarnessOptions = {}): Promise<Harness> {
  const { Broker } = await import('../../../broker/index.ts')
  let store: PersistenceAdapter
  if (opts.adapter) {
    const { createAdapter } = await import('../../../storage/index.ts')
    store = createAdapter(opts.adapter)
  } else store = new MemoryStore()
  const directory = opts.directory ?? ':memory:'
  const recovered = await store.open({ directory, epoch: 1 })
  const base = defaultConfig(opts.directory ?? process.cwd())
  const connector: ConnectorConfig = {
    name: 'stomp',
    uri: 'stomp://127.0.0.1:0',
    protocol: 'stomp',
    host: '127.0.0.1',
    port: 0,
    maximumConnections: 1000,
    maxFrameSize: 100 * 1024 * 1024,
    ...opts.connector,
  }
  let config: BrokerConfig = { ...base, connectors: [connector], persistence: { ...base.persistence, directory } }
  if (opts.config) config = opts.config(config)
  const broker = await Broker.create({ config, store, recovered, authorizer: opts.authorizer })
  const server = new StompServer({ broker, connector, serverName: 'sfbroker/test', ...opts.server })
  await server.listen()
  let stopped: Promise<void> | null = null
  return {
    port: server.address().port,
    broker,
    server,
    store,
    config,
    stop() {
      stopped ??= (async () => {
        await server.close()
        await broker.stop()
        await store.close()
      })()
      return stopped
    },
  }
}
