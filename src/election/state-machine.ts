/**
 * The election as a pure state machine: `step(role, input, policy) → { role, effects }`. No I/O, no time.
 * The Elector (elector.ts) runs the effects and feeds their outcomes back as inputs. Every (role, input)
 * pair has a defined answer (state-machine.test.ts checks the whole table); pairs that cannot matter in a
 * role (a late outcome of an operation that was abandoned) are explicitly ignored: same role, no effects.
 *
 * Exit codes (`Elector.done`, and so `sfbroker run`): 0 clean stop, 1 the lock mechanism failed (filesystem
 * cannot lock, or the share never worked since start), 73 failIfLocked and the lock was held, 75 the lock was
 * lost/given up and restartAllowed=false, 76 a previous term's store close never returned (a filesystem call stuck
 * for TEARDOWN_WAIT_MAX_MS): only a new process is clean, so a supervisor must restart it.
 */
import type { Role } from './types.ts'

export const EXIT_CODES = { ok: 0, lockError: 1, failIfLocked: 73, lockLost: 75, teardownStuck: 76 } as const

export type Input =
  /** Begin (or retry after a back-off): try the lock once. */
  | { kind: 'start' }
  /** We hold the exclusive lock. */
  | { kind: 'locked' }
  /** Someone else holds it. */
  | { kind: 'busy' }
  /** The lock call itself failed (ENOLCK, EOPNOTSUPP, ...), or the share never worked for this node: this filesystem cannot elect. */
  | { kind: 'lock-error'; reason: string }
  /** A filesystem error on a share that worked before (ENOTCONN, EIO, ESTALE, ...): transient until proven otherwise. */
  | { kind: 'share-error'; reason: string }
  /** hooks.activate finished. */
  | { kind: 'activated' }
  /** hooks.activate threw. */
  | { kind: 'activation-failed'; reason: string }
  /** A higher epoch exists (lost the claim race, or seen by keep-alive / the store fence). */
  | { kind: 'fenced'; reason: string }
  /** Keep-alive doubt: lock file replaced or gone, holder record not ours, check timed out. */
  | { kind: 'lost'; reason: string }
  /** reportUnhealthy(): the store cannot write. */
  | { kind: 'store-failed'; reason: string }
  /** Hand the role over: a preferred broker (failback) is waiting, or another live broker renews the holder record while we "hold" the lock (locks that do not exclude). */
  | { kind: 'yield'; reason: string }
  | { kind: 'stop' }
  /** The step-down effect finished (connectors closed, lock released); `then` says what comes next. */
  | { kind: 'stepped-down'; then: Then }

export type InputKind = Input['kind']
export const INPUT_KINDS: InputKind[] = [
  'start',
  'locked',
  'busy',
  'lock-error',
  'activated',
  'activation-failed',
  'fenced',
  'lost',
  'store-failed',
  'share-error',
  'yield',
  'stop',
  'stepped-down',
]
export const ROLES: Role[] = ['starting', 'replica', 'activating', 'primary', 'stepping-down', 'stopped']

/** After stepping down: try again now, try after lockAcquireSleepInterval, stop (exit 0), or exit 75. */
export type Then = 'rejoin' | 'rejoin-later' | 'stop' | 'exit'

export type Effect =
  /** Open the lock file afresh if it is not open, try it once (non-blocking) → locked | busy | lock-error. */
  | { type: 'tryLock' }
  /** As replica: heartbeat, and wait (blocking worker, or poll every lockAcquireSleepInterval) → locked | busy | lock-error. */
  | { type: 'wait' }
  /** Claim an epoch, write the holder record, start keep-alive, run hooks.activate → activated | fenced | activation-failed. */
  | { type: 'activate' }
  /** Activation done: record the takeover timeline, announce primary. */
  | { type: 'serve' }
  /** hooks.deactivate first, then stop keep-alive and release the lock → stepped-down{then}. */
  | { type: 'stepDown'; reason: string; then: Then }
  /** A stop arrived during a step-down: finish with `then` instead. */
  | { type: 'setThen'; then: Then }
  /** Not primary: cancel any wait, stop heartbeats, remove our replica file, close the lock file. */
  | { type: 'release' }
  /** Feed `start` after lockAcquireSleepInterval (longer after repeated deposals: flap damping). */
  | { type: 'retryLater' }
  /** Feed `start` after a jittered, growing back-off while the share is unavailable. */
  | { type: 'retryShare' }
  /** The elector ends for good with this exit code. */
  | { type: 'finish'; code: number }

