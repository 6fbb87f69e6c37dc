/**
 * Opening the LevelDB database of a levelDB store: the native open, retried while another process still holds
 * LevelDB's own `LOCK` (a deposed primary closing its store), with a scan of the write-ahead logs right before each
 * attempt (LevelDB drops a torn tail silently, so we look first); the meta record check and claim of our epoch;
 * and the mapping of LevelDB's errors to storage codes.
 */
import { BrokerError } from '../../../lib/errors.ts'
import { logger } from '../../../lib/log.ts'
import { refreshDir } from '../../fresh-size.ts'
import { NativeDb } from './native.ts'
import { scanWriteAheadLogs, type WalScan } from './recovery-findings.ts'
import { FORMAT_NAME, FORMAT_VERSION, FORMAT_VERSION_V1, META_KEY, type Meta } from './keys.ts'
import { upgradeRefused } from './level-upgrade.ts'

const log = logger('storage-leveldb')

/** Pause between attempts while LevelDB's LOCK is held. */
const LOCKED_RETRY_PAUSE_MS = 100

export function ioError(where: string, e: unknown): BrokerError {
  if (e instanceof BrokerError) return e
  const code = (e as { code?: string }).code
  const msg = (e as Error)?.message ?? String(e)
  if (code === 'LEVEL_CORRUPTION')
    return new BrokerError('STORAGE_CORRUPT_RECORD', `levelDB ${where}: ${msg}`, {
      cause: e,
      details: { levelCode: code },
    })
  if (code === 'LEVEL_LOCKED') {
    return new BrokerError(
      'STORAGE_IO',
      `levelDB ${where}: the database is open in another process (${msg}); expected it free after taking the broker lock`,
      { cause: e, details: { levelCode: code } },
    )
  }
  return new BrokerError('STORAGE_IO', `levelDB ${where}: ${msg}`, { cause: e, details: { levelCode: code } })
}

/**
 * Open the database in `levelDir`, retrying for up to `lockedRetryMs` while it is locked by another process.
 * Returns it with the scans of the logs it replayed (as they were just before the successful attempt).
 */
export async function openLocked(
  levelDir: string,
  lockedRetryMs: number,
  started: number,
): Promise<{ db: NativeDb; scans: WalScan[] }> {
  // Bounded by time (lockedRetryMs) and count.
  for (let attempt = 0; ; attempt++) {
    try {
      // Sizes as the file server has them, not as this host cached them: the last primary (another host) may
      // have appended a moment ago, and LevelDB reads a log until a short read (../../fresh-size.ts).
      await refreshDir(levelDir)
      // The logs LevelDB is about to replay, as they are just before this attempt (it drops a torn tail silently).
      const scans = await scanWriteAheadLogs(levelDir)
      return { db: await NativeDb.open(levelDir), scans }
    } catch (e) {
      const locked = (e as { code?: string }).code === 'LEVEL_LOCKED'
      const waited = performance.now() - started
      if (
        !locked ||
        waited + LOCKED_RETRY_PAUSE_MS > lockedRetryMs ||
        attempt > lockedRetryMs / LOCKED_RETRY_PAUSE_MS + 1
      ) {
        throw ioError(`open ${levelDir}${locked && attempt > 0 ? ` (retried ${Math.round(waited)} ms)` : ''}`, e)
      }
      if (attempt === 0) log.warn(`${levelDir} is locked by another process; retrying for up to ${lockedRetryMs} ms`)
      await new Promise((r) => setTimeout(r, LOCKED_RETRY_PAUSE_MS))
    }
  }
}

/**
 * Check the meta record (ours, this version or 0.1.0's when `canUpgrade`, not a newer epoch: STORAGE_FORMAT or
 * STORAGE_FENCED), then record our epoch in it, synced, before any write. Returns the version found (the meta keeps
 * it until the upgrade is done: see level-upgrade.ts and writeMetaVersion).
 */
export async function claimMeta(db: NativeDb, levelDir: string, epoch: number, canUpgrade: boolean): Promise<number> {
  let version = FORMAT_VERSION
  let metaRaw: Buffer | undefined
  await db.scan({ gte: META_KEY, lte: META_KEY }, (_k, v) => (metaRaw = v))
  if (metaRaw === undefined) {
    const otherKeys = await db.scan({ limit: 1, keysOnly: true }, () => {})
    if (otherKeys > 0)
      throw new BrokerError(
        'STORAGE_FORMAT',
        `levelDB ${levelDir}: a LevelDB database without sfbroker meta (foreign format); expected an empty directory or a ${FORMAT_NAME} store`,
      )
  } else {
    let meta: Partial<Meta>
    try {
      meta = JSON.parse(metaRaw.toString('utf8')) as Partial<Meta>
    } catch {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `levelDB ${levelDir}: meta record is not JSON (foreign format); expected ${FORMAT_NAME} version ${FORMAT_VERSION}`,
      )
    }
    if (meta.format !== FORMAT_NAME) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `levelDB ${levelDir}: meta format "${String(meta.format)}", expected "${FORMAT_NAME}"`,
      )
    }
    if (meta.version !== FORMAT_VERSION && meta.version !== FORMAT_VERSION_V1) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `levelDB ${levelDir}: format version ${String(meta.version)}, this broker reads versions ${FORMAT_VERSION_V1} and ${FORMAT_VERSION}`,
      )
    }
    if (meta.version === FORMAT_VERSION_V1 && !canUpgrade) throw upgradeRefused(levelDir)
    version = meta.version
    if (typeof meta.epoch === 'number' && meta.epoch > epoch) {
      throw new BrokerError(
        'STORAGE_FENCED',
        `levelDB ${levelDir}: store written under epoch ${meta.epoch}, newer than ours (${epoch}); a newer primary exists`,
        { details: { storeEpoch: meta.epoch, epoch } },
      )
    }
  }
  await writeMetaVersion(db, epoch, version)
  return version
}

/** Write the meta record (synced: it also makes every earlier unsynced batch durable). */
export async function writeMetaVersion(db: NativeDb, epoch: number, version: number): Promise<void> {
  const meta: Meta = { format: FORMAT_NAME, version, epoch, createdAt: Date.now() }
  await db.batch([{ type: 'put', key: META_KEY, value: Buffer.from(JSON.stringify(meta), 'utf8') }], true)
}
