/**
 * The chaos harness's verdict: turns the workload ledger, the watcher's moments, the brokers' logs and the fault
 * log into counters (ChaosReport), prints them as a table and decides pass/fail. Counters are defined here once;
 * docs/chaos.md explains each. "Must be zero" counters make the run fail; "should be zero" ones are reported.
 *
 * Self exits and spurious step-downs come from the brokers' own records: an exit the harness did not cause, and a
 * role change to stepping-down that is neither an asked-for stop nor inside the window of a fault that excuses it
 * (from the fault's start to `stepDownGraceMs` after its end; kill-primary excuses only its victim, cpu-starvation
 * nobody).
 */
import type { BrokerProc } from './broker-proc.ts'
import type { PrimaryWatcher } from './primary-watcher.ts'
import type { ChaosOptions } from './run.ts'
import type { Ledger, Stream } from './workload.ts'

export interface FaultRecord {
  kind: string
  at: number
  target: string
  ok: boolean
  notes: string[]
  takeoverMs?: number
  stepDownMs?: number
  failoverMissed?: boolean
  neverSteppedDown?: boolean
  resumedServing?: boolean
  sigtermHang?: boolean
  /** When the fault's injection and recovery ended (its step-down window closes stepDownGraceMs later). */
  endAt?: number
  /** Whose step-downs the fault's window excuses: every broker's, only the target's, or nobody's. */
  excuse?: 'all' | 'target' | 'none'
  /** share-blink: ms from the share's return to a broker answering STOMP CONNECTED. */
  shareReturnMs?: number
  /** share-blink: no broker served within 2 s of the share's return. */
  shareReturnSlow?: boolean
  /** share-blink: the primary still accepted connections when the share came back. */
  servingThroughLoss?: boolean
  /** lying-locks: epochs claimed by all brokers while the locks lied. */
  lying?: { epochsClaimed: number; windowMs: number; flapsPerMin: number }
  /** cpu-starvation: what was done and what it caused. */
  starvation?: { hogs: number; ms: number; bursts: number; burstMsMax: number; stepDowns: number; receipted: number }
}

export interface Stats {
  count: number
  medianMs: number | null
  p99Ms: number | null
  maxMs: number | null
}

export interface ChaosReport {
  ok: boolean
  seed: number
  profile: string
  brokers: number
  adapter: string
  bindfs: boolean
  diskFullForReal: boolean
  keepAliveMs: number
  durationS: number
  labDir: string | null
  faults: {
    planned: number
    injected: number
    byKind: Record<string, number>
    failed: number
    skippedKinds: Record<string, string>
  }
  restarts: number
  messages: {
    sent: Record<Stream, number>
    receipted: number
    receiptedByStream: Record<Stream, number>
    deliveredDistinct: number
    deliveries: number
    redeliveries: number
    unconfirmedSends: number
    lost: number
    lostByStream: Record<Stream, number>
    lostSample: string[]
    repeatSamples: { afterConfirmedAck: string[]; unmarked: string[] }
    duplicatesUnmarked: number
    duplicatesStored: number
    ackFailures: number
  }
  transactions: {
    committed: number
    aborted: number
    inDoubt: number
    failed: number
    abortedDelivered: number
    partial: number
  }
  scheduled: { receipted: number; deliveredExactlyOnce: number; lost: number; firedTwice: number; early: number }
  takeover: Stats
  stepDown: Stats & { lateOver2xKeepAlive: number }
  watcher: {
    probes: number
    twoPrimaryMoments: number
    lyingPhaseTwoAccepting: number
    firstMoments: { at: string; ports: number[]; phase: string }[]
  }
  /** Broker exits the harness did not cause (those brokers were left down). */
  selfExits: { count: number; samples: string[] }
  /** Step-downs with no fault in progress or just ended (or during CPU starvation). */
  spuriousStepDowns: { count: number; samples: string[] }
  shareBlink: { count: number; servedAgain: Stats; over2s: number; servingThroughLoss: number }
  lyingLocks: { count: number; epochsClaimed: number; windowS: number; flapsPerMin: number | null }
  cpuStarvation: {
    count: number
    hogs: number
    totalS: number
    bursts: number
    burstMsMax: number
    stepDowns: number
    receipted: number
  }
  staleAcks: number
  failoversMissed: number
  neverSteppedDown: number
  resumedAfterStop: number
  mustBeZero: Record<string, number>
  shouldBeZero: Record<string, number>
  faultLog: { t: string; kind: string; target: string; ok: boolean; notes: string }[]
}

