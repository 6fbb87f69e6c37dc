/**
 * Seals: the storage half of epoch fencing (shared design FENCING.md). A store opened with epoch E writes
 * `seals/E.json` before it reads anything: for every journal segment of an older epoch, the byte length that the
 * new primary (and every later one) will recover. Bytes a deposed primary appends after that are never read as
 * data, only counted. A segment of epoch e is read up to the smallest length any seal of an epoch > e recorded for
 * it; a segment such a seal does not list was created after the seal and yields nothing. Seals are written
 * atomically (tmp file, fsync, rename, directory fsync) so a crash leaves the old seal or the new, never half.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { FileIO } from './file-io.ts'

export const SEALS_DIR = 'seals'

export interface Seal {
  epoch: number
  /** segment id -> sealed byte length */
  segments: Record<string, number>
  createdAt: number
}

export async function readSeals(io: FileIO, dir: string): Promise<Map<number, Seal>> {
  const out = new Map<number, Seal>()
  for (const name of await io.readdir(`${dir}/${SEALS_DIR}`)) {
    const m = /^(\d+)\.json$/.exec(name)
    if (!m) continue
    const path = `${dir}/${SEALS_DIR}/${name}`
    // Written once, by rename, under a name of its own: never rewritten, so no stale cached size to refresh.
    const raw = await io.readFile(path, { immutable: true })
    if (!raw) continue
    let seal: Seal
    try {
      seal = JSON.parse(Buffer.from(raw).toString('utf8')) as Seal
    } catch (e) {
      // A seal is written by rename, so a partial one means the file system lost data: refuse rather than guess.
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `seal ${path}: unparsable JSON (${(e as Error).message}); expected {epoch, segments}`,
        { cause: e, details: { file: path } },
      )
    }
    if (seal.epoch !== Number(m[1]) || typeof seal.segments !== 'object' || seal.segments === null) {
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `seal ${path}: epoch ${JSON.stringify(seal.epoch)} or segments do not match the file name`,
        { details: { file: path } },
      )
    }
    out.set(seal.epoch, seal)
  }
  return out
}

/** The highest epoch any seal names (0 when none). */
export function maxSealEpoch(seals: Map<number, Seal>): number {
  let m = 0
  for (const e of seals.keys()) m = Math.max(m, e)
  return m
}

/** How many bytes of segment `id` (written by `epoch`) may be recovered: Infinity when no newer seal constrains it. */
export function sealLimit(seals: Map<number, Seal>, id: number, epoch: number): number {
  let limit = Infinity
  for (const s of seals.values()) {
    if (s.epoch <= epoch) continue
    limit = Math.min(limit, s.segments[String(id)] ?? 0)
  }
  return limit
}

export async function writeSeal(io: FileIO, dir: string, seal: Seal): Promise<void> {
  const sdir = `${dir}/${SEALS_DIR}`
  const tmp = `${sdir}/${seal.epoch}.json.tmp`
  const h = await io.open(tmp, 'createExclusive').catch(async (e) => {
    // A tmp left by a crash mid-seal: it was never renamed, so it counts for nothing.
    if ((e as BrokerError).details?.errno !== 'EEXIST') throw e
    await io.unlink(tmp)
    return io.open(tmp, 'createExclusive')
  })
  try {
    await h.write(Buffer.from(JSON.stringify(seal), 'utf8'), 0)
    await h.sync()
  } finally {
    await h.close()
  }
  await io.rename(tmp, `${sdir}/${seal.epoch}.json`)
  await io.syncDir(sdir)
}
