/**
 * Goal: the short chaos profile (issue 8) passes: 3 compiled sfbroker processes on one shared directory (one bindfs
 * mount each when bindfs and /dev/fuse exist), a failover workload through the client library, 10 faults of every
 * available kind (kill -9, SIGSTOP, lock deleted/replaced, real disk-full on a tmpfs, hung and gone share, lying
 * locks), and every must-be-zero counter at zero: nothing receipted is lost, no duplicate without redelivered:true,
 * never two brokers accepting outside the lying-locks phase, no stale acknowledgement, transactions all-or-nothing,
 * scheduled messages fired once and not early, every fault followed by a primary.
 * Method: build the binary like `npm run build` into a temp dir (test/fixtures/binary.ts, shared with other test
 * files), run scripts/chaos/run.ts in-process with a seed (SEED=... replays one), print the report. The harness
 * cleans up its children, mounts and temp dirs itself.
 */
import { beforeAll, expect, test } from 'bun:test'
import { runChaos } from '../scripts/chaos/run.ts'
import { formatReport } from '../scripts/chaos/report.ts'
import { configureLogging } from '../src/lib/log.ts'
import { compiledBinary } from './fixtures/binary.ts'

let binary = ''

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)

test('chaos short profile: 10 faults, every must-be-zero counter at zero', async () => {
  const seed = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 1e9)
  console.log(`chaos seed ${seed} (replay with SEED=${seed})`)
  configureLogging('error', 'pretty')
  const report = await runChaos({
    profile: 'short', brokers: 3, faults: 10, maxSeconds: 110, bindfs: 'auto', seed,
    binary: [binary], adapter: 'kahaDB', keepAliveMs: 500, keep: false,
  })
  console.log(formatReport(report))
  expect(report.mustBeZero).toEqual(Object.fromEntries(Object.keys(report.mustBeZero).map((k) => [k, 0])))
  expect(report.faults.injected).toBe(report.faults.planned)
  expect(report.messages.receipted).toBeGreaterThan(100)
  expect(report.scheduled.deliveredExactlyOnce).toBe(report.scheduled.receipted)
  expect(report.takeover.count).toBeGreaterThan(0)
  expect(report.ok).toBe(true)
}, 170_000)
