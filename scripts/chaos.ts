/**
 * `npx bun scripts/chaos.ts`: the HA acceptance chaos harness (issue 8). Starts N sfbroker processes on one shared
 * directory, runs a failover workload through the client library, injects faults on a seeded schedule and prints
 * (and writes as JSON) what was receipted, delivered, lost, duplicated, how long takeovers took, and whether two
 * brokers ever served at once. Exit 0 when every must-be-zero counter is zero, 1 when one is not, 2 on bad usage.
 * See docs/chaos.md.
 *
 *   npx bun scripts/chaos.ts [--profile short|long] [--brokers 3] [--faults N] [--max-seconds S] [--json out.json]
 *                            [--bindfs on|off|auto] [--seed N] [--adapter kahaDB|levelDB|amq] [--keep-alive MS]
 *                            [--binary PATH] [--cpu-hogs N] [--kinds k1,k2,...] [--keep]
 */
import fs from 'node:fs'
import path from 'node:path'
import { FAULT_KINDS, runChaos, SHORT_MAX_SECONDS, type ChaosOptions, type FaultKind } from './chaos/run.ts'
import { formatReport } from './chaos/report.ts'
import { configureLogging } from '../src/lib/log.ts'

const USAGE =
  'usage: bun scripts/chaos.ts [--profile short|long] [--brokers N] [--faults N] [--max-seconds S] [--json FILE] [--bindfs on|off|auto] [--seed N] [--adapter kahaDB|levelDB|amq] [--keep-alive MS] [--binary PATH] [--cpu-hogs N] [--kinds k1,k2,...] [--keep]'

function usage(msg: string): never {
  process.stderr.write(`chaos: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

function int(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v)
  if (v === undefined || !Number.isInteger(n) || n < min || n > max)
    usage(`--${name} ${JSON.stringify(v ?? '')}: expected an integer in ${min}..${max}`)
  return n
}

function choice<T extends string>(name: string, v: string | undefined, xs: readonly T[]): T {
  if (!xs.includes(v as T)) usage(`--${name} ${JSON.stringify(v ?? '')}: expected one of ${xs.join(', ')}`)
  return v as T
}

export function parseArgs(argv: string[]): { opts: ChaosOptions; json: string | null } {
  const flags = new Map<string, string>()
  let keep = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n')
      process.exit(0)
    }
    if (a === '--keep') {
      keep = true
      continue
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a)
    if (!m) usage(`unexpected argument ${JSON.stringify(a)}`)
    const known = [
      'profile',
      'brokers',
      'faults',
      'max-seconds',
      'json',
      'bindfs',
      'seed',
      'adapter',
      'keep-alive',
      'binary',
      'cpu-hogs',
      'kinds',
    ]
    if (!known.includes(m[1]!)) usage(`unknown option --${m[1]}`)
    const v = m[2] ?? argv[++i]
    if (v === undefined) usage(`--${m[1]} needs a value`)
    flags.set(m[1]!, v)
  }
  const profile = choice('profile', flags.get('profile') ?? 'short', ['short', 'long'] as const)
  const root = path.resolve(import.meta.dir, '..')
  const binaryPath = flags.get('binary') ?? path.join(root, 'dist', 'sfbroker')
  if (!fs.existsSync(binaryPath)) usage(`--binary ${binaryPath}: no such file (build it with npm run build)`)
  const opts: ChaosOptions = {
    profile,
    brokers: flags.has('brokers') ? int('brokers', flags.get('brokers'), 2, 9) : 3,
    faults: flags.has('faults') ? int('faults', flags.get('faults'), 1, 10000) : profile === 'short' ? 10 : 100,
    maxSeconds: flags.has('max-seconds')
      ? int('max-seconds', flags.get('max-seconds'), 30, 7 * 86400)
      : profile === 'short'
        ? SHORT_MAX_SECONDS
        : 3600,
    bindfs: choice('bindfs', flags.get('bindfs') ?? 'auto', ['on', 'off', 'auto'] as const),
    seed: flags.has('seed') ? int('seed', flags.get('seed'), 0, 2 ** 31 - 1) : Math.floor(Math.random() * 1e9),
    adapter: choice('adapter', flags.get('adapter') ?? 'kahaDB', ['kahaDB', 'levelDB', 'amq'] as const),
    keepAliveMs: flags.has('keep-alive') ? int('keep-alive', flags.get('keep-alive'), 100, 60000) : 500,
    binary: [path.resolve(binaryPath)],
    cpuHogs: flags.has('cpu-hogs') ? int('cpu-hogs', flags.get('cpu-hogs'), 1, 64) : 4,
    kinds: flags.has('kinds')
      ? flags
          .get('kinds')!
          .split(',')
          .map((k) => choice('kinds', k.trim(), FAULT_KINDS) as FaultKind)
      : undefined,
    keep,
  }
  return { opts, json: flags.get('json') ?? null }
}

if (import.meta.main) {
  const { opts, json } = parseArgs(process.argv.slice(2))
  // The client library logs every reconnect and interruption; the harness reports failovers itself.
  configureLogging('error', 'pretty')
  const report = await runChaos(opts)
  process.stdout.write('\n' + formatReport(report) + '\n')
  if (json) {
    fs.writeFileSync(json, JSON.stringify(report, null, 2) + '\n')
    process.stdout.write(`JSON report written to ${json}\n`)
  }
  process.exit(report.ok ? 0 : 1)
}