function stats(xs: number[]): Stats {
  if (xs.length === 0) return { count: 0, medianMs: null, p99Ms: null, maxMs: null }
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!
  return { count: s.length, medianMs: q(0.5), p99Ms: q(0.99), maxMs: s[s.length - 1]! }
}

export interface ReportInput {
  options: ChaosOptions
  seed: number
  root: string | null
  durationMs: number
  planned: number
  faults: FaultRecord[]
  skipped: Record<string, string>
  ledger: Ledger
  watcher: PrimaryWatcher
  brokers: BrokerProc[]
  restarts: number
  bindfs: boolean
  diskFull: boolean
  /** Step-downs up to this long after a fault ended still belong to it. */
  stepDownGraceMs: number
}

const iso = (t: number) => new Date(t).toISOString()

/** Exits nobody asked for: "b1 at T code=1 (last role line: …)". */
export function selfExits(brokers: BrokerProc[]): string[] {
  return brokers.flatMap((b) =>
    b.exits
      .filter((e) => e.cause === 'self')
      .map((e) => `${b.name} at ${iso(e.at)} ${e.signal ? `signal ${e.signal}` : `code ${e.code}`} (${e.why})`),
  )
}

/** Step-downs no injected fault explains: "b0 at T primary -> stepping-down: reason". */
export function spuriousStepDowns(
  brokers: BrokerProc[],
  faults: FaultRecord[],
  graceMs: number,
  now = Date.now(),
): string[] {
  const out: string[] = []
  for (const b of brokers) {
    for (const r of b.roles) {
      if (r.role !== 'stepping-down' || r.stopAsked || r.reason === 'stop requested') continue
      const excused = faults.some((f) => {
        const end = (f.endAt ?? now) + graceMs
        if (r.at < f.at || r.at > end) return false
        const ex = f.excuse ?? 'all'
        return ex === 'all' || (ex === 'target' && f.target === b.name)
      })
      if (!excused) {
        const during = faults.filter((f) => r.at >= f.at && r.at <= (f.endAt ?? now) + graceMs).map((f) => f.kind)
        out.push(
          `${b.name} at ${iso(r.at)} ${r.from || '?'} -> stepping-down: ${r.reason}${during.length ? ` (during ${during.join(', ')})` : ' (no fault)'}`,
        )
      }
    }
  }
  return out
}

const STREAMS: Stream[] = ['queue', 'topic', 'tx', 'sched']

