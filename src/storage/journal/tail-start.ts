/**
 * Where a tail reader (tail-reader.ts) starts when it (re)builds its view: the store's format marker checked
 * (a foreign, newer or other-adapter store is STORAGE_FORMAT), and, for kahaDB, the newest checkpoint decoded into
 * the index it starts from and the journal position after it. A checkpoint that does not decode is skipped with a
 * warning, as recovery skips it (the whole journal is followed instead; open() reports the checkpoint itself).
 * Read-only, as the reader.
 */
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { AdapterKind } from '../../config/types.ts'
import type { FileIO } from './file-io.ts'
import { JOURNAL_FORMAT_VERSION, SEGMENT_HEADER_BYTES } from './format.ts'
import { decodeCheckpoint, type IndexState } from './index-state.ts'

const log = logger('storage')

const MARKER_FILE = 'journal.json'
const MARKER_FORMAT = 'sfbroker-journal'

export interface TailStart {
  /** The directory's names, listed before anything else was read. */
  names: string[]
  /** The newest readable checkpoint, or null: follow the whole journal. */
  checkpoint: {
    index: IndexState
    /** Where reading continues (never inside a segment header). */
    cursor: { file: number; offset: number }
    /** The checkpoint's own position. */
    from: { file: number; offset: number }
  } | null
}

/** Read where to start in `directory`; `checkpoints` is false for amq (no index checkpoints, every segment read). */
export async function readTailStart(
  io: FileIO,
  directory: string,
  kind: AdapterKind,
  checkpoints: boolean,
  dedupeWindow: number,
): Promise<TailStart> {
  const path = (name: string) => `${directory}/${name}`
  const names = await io.readdir(directory)
  const raw = await io.readFile(path(MARKER_FILE))
  if (raw !== null) {
    let m: { format?: unknown; adapter?: unknown; version?: unknown } = {}
    try {
      m = JSON.parse(Buffer.from(raw).toString('utf8'))
    } catch {
      // judged below
    }
    if (
      m.format !== MARKER_FORMAT ||
      typeof m.version !== 'number' ||
      m.version > JOURNAL_FORMAT_VERSION ||
      m.adapter !== kind
    ) {
      throw new BrokerError(
        'STORAGE_FORMAT',
        `standby ${directory}: ${MARKER_FILE} says ${JSON.stringify(m)}, expected a ${kind} journal of version <= ${JOURNAL_FORMAT_VERSION}`,
        { details: { directory } },
      )
    }
  }
  if (!checkpoints) return { names, checkpoint: null }
  const cks = names
    .map((n) => /^index-(\d+)\.ckpt$/.exec(n))
    .filter((x): x is RegExpExecArray => !!x)
    .map((x) => Number(x[1]))
    .sort((a, b) => b - a)
  if (cks.length === 0) return { names, checkpoint: null }
  const file = path(`index-${cks[0]}.ckpt`)
  const buf = await io.readFile(file)
  if (buf === null) return { names, checkpoint: null }
  try {
    const ck = decodeCheckpoint(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), file, dedupeWindow)
    return {
      names,
      checkpoint: {
        index: ck.state,
        cursor: { file: ck.meta.file, offset: Math.max(ck.meta.offset, SEGMENT_HEADER_BYTES) },
        from: { file: ck.meta.file, offset: ck.meta.offset },
      },
    }
  } catch (e) {
    if (!isBrokerError(e, 'STORAGE_CORRUPT_RECORD')) throw e
    // As recovery does: the whole journal is replayed instead; open() reports the checkpoint itself.
    log.warn(`standby ${directory}: ${e.message}; following the whole journal instead`)
    return { names, checkpoint: null }
  }
}
