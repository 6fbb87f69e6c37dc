/**
 * What probe-lock reports: a verdict per lock type from its checks, the optional cross-host peer exchange, and the
 * options of a run. The checks live in probe-lock.ts and peer-probe.ts; the text the CLI prints in cli/format.
 */
import type { MountInfo } from '../mountinfo.ts'

export type Kind = 'flock' | 'fcntl'
export const KINDS: Kind[] = ['flock', 'fcntl']

export interface CheckResult {
  name: string
  ok: boolean
  detail: string
  ms?: number
}

export interface KindVerdict {
  kind: Kind
  checks: CheckResult[]
  verdict: 'SAFE' | 'SAFE ON THIS HOST' | 'NOT SAFE'
  reason: string
}

export interface ProbeReport {
  directory: string
  host: string
  binding: string
  filesystem: MountInfo | null
  fsClass: string
  warnings: string[]
  kinds: KindVerdict[]
  sameProcess: CheckResult
  peer: PeerReport | null
  recommended: Kind | null
  recommendation: string
  safe: boolean
  /** Where the verdict was saved (`<dir>/probe-lock.json`), null when it could not be (see warnings). */
  savedTo: string | null
}

export interface PeerReport {
  peer: { token: string; host: string; pid: number } | null
  kinds: {
    kind: Kind
    acquired: boolean
    overlapSeen: boolean
    peerOverlapSeen: boolean | null
    verdict: 'SAFE' | 'NOT SAFE' | 'INCONCLUSIVE'
    detail: string
  }[]
}

export interface ProbeOptions {
  peer?: boolean
  /** Hold time per lock type in peer mode. */
  holdMs?: number
  /** How long to wait for the peer to show up. */
  peerTimeoutMs?: number
  /** Bound for every child step. */
  stepTimeoutMs?: number
  childArgv?: (args: string[]) => string[]
}
