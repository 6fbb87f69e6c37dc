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
export { inspectSharedDir, STATUS_EXIT, type StatusReport } from './status-report.ts'
export {
  integrityLines,
  type StoreSummary,
  type StoreIntegritySummary,
  type ConnectionSummary,
} from './store-summary.ts'
export { readProbeVerdict, PROBE_VERDICT_FILE, type ProbeVerdictRecord } from './probe-verdict.ts'
export { runProbe, type ProbeReport, type ProbeOptions } from './probe/probe-lock.ts'
export { mountOf, mountWarnings, type MountInfo } from './mountinfo.ts'
