/**
 * Goal: the short chaos profile (issues 8 and 12) passes: 3 compiled sfbroker processes on one shared directory (one
 * bindfs mount each when bindfs and /dev/fuse exist, and one mount shared by all for the share blink), a failover
 * workload through the client library, 10 faults, one of every available kind (kill -9, SIGSTOP, lock
 * deleted/replaced, real disk-full on a tmpfs, hung and gone share, lying locks, CPU starvation with short SIGSTOP
 * bursts, a blink of the share every broker uses), and every must-be-zero counter at zero: nothing receipted is
 * lost, no duplicate without redelivered:true, never two brokers accepting outside the lying-locks phase, no stale
 * acknowledgement, transactions all-or-nothing, scheduled messages fired once and not early, every fault followed by
 * a primary, no broker exiting on its own (the harness restarts only brokers it stopped), no step-down without a
 * fault, and a broker serving within 2 s of the share's return.
 * Method: build the binary like `npm run build` into a temp dir (test/fixtures/binary.ts, shared with other test
 * files), run scripts/chaos/run.ts in-process with a seed (SEED=... replays one), print the report. The harness
 * cleans up its children, mounts, CPU hogs and temp dirs itself.
 */
import { beforeAll, expect, test } from 'bun:test'
import { runChaos, SHORT_MAX_SECONDS } from '../scripts/chaos/run.ts'
import { formatReport } from '../scripts/chaos/report.ts'
import { configureLogging } from '../src/lib/log.ts'
import { compiledBinary } from './fixtures/binary.ts'

let binary = ''

beforeAll(() => {
  binary = compiledBinary()
}, 300_000)

test(
  'chaos short profile: 10 faults incl. CPU starvation and share blink, every must-be-zero counter at zero',
  async () => {
    const seed = process.env.SEED ? Number(process.env.SEED) : Math.floor(Math.random() * 1e9)
    console.log(`chaos seed ${seed} (replay with SEED=${seed})`)
    configureLogging('error', 'pretty')
    const report = await runChaos({
      profile: 'short',
      brokers: 3,
      faults: 10,
      maxSeconds: SHORT_MAX_SECONDS,
      bindfs: 'auto',
      seed,
      binary: [binary],
      adapter: 'kahaDB',
      keepAliveMs: 500,
      keep: false,
      cpuHogs: 4,
    })
    console.log(formatReport(report))
    expect(report.mustBeZero).toEqual(Object.fromEntries(Object.keys(report.mustBeZero).map((k) => [k, 0])))
    expect(report.mustBeZero.selfExits).toBe(0)
    expect(report.mustBeZero.spuriousStepDowns).toBe(0)
    expect(report.faults.byKind['cpu-starvation']).toBe(1)
    if (report.bindfs) expect(report.faults.byKind['share-blink']).toBe(1)
    expect(report.faults.injected).toBe(report.faults.planned)
    expect(report.messages.receipted).toBeGreaterThan(100)
    expect(report.scheduled.deliveredExactlyOnce).toBe(report.scheduled.receipted)
    expect(report.takeover.count).toBeGreaterThan(0)
    expect(report.ok).toBe(true)
  },
  (SHORT_MAX_SECONDS + 60) * 1000,
)
