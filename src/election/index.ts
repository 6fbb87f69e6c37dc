/**
 * The election part's public face: the Elector (primary/replica on a shared directory), its state machine,
 * the shared-directory records, and the lock module. Other parts import only from here.
 */
export { Elector, type ElectorOptions, type ElectorStatus, type ElectorInfo } from './elector.ts'
export {
  step,
  EXIT_CODES,
  type Input as ElectionInput,
  type Effect as ElectionEffect,
  type Policy as ElectionPolicy,
} from './state-machine.ts'
export {
  sharedPaths,
  readHolderRecord,
  readReplicas,
  readTakeovers,
  maxEpoch,
  type HolderRecord,
  type ReplicaRecord,
  type TakeoverRecord,
} from './shared-dir.ts'
export { LockFile, loadLibc, LibcError } from './lock/index.ts'
export type { Role, ElectionHooks, ActivationContext, TakeoverTimeline, EpochFence } from './types.ts'
export { inspectSharedDir, formatStatus, STATUS_EXIT, type StatusReport, type StoreSummary } from './status-report.ts'
export { mountOf, mountWarnings, type MountInfo } from './mountinfo.ts'
