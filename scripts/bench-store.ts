/**
 * bench-store: per persistence adapter, durable appends/s of 1 KiB messages with 1 and with 16 concurrent writers
 * (syncPolicy always, so each resolved write is on disk), the fsyncs/s observed meanwhile, and the recovery time
 * (open()) of a store holding N messages. Prints a table. Not a test: numbers depend on the disk.
 *
 *   npx bun scripts/bench-store.ts [--adapter kahaDB|levelDB|amq|all] [--messages N] [--seconds S] [--dir PATH]
 *
 * --messages: messages in the recovery store (default 1,000,000); --seconds: length of each append phase (default 3);
 * --dir: parent of the temporary stores (default the OS temp dir; removed afterwards).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAdapter } from '../src/storage/index.ts'
import type { PersistenceAdapter, StoreOp } from '../src/storage/types.ts'
import type { AdapterKind } from '../src/config/types.ts'
import { configureLogging } from '../src/lib/log.ts'
import { createMessage } from '../src/model/index.ts'

const KINDS: AdapterKind[] = ['kahaDB', 'levelDB', 'amq']
const WRITERS = 16
const BODY = new Uint8Array(1024).fill(0x61)
const FILL_BATCH = 1000
/** Hard cap on appends per phase, whatever the duration (bounded loops). */
const APPENDS_MAX = 5_000_000

function usage(msg: string): never {
  console.error(
    `bench-store: ${msg}\nusage: bench-store [--adapter kahaDB|levelDB|amq|all] [--messages N] [--seconds S] [--dir PATH]`,
  )
  process.exit(2)
}

function parseArgs(argv: string[]) {
  const out = { adapters: KINDS, messages: 1_000_000, seconds: 3, dir: tmpdir() }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const v = argv[i + 1]
    if (a === '--adapter') {
      if (v === 'all') out.adapters = KINDS
      else if (KINDS.includes(v as AdapterKind)) out.adapters = [v as AdapterKind]
      else usage(`--adapter: ${JSON.stringify(v)} is not kahaDB, levelDB, amq or all`)
    } else if (a === '--messages') {
      const n = Number(v)
      if (!Number.isInteger(n) || n < 0) usage(`--messages: ${JSON.stringify(v)} is not a non-negative integer`)
      out.messages = n
    } else if (a === '--seconds') {
      const n = Number(v)
      if (!(n > 0 && n <= 600)) usage(`--seconds: ${JSON.stringify(v)} is not a number in (0, 600]`)
      out.seconds = n
    } else if (a === '--dir') {
      if (!v) usage('--dir needs a path')
      out.dir = v
    } else usage(`unknown argument ${JSON.stringify(a)}`)
    i++
  }
  return out
}

/** One timestamp for every benchmark message: the records keep a constant size and no clock read per op. */
const BENCH_TIMESTAMP = Date.now()

const addOp = (id: string): StoreOp => ({
  op: 'add',
  destination: 'queue://BENCH',
  message: createMessage({
    messageId: id,
    destination: { kind: 'queue', name: 'BENCH' },
    timestamp: BENCH_TIMESTAMP,
    persistent: true,
    body: BODY,
  }),
})

async function appendPhase(a: PersistenceAdapter, writers: number, seconds: number, tag: string) {
  const syncs0 = a.stats().syncs
  const syncMs0 = a.stats().syncLatencySumMs
  const t0 = performance.now()
  const until = t0 + seconds * 1000
  let n = 0
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < until && n < APPENDS_MAX; i++) {
        await a.write([addOp(`${tag}-${w}-${i}`)])
        n++
      }
    }),
  )
  const s = (performance.now() - t0) / 1000
  const syncs = a.stats().syncs - syncs0
  return {
    perSec: n / s,
    syncsPerSec: syncs / s,
    syncMsAvg: syncs > 0 ? (a.stats().syncLatencySumMs - syncMs0) / syncs : NaN,
  }
}

async function bench(kind: AdapterKind, o: ReturnType<typeof parseArgs>) {
  const root = mkdtempSync(join(o.dir, `bench-${kind}-`))
  try {
    // Appends.
    const a = createAdapter(kind)
    await a.open({ directory: join(root, 'append'), epoch: 1, syncPolicy: 'always', cleanupIntervalMs: 0 })
    const one = await appendPhase(a, 1, o.seconds, 'one')
    const many = await appendPhase(a, WRITERS, o.seconds, 'many')
    await a.close()
    // Recovery of a store holding N messages (filled fast: big batches, no per-batch fsync).
    let recoveryMs = NaN
    let fillS = NaN
    let recovered = 0
    if (o.messages > 0) {
      const dir = join(root, 'recovery')
      const f = createAdapter(kind)
      await f.open({ directory: dir, epoch: 1, syncPolicy: 'never', cleanupIntervalMs: 0 })
      const t0 = performance.now()
      for (let done = 0; done < o.messages; done += FILL_BATCH) {
        const n = Math.min(FILL_BATCH, o.messages - done)
        await f.write(Array.from({ length: n }, (_, i) => addOp(`fill-${done + i}`)))
      }
      await f.close()
      fillS = (performance.now() - t0) / 1000
      const r = createAdapter(kind)
      const t1 = performance.now()
      const rec = await r.open({ directory: dir, epoch: 2, cleanupIntervalMs: 0 })
      recoveryMs = performance.now() - t1
      recovered = rec.destinations.reduce((s, d) => s + d.count, 0)
      await r.close()
      if (recovered !== o.messages) throw new Error(`${kind}: recovered ${recovered} of ${o.messages} messages`)
    }
    return { kind, one, many, recoveryMs, fillS, recovered }
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

async function main() {
  configureLogging('warn', 'pretty')
  const o = parseArgs(process.argv.slice(2))
  const rows: Awaited<ReturnType<typeof bench>>[] = []
  for (const kind of o.adapters) {
    console.error(`bench-store: ${kind} ...`)
    rows.push(await bench(kind, o))
  }
  const f = (n: number, d = 0) =>
    Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
  const head = [
    'adapter',
    'appends/s 1w',
    'fsyncs/s 1w',
    'fsync ms 1w',
    `appends/s ${WRITERS}w`,
    `fsyncs/s ${WRITERS}w`,
    `fsync ms ${WRITERS}w`,
    'speedup',
    `recovery ms (${f(o.messages)} msgs)`,
    'fill s',
  ]
  const body = rows.map((r) => [
    r.kind,
    f(r.one.perSec),
    f(r.one.syncsPerSec),
    f(r.one.syncMsAvg, 2),
    f(r.many.perSec),
    f(r.many.syncsPerSec),
    f(r.many.syncMsAvg, 2),
    `${f(r.many.perSec / r.one.perSec, 1)}x`,
    f(r.recoveryMs),
    f(r.fillS, 1),
  ])
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ')
  console.log(line(head))
  console.log(width.map((w) => '-'.repeat(w)).join('  '))
  for (const b of body) console.log(line(b))
}

await main()
