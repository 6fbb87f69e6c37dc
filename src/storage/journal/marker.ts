/**
 * The format marker `journal.json` ({ format, adapter, version }): written (atomically, synced) into a directory
 * that holds no store yet; checked on every open so a foreign, newer or other-adapter store is refused with
 * STORAGE_FORMAT instead of being misread. A store of an older version (1, sfbroker 0.1.0) is accepted and its
 * marker rewritten to the current version once the open knows it can read it (upgradeMarker), so that a 0.1.0 broker
 * then refuses the store with STORAGE_FORMAT (its check: version newer than 1) rather than meeting v2 segments.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { AdapterKind } from '../../config/types.ts'
import type { FileIO } from './file-io.ts'
import { JOURNAL_FORMAT_VERSION } from './format.ts'

export const MARKER_FILE = 'journal.json'
export const MARKER_FORMAT = 'sfbroker-journal'

/**
 * `segmentNames`: journal segments found in `dir`; `names`: everything in it. Returns the version the marker names
 * (the current one for a marker written now).
 */
export async function checkMarker(
  io: FileIO,
  dir: string,
  kind: AdapterKind,
  segmentNames: string[],
  names: string[],
): Promise<number> {
  const path = (name: string) => `${dir}/${name}`
  const raw = await io.readFile(path(MARKER_FILE))
  if (raw === null) {
    if (segmentNames.length > 0) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `store ${dir}: journal segments (${segmentNames[0]}, ...) but no ${MARKER_FILE}: not a store this broker wrote`,
        { details: { directory: dir } },
      )
    }
    if (names.includes('CURRENT') || names.includes('leveldb') || names.some((n) => /^MANIFEST-/.test(n))) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `store ${dir}: holds a LevelDB database (CURRENT/MANIFEST files or a leveldb/ folder), expected a ${kind} journal`,
        { details: { directory: dir } },
      )
    }
    await writeMarker(io, dir, kind)
    return JOURNAL_FORMAT_VERSION
  }
  let m: { format?: unknown; adapter?: unknown; version?: unknown }
  try {
    m = JSON.parse(Buffer.from(raw).toString('utf8'))
  } catch {
    m = {}
  }
  const file = path(MARKER_FILE)
  if (m.format !== MARKER_FORMAT) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `store ${file}: format ${JSON.stringify(m.format)} is foreign, expected "${MARKER_FORMAT}"`,
      { details: { file } },
    )
  }
  if (typeof m.version !== 'number' || m.version > JOURNAL_FORMAT_VERSION) {
    throw new BrokerError(
      'STORAGE_FORMAT',
      `store ${file}: format version ${JSON.stringify(m.version)} is newer than this broker supports (${JOURNAL_FORMAT_VERSION})`,
      { details: { file, version: m.version } },
    )
  }
  if (m.adapter !== kind) {
    // kahaDB deletes segments an amq replay would need, and amq has no checkpoint kahaDB could trust: no silent switch.
    throw new BrokerError(
      'STORAGE_FORMAT',
      `store ${dir}: written by the ${JSON.stringify(m.adapter)} adapter, opened as ${kind}; expected the same adapter`,
      { details: { directory: dir, adapter: m.adapter } },
    )
  }
  return m.version
}

/** Write the current marker atomically (temporary file, synced, renamed, directory synced). */
export async function writeMarker(io: FileIO, dir: string, kind: AdapterKind): Promise<void> {
  const tmp = `${dir}/${MARKER_FILE}.tmp`
  await io.unlink(tmp)
  const h = await io.open(tmp, 'createExclusive')
  try {
    await h.write(
      Buffer.from(JSON.stringify({ format: MARKER_FORMAT, adapter: kind, version: JOURNAL_FORMAT_VERSION }) + '\n'),
      0,
    )
    await h.sync()
  } finally {
    await h.close()
  }
  await io.rename(tmp, `${dir}/${MARKER_FILE}`)
  await io.syncDir(dir)
}
