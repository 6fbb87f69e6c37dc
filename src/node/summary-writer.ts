/**
 * SummaryWriter: store-summary.json in the shared dir, for `sfbroker status` and replicas' consoles: the serving
 * term's store counts, scheduler stats, store integrity and connection counts, written atomically (tmp + rename).
 * One write at a time (they share the tmp file): the timer skips a turn while one is in flight (a hung share must
 * not pile them up); the final write at a clean stop (`after: true`) waits for it, then writes. Never rejects.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { AdapterKind } from '../config/index.ts'
import type { ConnectionSummary } from '../election/index.ts'
import { logger } from '../lib/log.ts'
import type { Serving } from './serving.ts'

const log = logger('node')

export interface SummarySource {
  nodeId: string
  /** The shared directory (the store's directory). */
  directory: string
  adapter: AdapterKind
  /** The term being served now, or null; a write whose term ended meanwhile is dropped. */
  serving(): Serving | null
  connections(): ConnectionSummary
}

export class SummaryWriter {
  /** The write in flight, if any. */
  private inFlight: Promise<void> | null = null

  constructor(private readonly src: SummarySource) {}

  write(opts: { after?: boolean } = {}): Promise<void> {
    const prev = this.inFlight
    if (prev && !opts.after) return prev
    const p = (prev ?? Promise.resolve()).then(() => this.writeNow())
    this.inFlight = p
    void p.then(() => {
      if (this.inFlight === p) this.inFlight = null
    })
    return p
  }

  private async writeNow(): Promise<void> {
    const src = this.src
    const s = src.serving()
    if (!s) return
    try {
      const st = s.store?.stats()
      const summary = {
        nodeId: src.nodeId,
        epoch: s.epoch,
        adapter: src.adapter,
        bytes: st?.bytes ?? 0,
        messages: st?.messages ?? 0,
        destinations: st?.destinations ?? [],
        scheduler: s.scheduler ? s.scheduler.stats() : null,
        // Damage the stores found in their own files (corrupt records, torn tail): `sfbroker status` warns on it.
        integrity: { store: st?.integrity ?? null, scheduler: s.schedulerStore?.stats().integrity ?? null },
        connections: src.connections(),
        updatedAt: Date.now(),
      }
      const file = path.join(src.directory, 'store-summary.json')
      const tmp = `${file}.${src.nodeId}.tmp`
      await fs.promises.writeFile(tmp, JSON.stringify(summary, null, 2))
      if (src.serving() !== s) return void (await fs.promises.unlink(tmp).catch(() => undefined))
      await fs.promises.rename(tmp, file)
    } catch (err) {
      log.debug(`store summary not written: ${(err as Error).message}`)
    }
  }
}
