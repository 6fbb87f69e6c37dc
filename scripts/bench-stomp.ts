/**
 * STOMP throughput of sfbroker (the issue-5 benchmark): msg/s for persistent SENDs with a receipt per message from 1
 * and 4 producers, persistent windowed receipts, non-persistent producer + consumer, and the drain of the windowed
 * row's persistent messages; 1 KiB bodies by default. Also prints start time and RSS, since they come for free.
 * With --with-activemq the same loads run against ActiveMQ 5.17 in the same run (row by row, alternating brokers)
 * and the table gets ratios.
 * The broker runs from the compiled binary (primary + replica on a temp shared dir); the load generator runs in a
 * separate process. Prints numbers; asserts none.
 *
 *   npm run build && bun scripts/bench-stomp.ts [flags]
 *
 *   --binary PATH     sfbroker executable (default dist/sfbroker)
 *   --p1 N --p4 N     messages for the receipted 1 / 4 producer rows (default 5000 / 10000)
 *   --window-count N  messages for the windowed row, then drained (default 100000)
 *   --window N        receipts in flight in the windowed row (default 1000)
 *   --np N            messages for the non-persistent row (default 100000)
 *   --size N          message body bytes (default 1024)
 *   --load-timeout-ms N  bound of each load (default 300000)
 *   --starts N        starts on a fresh shared dir timed for the start row, median reported (default 5)
 *   --with-activemq   run the same loads against ActiveMQ 5.17 too
 *   --json FILE       also write the results as JSON
 */
import fs from 'node:fs'
import path from 'node:path'
import { Args } from './bench-lib/args.ts'
import { ActiveMQKind, activemqUnavailable, SfbrokerKind, type BrokerKind } from './bench-lib/brokers.ts'
import { BenchError } from './bench-lib/proc.ts'
import {
  LOAD_ROW_INT_FLAGS,
  LOAD_ROW_STRING_FLAGS,
  suiteOptionsFromArgs,
  formatTable,
  makeWorkDir,
  runLoadRows,
  type Column,
} from './bench-lib/suite.ts'

const USAGE = fs
  .readFileSync(new URL(import.meta.url), 'utf8')
  .split('*/')[0]!
  .replace(/^\/\*\*\n/, '')
  .replace(/^ \* ?/gm, '')

async function main(): Promise<number> {
  const args = new Args(process.argv.slice(2), {
    ints: LOAD_ROW_INT_FLAGS,
    strings: ['binary', 'json', ...LOAD_ROW_STRING_FLAGS],
    bools: ['with-activemq'],
  })
  if (args.has('help')) {
    console.log(USAGE)
    return 0
  }
  const root = path.resolve(import.meta.dir, '..')
  const workDir = makeWorkDir('sfb-bench-stomp-')
  const o = suiteOptionsFromArgs(args, workDir, { backlog: 0, takeovers: 0 })
  try {
    const kinds: BrokerKind[] = [
      new SfbrokerKind(path.resolve(args.str('binary', path.join(root, 'dist/sfbroker'))), workDir),
    ]
    if (args.has('with-activemq')) {
      const why = activemqUnavailable()
      if (why) console.log(`ActiveMQ: ${why}; sfbroker only`)
      else kinds.push(new ActiveMQKind())
    }
    const results = await runLoadRows(kinds, o)
    const columns: Column[] = kinds.map((k, i) => ({ label: k.label, result: results[i]! }))
    const table = formatTable(o, columns)
    console.log(`\n${table}\n`)
    for (const c of columns)
      for (const [k, v] of Object.entries(c.result)) if (v?.note) console.log(`- ${c.label} ${k}: ${v.note}`)
    const jsonPath = args.str('json', '')
    if (jsonPath)
      fs.writeFileSync(jsonPath, JSON.stringify({ options: { ...o, log: undefined }, columns, table }, null, 2) + '\n')
    return 0
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true })
  }
}

try {
  process.exitCode = await main()
} catch (e) {
  console.error(e instanceof BenchError ? `bench-stomp: ${e.message}` : e)
  process.exitCode = 1
}