export function buildReport(r: ReportInput): ChaosReport {
  const L = r.ledger
  const zero = (): Record<Stream, number> => ({ queue: 0, topic: 0, tx: 0, sched: 0 })
  const receiptedByStream = zero()
  const lostByStream = zero()
  const lostSample: string[] = []
  for (const rc of L.receipts.values()) {
    receiptedByStream[rc.stream]++
    if (!L.deliveries[rc.stream].has(rc.id)) {
      lostByStream[rc.stream]++
      // With when and where it was receipted: a CI log keeps only the report's tail, not the run's progress lines.
      if (lostSample.length < 20) lostSample.push(`${rc.id}@${iso(rc.at).slice(11, 23)}:${rc.port ?? '?'}`)
    }
  }
  let deliveredDistinct = 0
  let deliveries = 0
  let unmarked = 0
  let stored = 0
  for (const s of STREAMS) {
    for (const d of L.deliveries[s].values()) {
      deliveredDistinct++
      deliveries += d.count
      unmarked += d.unmarked
      stored += d.afterConfirmedAck
    }
  }
  // Transactions: committed ones count as receipted above; aborted must never arrive; in-doubt all or nothing.
  const tx = { committed: 0, aborted: 0, inDoubt: 0, failed: 0, abortedDelivered: 0, partial: 0 }
  for (const t of L.txs) {
    const got = t.ids.filter((id) => L.deliveries.tx.has(id)).length
    if (t.outcome === 'committed') tx.committed++
    else if (t.outcome === 'aborted') {
      tx.aborted++
      if (got > 0) tx.abortedDelivered++
    } else {
      if (t.outcome === 'in-doubt') tx.inDoubt++
      else tx.failed++
      if (got !== 0 && got !== t.ids.length) tx.partial++
    }
  }
  let schedOnce = 0
  let firedTwice = 0
  for (const rc of L.receipts.values()) {
    if (rc.stream !== 'sched') continue
    const d = L.deliveries.sched.get(rc.id)
    if (!d) continue
    // Fired once: every repeat (if any) is a redelivery marked as such, not a second firing.
    if (d.unmarked === 0) schedOnce++
    if (d.unmarked > 0) firedTwice++
  }
  // Stale acknowledgements: in the order receipts arrived, one from a broker whose epoch is below an epoch that had
  // already acknowledged something means two brokers acknowledged writes at the same time.
  const byPort = new Map(r.brokers.map((b) => [b.port, b]))
  const rs = [...L.receipts.values()].filter((x) => x.port !== null).sort((a, b) => a.at - b.at)
  let maxEpoch = 0
  let staleAcks = 0
  for (const x of rs) {
    const e = byPort.get(x.port!)?.epochAt(x.at)
    if (e === null || e === undefined) continue
    if (e < maxEpoch) staleAcks++
    else maxEpoch = e
  }
  const byKind: Record<string, number> = {}
  for (const f of r.faults) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1
  const takeover = stats(r.faults.flatMap((f) => (f.takeoverMs !== undefined ? [f.takeoverMs] : [])))
  const sd = r.faults.flatMap((f) => (f.stepDownMs !== undefined && f.kind !== 'disk-full' ? [f.stepDownMs] : []))
  const ka = r.options.keepAliveMs
  const moments = r.watcher.moments
  const honest = moments.filter((m) => !m.phase.includes('lying'))
  const lying = moments.filter((m) => m.phase.includes('lying'))
  const failoversMissed = r.faults.filter((f) => f.failoverMissed).length
  const neverSteppedDown = r.faults.filter((f) => f.neverSteppedDown).length
  const resumedAfterStop = r.faults.filter((f) => f.resumedServing).length
  const lost = STREAMS.reduce((a, s) => a + lostByStream[s], 0)
  const exitsSelf = selfExits(r.brokers)
  const spurious = spuriousStepDowns(r.brokers, r.faults, r.stepDownGraceMs)
  const blinks = r.faults.filter((f) => f.kind === 'share-blink')
  const shareReturnOver2s = blinks.filter((f) => f.shareReturnSlow).length
  const lyings = r.faults.flatMap((f) => (f.lying ? [f.lying] : []))
  const lyingClaimed = lyings.reduce((a, l) => a + l.epochsClaimed, 0)
  const lyingMs = lyings.reduce((a, l) => a + l.windowMs, 0)
  const starv = r.faults.flatMap((f) => (f.starvation ? [f.starvation] : []))
  const mustBeZero = {
    lost,
    duplicatesUnmarked: unmarked,
    twoPrimaryMoments: honest.length,
    staleAcks,
    abortedTxDelivered: tx.abortedDelivered,
    partialTx: tx.partial,
    scheduledEarly: L.scheduledEarly,
    failoversMissed,
    neverSteppedDown,
    resumedAfterStop,
    selfExits: exitsSelf.length,
    spuriousStepDowns: spurious.length,
    shareReturnOver2s,
  }
  const shouldBeZero = {
    duplicatesStored: stored,
    stepDownsOver2xKeepAlive: sd.filter((x) => x > 2 * ka).length,
    unconfirmedSends: L.unconfirmed.size,
    sigtermHangs: r.faults.filter((f) => f.sigtermHang).length,
    servingThroughShareLoss: blinks.filter((f) => f.servingThroughLoss).length,
  }
  return {
    ok: Object.values(mustBeZero).every((v) => v === 0),
    seed: r.seed,
    profile: r.options.profile,
    brokers: r.options.brokers,
    adapter: r.options.adapter,
    bindfs: r.bindfs,
    diskFullForReal: r.diskFull,
    keepAliveMs: ka,
    durationS: Math.round(r.durationMs / 100) / 10,
    labDir: r.root,
    faults: {
      planned: r.planned,
      injected: r.faults.length,
      byKind,
      failed: r.faults.filter((f) => !f.ok).length,
      skippedKinds: r.skipped,
    },
    restarts: r.restarts,
    messages: {
      sent: L.sent,
      receipted: L.receipts.size,
      receiptedByStream,
      deliveredDistinct,
      deliveries,
      redeliveries: deliveries - deliveredDistinct,
      unconfirmedSends: L.unconfirmed.size,
      lost,
      lostByStream,
      lostSample,
      repeatSamples: L.samples,
      duplicatesUnmarked: unmarked,
      duplicatesStored: stored,
      ackFailures: L.ackFailures,
    },
    transactions: tx,
    scheduled: {
      receipted: receiptedByStream.sched,
      deliveredExactlyOnce: schedOnce,
      lost: lostByStream.sched,
      firedTwice,
      early: L.scheduledEarly,
    },
    takeover,
    stepDown: { ...stats(sd), lateOver2xKeepAlive: shouldBeZero.stepDownsOver2xKeepAlive },
    watcher: {
      probes: r.watcher.probes,
      twoPrimaryMoments: honest.length,
      lyingPhaseTwoAccepting: lying.length,
      firstMoments: honest
        .slice(0, 10)
        .map((m) => ({ at: new Date(m.at).toISOString(), ports: m.ports, phase: m.phase })),
    },
    selfExits: { count: exitsSelf.length, samples: exitsSelf.slice(0, 20) },
    spuriousStepDowns: { count: spurious.length, samples: spurious.slice(0, 20) },
    shareBlink: {
      count: blinks.length,
      servedAgain: stats(blinks.flatMap((f) => (f.shareReturnMs !== undefined ? [f.shareReturnMs] : []))),
      over2s: shareReturnOver2s,
      servingThroughLoss: shouldBeZero.servingThroughShareLoss,
    },
    lyingLocks: {
      count: lyings.length,
      epochsClaimed: lyingClaimed,
      windowS: Math.round(lyingMs / 100) / 10,
      flapsPerMin: lyingMs > 0 ? Math.round((lyingClaimed / (lyingMs / 60_000)) * 10) / 10 : null,
    },
    cpuStarvation: {
      count: starv.length,
      hogs: starv[0]?.hogs ?? 0,
      totalS: Math.round(starv.reduce((a, x) => a + x.ms, 0) / 100) / 10,
      bursts: starv.reduce((a, x) => a + x.bursts, 0),
      burstMsMax: starv.reduce((a, x) => Math.max(a, x.burstMsMax), 0),
      stepDowns: starv.reduce((a, x) => a + x.stepDowns, 0),
      receipted: starv.reduce((a, x) => a + x.receipted, 0),
    },
    staleAcks,
    failoversMissed,
    neverSteppedDown,
    resumedAfterStop,
    mustBeZero,
    shouldBeZero,
    faultLog: r.faults.map((f) => ({
      t: new Date(f.at).toISOString(),
      kind: f.kind,
      target: f.target,
      ok: f.ok,
      notes: f.notes.join('; '),
    })),
  }
}

