/**
 * LevelDbAdapter: the shared conformance suite (incl. kill -9 crash group), then levelDB-specific cases
 * (meta epoch, sync policies, group commit sharing one sync).
 */
import { fileURLToPath } from 'node:url'
import { describeAdapter } from '../../conformance.ts'
import { LevelDbAdapter, plantLevelDbFormat } from './index.ts'

describeAdapter('LevelDbAdapter', {
  open: () => new LevelDbAdapter(),
  supports: {
    formatCheck: { plant: plantLevelDbFormat },
    refusesOlderEpochOnOpen: true,
    crash: { module: fileURLToPath(new URL('./index.ts', import.meta.url)), exportName: 'LevelDbAdapter' },
  },
})