export interface Policy {
  failIfLocked: boolean
  restartAllowed: boolean
}

export interface StepResult {
  role: Role
  effects: Effect[]
}

const ignore = (role: Role): StepResult => ({ role, effects: [] })

export function step(role: Role, input: Input, policy: Policy): StepResult {
  const afterLoss = (later: boolean): Then => (policy.restartAllowed ? (later ? 'rejoin-later' : 'rejoin') : 'exit')
  const down = (reason: string, then: Then): StepResult => ({
    role: 'stepping-down',
    effects: [{ type: 'stepDown', reason, then }],
  })

  switch (role) {
    case 'starting':
    case 'replica':
      switch (input.kind) {
        case 'start':
          // A replica gets `start` only from its share back-off (retryShare): try the lock afresh.
          return { role, effects: [{ type: 'tryLock' }] }
        case 'locked':
          return { role: 'activating', effects: [{ type: 'activate' }] }
        case 'busy':
          if (role === 'starting' && policy.failIfLocked) {
            return {
              role: 'stopped',
              effects: [{ type: 'release' }, { type: 'finish', code: EXIT_CODES.failIfLocked }],
            }
          }
          return { role: 'replica', effects: [{ type: 'wait' }] }
        case 'lock-error':
          return { role: 'stopped', effects: [{ type: 'release' }, { type: 'finish', code: EXIT_CODES.lockError }] }
        case 'share-error':
          // Stay up: a replica that waits for the share to come back, then for the lock.
          return { role: 'replica', effects: [{ type: 'release' }, { type: 'retryShare' }] }
        case 'stop':
          return { role: 'stopped', effects: [{ type: 'release' }, { type: 'finish', code: EXIT_CODES.ok }] }
        default:
          return ignore(role)
      }
    case 'activating':
    case 'primary':
      switch (input.kind) {
        case 'activated':
          return role === 'activating' ? { role: 'primary', effects: [{ type: 'serve' }] } : ignore(role)
        case 'activation-failed':
          return role === 'activating' ? down(`activation failed: ${input.reason}`, afterLoss(true)) : ignore(role)
        case 'fenced':
          // A newer epoch holds the role: back off before claiming again (the elector grows the delay with
          // repeated deposals), or two nodes on lying locks depose each other in a livelock.
          return down(input.reason, afterLoss(true))
        case 'lost':
        case 'store-failed':
          // Rejoin after lockAcquireSleepInterval, so a replica already blocked on the lock gets it (the lock is
          // released just before; retrying at once can win it back, and a paused or unhealthy node should not).
          return down(input.reason, afterLoss(true))
        case 'yield':
          return down(input.reason, 'rejoin-later')
        case 'stop':
          return down('stop requested', 'stop')
        default:
          return ignore(role)
      }
    case 'stepping-down':
      switch (input.kind) {
        case 'stop':
          return { role, effects: [{ type: 'setThen', then: 'stop' }] }
        case 'stepped-down':
          switch (input.then) {
            case 'rejoin':
              return { role: 'starting', effects: [{ type: 'tryLock' }] }
            case 'rejoin-later':
              return { role: 'starting', effects: [{ type: 'retryLater' }] }
            case 'stop':
              return { role: 'stopped', effects: [{ type: 'finish', code: EXIT_CODES.ok }] }
            case 'exit':
              return { role: 'stopped', effects: [{ type: 'finish', code: EXIT_CODES.lockLost }] }
          }
          break
        default:
          return ignore(role)
      }
      break
    case 'stopped':
      return ignore(role)
  }
  throw new Error(`assertion failed: step(${role}, ${input.kind}) has no answer`)
}
