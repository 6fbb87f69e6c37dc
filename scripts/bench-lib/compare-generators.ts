/**
 * Ad-hoc diagnosis (not a row of the suite): one sfbroker and one ActiveMQ primary, the 1-producer receipt-per-message
 * load driven alternately by the raw generator and by stompjs, `rounds` times, to see whether the generators agree.
 *
 *   bun scripts/bench-lib/compare-generators.ts BINARY [count] [rounds]
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ActiveMQKind, SfbrokerKind } from './brokers.ts'
import { mustLoad, type Generator } from './loads.ts'
import { freePort } from './proc.ts'

const [binary, countArg, roundsArg, producersArg] = process.argv.slice(2)
const count = Number(countArg ?? 2000)
const rounds = Number(roundsArg ?? 2)
const producers = Number(producersArg ?? 1)
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sfb-cmp-'))
const procs: { stop(): Promise<void> }[] = []
try {
  const kinds = [new SfbrokerKind(path.resolve(binary!), work), new ActiveMQKind()]
  const ports: number[] = []
  for (const k of kinds) {
    const port = await freePort()
    const dir = fs.mkdtempSync(path.join(work, 'd-'))
    procs.push((await k.start({ dataDir: dir, port, role: 'primary', timeoutMs: 60_000 })).proc)
    ports.push(port)
  }
  for (let r = 0; r < rounds; r++) {
    for (const gen of ['raw', 'stompjs'] as Generator[]) {
      for (let i = 0; i < kinds.length; i++) {
        const res = await mustLoad(
          'cmp',
          {
            timeoutMs: 120_000,
            produce: {
              port: ports[i]!,
              destination: `/queue/cmp.${gen}`,
              producers,
              count,
              sizeBytes: 1024,
              persistent: true,
              receipts: 'every',
              window: 1,
            },
          },
          gen,
        )
        const p = res.produce!
        console.log(
          `${kinds[i]!.label.padEnd(14)} ${gen.padEnd(8)} ${p.msgsPerSec.toFixed(0).padStart(6)} msg/s  p50 ${p.receiptMs!.p50.toFixed(3)} p99 ${p.receiptMs!.p99.toFixed(3)} ms`,
        )
      }
    }
  }
} finally {
  for (const p of procs) await p.stop()
  fs.rmSync(work, { recursive: true, force: true })
}
