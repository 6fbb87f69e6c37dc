#!/usr/bin/env bun
/**
 * Soak of the issue #19 attacks: one compiled broker, one healthy client (persistent SEND + receipt every
 * 100 ms), and every attack in turn, each repeated for --rounds. Prints, per attack and overall: the healthy
 * client's worst receipt latency (persistent SENDs, which wait for the journal, and non-persistent ones, which show
 * event-loop stalls alone), the broker's peak RSS during the attack and its RSS a few seconds after it.
 *
 *   bun scripts/soak-abuse.ts [--binary path] [--rounds 3] [--memory-mib 256] [--large-mib 90] [--only large,tx]
 *
 * Without --binary it builds one (the `npm run build` flags) into a temp dir. Exit code 1 when the healthy client
 * was disconnected or the node changed role.
 */
import { parseArgs } from 'node:util'
import { compiledBinary } from '../test/fixtures/binary.ts'
import { TestProcesses } from '../test/fixtures/broker-process.ts'
import {
  HealthyClient,
  rssMiB,
  RssSampler,
  runAttack,
  startAbuseBroker,
  type AttackResult,
} from '../test/fixtures/abuse.ts'
import { sleep } from '../src/testing/until.ts'

const { values: o } = parseArgs({
  options: {
    binary: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'memory-mib': { type: 'string', default: '256' },
    'large-mib': { type: 'string', default: '90' },
    only: { type: 'string' },
    settle: { type: 'string', default: '5000' },
  },
})

const MiB = 1 << 20
const rounds = Number(o.rounds)
const largeBytes = Number(o['large-mib']) * MiB
const attacks: Record<string, (port: number) => Promise<AttackResult>> = {
  // Each in its own process (runAttack): the attacker's buffers and GC must not stall the healthy client.
  large: (port) => runAttack('large', port, [3, largeBytes, 120_000], 180_000),
  tx: (port) => runAttack('tx', port, [400 * MiB, 120_000], 180_000),
  slow: (port) => runAttack('slow', port, [300 * MiB, 120_000], 260_000),
  silent: (port) => runAttack('silent', port, [1000, 10_000], 60_000),
  selector: (port) => runAttack('selector', port, [60_000], 90_000),
  destinations: (port) => runAttack('destinations', port, [10_000, 120_000], 180_000),
}
const chosen = o.only ? o.only.split(',') : Object.keys(attacks)

const procs = new TestProcesses()
let status = 0
try {
  const binary = o.binary ?? compiledBinary()
  const b = await startAbuseBroker(procs, binary, Number(o['memory-mib']))
  await sleep(1000)
  const idle = rssMiB(b.pid)
  console.log(`broker pid ${b.pid} port ${b.port}, memoryUsage ${b.memoryLimitMiB} MiB, idle RSS ${idle} MiB`)
  const healthy = await HealthyClient.start(b.port).catch((e: Error) => {
    throw new Error(`healthy client could not connect (${e.message}); broker log:\n${b.broker.log().slice(-3000)}`)
  })
  const sampler = new RssSampler(b.pid)
  const rows: string[][] = [
    ['attack', 'round', 'worst latency ms', 'loop worst ms', 'peak RSS MiB', 'after RSS MiB', 'notes'],
  ]
  let worstAll = 0
  let loopAll = 0
  let peakAll = 0
  for (const name of chosen) {
    for (let r = 1; r <= rounds; r++) {
      healthy.resetWorst()
      sampler.reset()
      const t0 = Date.now()
      const res = await attacks[name]!(b.port)
      await sleep(Number(o.settle))
      const snap = healthy.snapshot()
      const after = rssMiB(b.pid)
      worstAll = Math.max(worstAll, snap.worstMs)
      loopAll = Math.max(loopAll, snap.loopWorstMs)
      peakAll = Math.max(peakAll, sampler.peak)
      rows.push([
        name,
        String(r),
        String(snap.worstMs),
        String(snap.loopWorstMs),
        String(sampler.peak),
        String(after),
        `${Date.now() - t0} ms ${JSON.stringify(res.notes)}`,
      ])
      console.log(rows[rows.length - 1]!.join(' | '))
      if (snap.disconnected) break
    }
  }
  sampler.stop()
  const rep = await healthy.stop()
  const roles = b.roleChangesAfterPrimary()
  console.log(
    `\nidle RSS ${idle} MiB; peak RSS ${peakAll} MiB; after-load RSS ${rssMiB(b.pid)} MiB; healthy worst latency ${worstAll} ms (persistent), ${loopAll} ms (non-persistent); ` +
      `healthy sent ${rep.sent}, receipts ${rep.receipts}, disconnected ${rep.disconnected}, errors ${rep.errors.length}; role changes after primary: ${roles.length}`,
  )
  if (rep.disconnected || roles.length > 0) {
    status = 1
    for (const l of roles) console.log(`role change: ${l}`)
  }
} finally {
  procs.cleanup()
}
process.exit(status)
