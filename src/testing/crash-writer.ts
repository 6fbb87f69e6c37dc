/**
 * Crash writer: the child process of the conformance suite's kill -9 group (src/storage/conformance.ts).
 * It opens an adapter (module + export given in its one JSON argument, a CrashWriterConfig) in a directory, reads
 * what is already there, then writes a seeded random sequence of batches (single adds, multi-destination adds,
 * removes of messages known durable, mixed transactions) with several writes in flight, and prints one JSON line
 * per event: `issue` before a write() is called, `durable` when it resolved. Lines go out with a synchronous
 * write(2) on fd 1, so a line is printed before the next step starts and a SIGKILL cannot reorder them.
 * It never exits by itself while writes remain: the parent kills it.
 *
 * Message ids are `r<round>-<n>` in issue order; the body starts with `<id>|` and header `x-dest` names the
 * destination, so the parent can check that nothing was invented or moved.
 */
import { writeSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import type { CrashLine, CrashWriterConfig } from '../storage/conformance.ts'
import type { PersistenceAdapter, StoreOp } from '../storage/types.ts'
import { SeededRandom } from '../lib/random.ts'
import { createMessage, prop } from '../model/index.ts'

function emit(line: CrashLine): void {
  writeSync(1, JSON.stringify(line) + '\n')
}

async function construct(cfg: CrashWriterConfig): Promise<PersistenceAdapter> {
  const url = cfg.module.startsWith('file:') ? cfg.module : pathToFileURL(cfg.module).href
  const mod = (await import(url)) as Record<string, unknown>
  const X = mod[cfg.exportName]
  if (typeof X !== 'function') throw new Error(`crash writer: ${cfg.module} has no function export "${cfg.exportName}"`)
  const isClass = /^class[\s{]/.test(Function.prototype.toString.call(X))
  return isClass ? new (X as new () => PersistenceAdapter)() : (X as (dir: string) => PersistenceAdapter)(cfg.dir)
}

async function main(): Promise<void> {
  const arg = process.argv[2]
  if (!arg) throw new Error('usage: crash-writer <CrashWriterConfig as JSON>')
  const cfg = JSON.parse(arg) as CrashWriterConfig
  const rnd = new SeededRandom(cfg.seed)
  const store = await construct(cfg)
  await store.open({ directory: cfg.dir, epoch: cfg.epoch, syncPolicy: 'always', ...cfg.openOptions })
  const dests = Array.from({ length: cfg.destinations }, (_, i) => `q${i}`)
  // Messages known durable, which later batches may remove: id -> (destination, seq).
  const removable: { id: string; destination: string; seq: number }[] = []
  for (const d of dests) {
    let after = 0
    for (let pages = 0; pages < 10_000; pages++) {
      const page = await store.load(d, after, 1000)
      if (page.length === 0) break
      for (const m of page) removable.push({ id: m.message.messageId, destination: d, seq: m.seq })
      after = page[page.length - 1].seq
    }
  }
  emit({ t: 'ready', present: removable.length })

  let n = 0
  let inflight = 0
  let wake: (() => void) | null = null
  const takeRemovable = (): { id: string; destination: string; seq: number } | undefined => {
    if (removable.length === 0) return undefined
    const i = rnd.int(0, removable.length - 1)
    return removable.splice(i, 1)[0]
  }
  for (let b = 0; b < cfg.maxBatches; b++) {
    while (inflight >= cfg.inflight) await new Promise<void>((r) => (wake = r))
    const ops: StoreOp[] = []
    const adds: [string, string][] = []
    const removes: string[] = []
    const kind = rnd.next()
    const nAdds = kind < 0.55 ? 1 : kind < 0.7 ? rnd.int(2, 4) : kind < 0.85 ? 0 : rnd.int(1, 3)
    const nRemoves = kind < 0.7 ? 0 : kind < 0.85 ? 1 : rnd.int(1, 2)
    for (let i = 0; i < nRemoves; i++) {
      const r = takeRemovable()
      if (!r) break
      ops.push({ op: 'remove', destination: r.destination, seq: r.seq })
      removes.push(r.id)
    }
    for (let i = 0; i < nAdds || ops.length === 0; i++) {
      const id = `r${cfg.round}-${n++}`
      const destination = dests[rnd.int(0, dests.length - 1)]
      const size = rnd.int(0, 2048)
      const body = Buffer.alloc(id.length + 1 + size, `${id}|`)
      ops.push({
        op: 'add',
        destination,
        message: createMessage({
          messageId: id,
          destination: { kind: 'queue', name: destination },
          timestamp: 1_700_000_000_000,
          persistent: true,
          properties: new Map([
            ['x-dest', prop.string(destination)],
            ['x-batch', prop.string(String(b))],
          ]),
          bodyKind: 'bytes',
          body,
          producer: { id, seq: null },
        }),
      })
      adds.push([id, destination])
    }
    emit({ t: 'issue', b, adds, removes })
    inflight++
    store.write(ops).then(
      (res) => {
        emit({ t: 'durable', b, seqs: res.seqs })
        adds.forEach(([id, destination], i) => removable.push({ id, destination, seq: res.seqs[i] }))
        inflight--
        const w = wake
        wake = null
        w?.()
      },
      (e: unknown) => {
        emit({ t: 'error', b, code: String((e as { code?: string }).code ?? 'none'), message: String(e) })
        process.exit(2)
      },
    )
  }
  while (inflight > 0) await new Promise<void>((r) => (wake = r))
  emit({ t: 'finished' })
  // Wait for the parent's SIGKILL (bounded: a forgotten child exits after a minute).
  setTimeout(() => process.exit(0), 60_000)
}

main().catch((e: unknown) => {
  process.stderr.write(`crash writer failed: ${(e as Error).stack ?? String(e)}\n`)
  process.exit(1)
})
