/**
 * JournalMaintenance: what keeps a journal store small and its recovery short, run as tasks between group
 * commits. Checkpoint (kahaDB): the index written atomically to `index-<epoch>.ckpt`, published only while we
 * still pass the fence; amq only syncs. GC: deletes segments no live message needs (kahaDB: before the checkpoint
 * position; amq: only a prefix, after copying its live subscription records, dedupe ids and the next seq forward in
 * a CARRY record), never for a newer primary, then prunes seals that constrain nothing any more.
 */
import type { Clock } from '../../lib/clock.ts'
import { logger } from '../../lib/log.ts'
import { encodeCarry, frameRecord, RT_CARRY, type CarryPayload } from './format.ts'
import type { JournalGroupCommit } from './group-commit.ts'
import { encodeCheckpoint, type CheckpointMeta, type IndexState } from './index-state.ts'
import type { Journal } from './journal.ts'
import type { JournalReader } from './reader.ts'
import { maxSealEpoch, SEALS_DIR, type Seal } from './seals.ts'

const log = logger('storage')

export interface MaintenanceInput {
  journal: Journal
  index: IndexState
  reader: JournalReader
  commit: JournalGroupCommit
  seals: Map<number, Seal>
  clock: Clock
  /** kahaDB (true) or amq (false). */
  checkpoints: boolean
  fence: () => Promise<void>
  /** The checkpoint recovery loaded, its size, and the records replayed after it (changes not yet checkpointed). */
  ckpt: CheckpointMeta | null
  ckptBytes: number
  recordsReplayed: number
}

export class JournalMaintenance {
  private ckpt: CheckpointMeta | null
  /** Bytes of the current checkpoint file (stats). */
  ckptBytes: number
  /** changes since the last checkpoint = changesBase + commit.applied. */
  private changesBase: number

  constructor(private readonly m: MaintenanceInput) {
    this.ckpt = m.ckpt
    this.ckptBytes = m.ckptBytes
    this.changesBase = m.recordsReplayed
  }

  /** kahaDB: write the index atomically; amq: only make the journal durable (it has no index file). */
  async checkpoint(force: boolean): Promise<void> {
    const { journal: j, commit } = this.m
    await j.syncCurrent()
    if (!this.m.checkpoints) return
    if (!force && this.changesBase + commit.applied === 0) return
    const cur = j.cur!
    const meta: CheckpointMeta = { epoch: j.epoch, file: cur.id, offset: cur.size, createdAt: this.m.clock.now() }
    const buf = encodeCheckpoint(this.m.index, meta)
    const name = `index-${j.epoch}.ckpt`
    const tmp = j.path(`${name}.tmp`)
    await j.io.unlink(tmp)
    const h = await j.io.open(tmp, 'createExclusive')
    try {
      await h.write(buf, 0)
      await j.timedSync(h)
    } finally {
      await h.close()
    }
    // Like a group commit: only a still-current primary may publish what recovery will trust.
    await this.m.fence()
    await j.io.rename(tmp, j.path(name))
    await j.io.syncDir(j.dir)
    this.ckpt = meta
    this.ckptBytes = buf.length
    this.changesBase = -commit.applied
    // Older epochs' index files are superseded (recovery takes the highest epoch's).
    for (const n of await j.io.readdir(j.dir)) {
      const m = /^index-(\d+)\.ckpt$/.exec(n)
      if (m && Number(m[1]) < j.epoch) await j.io.unlink(j.path(n))
    }
  }

  /** Delete the segments no live message needs; returns their ids. */
  async cleanup(): Promise<number[]> {
    const { journal: j, index, reader } = this.m
    const cur = j.cur!
    const ids = [...j.segments.keys()].sort((a, b) => a - b)
    const free = (id: number) => id !== cur.id && !index.refs.has(id) && !reader.pinned(id)
    let doomed: number[]
    if (this.m.checkpoints) {
      const candidates = ids.filter(free)
      if (candidates.length === 0) return []
      // Segments at or after the checkpoint position are still needed for replay: move the checkpoint forward first.
      if (!this.ckpt || candidates.some((id) => id >= this.ckpt!.file)) await this.checkpoint(true)
      doomed = candidates.filter((id) => id < this.ckpt!.file)
    } else {
      doomed = []
      for (const id of ids) {
        if (!free(id)) break
        doomed.push(id)
      }
      if (doomed.length === 0) return []
      const set = new Set(doomed)
      // Always written: besides live records it carries nextSeq, so seqs keep growing when every old segment goes.
      await this.writeCarry({
        nextSeq: index.nextSeq,
        subscriptions: [...index.subs.values()].filter((s) => set.has(s.file)).map((s) => s.rec),
        dedupe: [...index.dedupe.entries()].filter(([, f]) => set.has(f)).map(([id]) => id),
      })
    }
    if (doomed.length === 0) return []
    // Never delete for a newer primary: it may still need these bytes.
    await this.m.fence()
    await j.assertNoNewerEpoch('delete journal segments')
    for (const id of doomed) {
      reader.closeHandle(id)
      await j.deleteSegment(id)
    }
    await j.io.syncDir(j.dir)
    await this.pruneSeals()
    log.debug(`store ${j.dir}: GC deleted ${doomed.length} segment(s)`, { segments: doomed })
    return doomed
  }

  /** amq GC: copy live subscriptions and dedupe ids forward before the segments holding them go. */
  private async writeCarry(carry: CarryPayload) {
    const { journal: j, index } = this.m
    const record = frameRecord(RT_CARRY, j.epoch, encodeCarry(carry))
    if (j.wouldOverflow(record.length)) await j.roll()
    const file = j.cur!.id
    await j.appendDurable(record)
    await this.m.fence()
    for (const s of carry.subscriptions) index.putSubscription(s, file)
    for (const id of carry.dedupe) index.dedupe.ids.set(id, file)
  }

  /** A seal of epoch s may go once no segment of an epoch below s remains (it constrains nothing any more). */
  private async pruneSeals() {
    const { journal: j, seals } = this.m
    const top = maxSealEpoch(seals)
    let minEpoch = Infinity
    for (const s of j.segments.values()) minEpoch = Math.min(minEpoch, s.epoch)
    let changed = false
    for (const e of [...seals.keys()]) {
      if (e === top || e <= minEpoch) continue
      await j.io.unlink(j.path(`${SEALS_DIR}/${e}.json`))
      seals.delete(e)
      changed = true
    }
    if (changed) await j.io.syncDir(j.path(SEALS_DIR))
  }
}
