/**
 * The storage part's front door: the adapter contract and `createAdapter(kind)`, which the node uses to open the
 * broker store (at `config.persistence.directory`) and the scheduler store (at `config.schedulerDirectory`).
 * The returned adapter is not yet opened: call `open({ directory, epoch, fence, syncPolicy, ... })`.
 */
import { BrokerError } from '../lib/errors.ts'
import type { AdapterKind } from '../config/types.ts'
import type { PersistenceAdapter } from './types.ts'
import { KahaDbAdapter } from './adapters/kahadb/index.ts'
import { AmqAdapter } from './adapters/amq/index.ts'
import { LevelDbAdapter } from './adapters/leveldb/index.ts'

export type * from './types.ts'
export { KahaDbAdapter, AmqAdapter, LevelDbAdapter }

export function createAdapter(kind: AdapterKind): PersistenceAdapter {
  switch (kind) {
    case 'kahaDB':
      return new KahaDbAdapter()
    case 'amq':
      return new AmqAdapter()
    case 'levelDB':
      return new LevelDbAdapter()
    default:
      throw new BrokerError(
        'CONFIG_INVALID',
        `persistence adapter ${JSON.stringify(kind)} is not one of kahaDB, levelDB, amq`,
        { details: { value: kind } },
      )
  }
}