export function formatReport(c: ChaosReport): string {
  const ms = (x: number | null) => (x === null ? '-' : `${x} ms`)
  const rows: [string, string][] = [
    [
      'run',
      `${c.profile} profile, seed ${c.seed}, ${c.brokers} brokers, ${c.adapter}, bindfs ${c.bindfs ? 'on' : 'off'}, keep-alive ${c.keepAliveMs} ms, ${c.durationS} s`,
    ],
    [
      'faults injected',
      `${c.faults.injected}/${c.faults.planned}: ${Object.entries(c.faults.byKind)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}`,
    ],
    ...Object.entries(c.faults.skippedKinds).map(([k, why]): [string, string] => [`  skipped ${k}`, why]),
    ['broker restarts', String(c.restarts)],
    [
      'messages receipted',
      `${c.messages.receipted} (queue ${c.messages.receiptedByStream.queue}, durable topic ${c.messages.receiptedByStream.topic}, tx ${c.messages.receiptedByStream.tx}, scheduled ${c.messages.receiptedByStream.sched})`,
    ],
    [
      'messages delivered',
      `${c.messages.deliveredDistinct} distinct, ${c.messages.deliveries} deliveries (${c.messages.redeliveries} repeats)`,
    ],
    ['sends unconfirmed', `${c.messages.unconfirmedSends} (timed out or refused; not counted as receipted)`],
    [
      'transactions',
      `${c.transactions.committed} committed, ${c.transactions.aborted} aborted, ${c.transactions.inDoubt} in doubt, ${c.transactions.failed} failed`,
    ],
    ['scheduled', `${c.scheduled.receipted} receipted, ${c.scheduled.deliveredExactlyOnce} delivered exactly once`],
    [
      'takeover (kill -9 → CONNECTED)',
      `n=${c.takeover.count} median ${ms(c.takeover.medianMs)}, p99 ${ms(c.takeover.p99Ms)}, max ${ms(c.takeover.maxMs)}`,
    ],
    [
      'stop serving after lock/share fault',
      `n=${c.stepDown.count} median ${ms(c.stepDown.medianMs)}, p99 ${ms(c.stepDown.p99Ms)}, max ${ms(c.stepDown.maxMs)}`,
    ],
    [
      'serving again after share return',
      `n=${c.shareBlink.count} median ${ms(c.shareBlink.servedAgain.medianMs)}, max ${ms(c.shareBlink.servedAgain.maxMs)} (bound 2000 ms; ${c.shareBlink.over2s} over or never)`,
    ],
    [
      'lying locks: flaps',
      `${c.lyingLocks.epochsClaimed} epochs claimed in ${c.lyingLocks.windowS} s of ${c.lyingLocks.count} fault(s): ${c.lyingLocks.flapsPerMin ?? '-'} per minute (keep-alive ${c.keepAliveMs} ms)`,
    ],
    [
      'cpu starvation',
      `${c.cpuStarvation.count} fault(s), ${c.cpuStarvation.hogs} hogs, ${c.cpuStarvation.totalS} s, ${c.cpuStarvation.bursts} SIGSTOP bursts (max ${c.cpuStarvation.burstMsMax} ms); ${c.cpuStarvation.stepDowns} step-downs, ${c.cpuStarvation.receipted} receipted meanwhile`,
    ],
    [
      'watcher',
      `${c.watcher.probes} probe rounds; lying-locks phase: ${c.watcher.lyingPhaseTwoAccepting} rounds with several brokers accepting (expected there)`,
    ],
  ]
  const w = Math.max(...rows.map((r) => r[0].length))
  const out = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`)
  out.push('', 'MUST BE ZERO')
  for (const [k, v] of Object.entries(c.mustBeZero))
    out.push(`  ${k.padEnd(w - 2)}  ${v}${v === 0 ? '' : '   <-- FAIL'}`)
  out.push('should be zero')
  for (const [k, v] of Object.entries(c.shouldBeZero)) out.push(`  ${k.padEnd(w - 2)}  ${v}${v === 0 ? '' : '   (!)'}`)
  if (c.messages.lostSample.length)
    out.push(`lost ids (sample; id@time receipted:broker port): ${c.messages.lostSample.join(' ')}`)
  for (const x of c.selfExits.samples.slice(0, 10)) out.push(`self exit: ${x}`)
  for (const x of c.spuriousStepDowns.samples.slice(0, 10)) out.push(`spurious step-down: ${x}`)
  if (c.watcher.firstMoments.length)
    out.push(
      `two-primary moments (first): ${c.watcher.firstMoments.map((m) => `${m.at} ports ${m.ports.join('+')}`).join('; ')}`,
    )
  // The seed and the fault log again at the end: a CI log keeps only the tail of the output.
  if (!c.ok) {
    out.push('', `fault log (replay with SEED=${c.seed}):`)
    for (const f of c.faultLog) out.push(`  ${f.t} ${f.kind} ${f.target}${f.ok ? '' : ' (not ok)'}: ${f.notes}`)
  }
  out.push('', c.ok ? 'PASS: every must-be-zero counter is zero' : 'FAIL: a must-be-zero counter is not zero')
  return out.join('\n')
}
