/**
 * What LevelDB dropped from its write-ahead logs when the adapter opened it, as RecoveryReport `tornTail` and
 * `corrupt` entries: the product rule is that a damaged record is reported, never silently skipped, and LevelDB
 * (paranoid_checks off, as classic-level opens it) skips damaged log records and opens anyway.
 *
 * Two sources, because LevelDB reports some drops and hides others:
 * - before the open, `scanWriteAheadLogs` walks the headers of every `*.log` in the directory (LogTailScanner):
 *   torn tails and zero-filled headers, which LevelDB's reader drops without a word;
 * - after the open, `readInfoLog` reads LevelDB's `LOG` (this open's lines, see info-log.ts): the "dropping N
 *   bytes; Corruption: ..." lines for what LevelDB did notice (bad CRC, bad length, fragments out of order).
 * `recoveryFindings` joins them, keeping scan results only for the logs LevelDB says it replayed
 * (`Recovering log #N`), so a stale log it ignores (older than the manifest's log number) is not reported.
 *
 * Not promised: offsets for LevelDB-reported drops (LevelDB does not log them: -1, said in the reason); exact
 * results if another process still writes the store between our scan and our open (the adapter scans right before
 * each open attempt and keeps the last one, but LevelDB's LOCK is only taken inside the open).
 */
import { open, readdir, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { RecoveryReport } from '../../types.ts'
import { BLOCK_BYTES, LogTailScanner, type LogTailScan } from './log-tail-scanner.ts'
import { parseInfoLog, type InfoLogFindings } from './info-log.ts'

/** We read at most this much of LevelDB's `LOG` after open (recovery's lines come first; the rest is compactions). */
export const INFO_LOG_BYTES_MAX = 1024 * 1024
/** The pre-open scan reads a log this many bytes at a time (whole blocks). */
export const SCAN_CHUNK_BYTES = 32 * BLOCK_BYTES
/** And scan at most this many write-ahead logs (LevelDB keeps one, two across a memtable switch or a crash). */
export const WAL_FILES_MAX = 64

export interface WalScan {
  /** Path as LevelDB names it: `<levelDir>/NNNNNN.log`. */
  file: string
  number: number
  scan: LogTailScan
}

const WAL_NAME = /^(\d+)\.log$/

/** Scan every write-ahead log in `levelDir`, oldest first. A file that vanished meanwhile is left out. */
export async function scanWriteAheadLogs(levelDir: string): Promise<WalScan[]> {
  let names: string[]
  try {
    names = await readdir(levelDir)
  } catch {
    return []
  }
  const logs = names
    .map((n) => ({ n, m: WAL_NAME.exec(n) }))
    .filter((x) => x.m !== null)
    .map((x) => ({ name: x.n, number: Number(x.m![1]) }))
    .sort((a, b) => a.number - b.number)
    .slice(-WAL_FILES_MAX)
  const out: WalScan[] = []
  const buf = Buffer.alloc(SCAN_CHUNK_BYTES)
  for (const { name, number } of logs) {
    const file = join(levelDir, name)
    let h
    try {
      h = await open(file, 'r')
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') continue
      throw e
    }
    try {
      const s = new LogTailScanner()
      // Bounded by the file's size: every round fills the buffer or reaches the end of the file.
      for (let pos = 0; ; ) {
        const got = await readAt(h, buf, pos)
        for (let o = 0; o < got; o += BLOCK_BYTES) s.feedBlock(buf.subarray(o, Math.min(got, o + BLOCK_BYTES)))
        pos += got
        if (got < buf.length) break
      }
      out.push({ file, number, scan: s.finish() })
    } finally {
      await h.close()
    }
  }
  return out
}

/** Fill `buf` from `pos` (short only at end of file); returns the bytes read. Bounded by buf.length. */
async function readAt(h: FileHandle, buf: Buffer, pos: number): Promise<number> {
  let got = 0
  while (got < buf.length) {
    const { bytesRead } = await h.read(buf, got, buf.length - got, pos + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got
}

/** This open's lines of LevelDB's `LOG` (the first INFO_LOG_BYTES_MAX bytes), or null if there is none. */
export async function readInfoLog(levelDir: string): Promise<InfoLogFindings | null> {
  let h
  try {
    h = await open(join(levelDir, 'LOG'), 'r')
  } catch {
    return null
  }
  try {
    const buf = Buffer.alloc(INFO_LOG_BYTES_MAX)
    const got = await readAt(h, buf, 0)
    return parseInfoLog(buf.subarray(0, got).toString('utf8'))
  } finally {
    await h.close()
  }
}

/** Join the pre-open scan and LevelDB's own report into RecoveryReport findings. */
export function recoveryFindings(
  scans: WalScan[],
  info: InfoLogFindings | null,
): Pick<RecoveryReport, 'tornTail' | 'corrupt'> {
  // Without a LOG we cannot tell which logs were replayed: report all (better a stale finding than a hidden one).
  const replayed = info ? new Set(info.recoveredLogs) : null
  const used = scans.filter((s) => replayed === null || replayed.has(s.number))
  const corrupt: RecoveryReport['corrupt'] = []
  let tornTail: RecoveryReport['tornTail'] = null
  for (let i = 0; i < used.length; i++) {
    const s = used[i]
    for (const k of s.scan.skipped) corrupt.push({ file: s.file, offset: k.offset, reason: k.reason })
    const t = s.scan.torn
    if (!t) continue
    if (i === used.length - 1) tornTail = { file: s.file, offset: t.offset, bytes: t.bytes }
    else {
      // Only the newest log can end mid-write; an older one ending so lost bytes before the newer log's records.
      corrupt.push({
        file: s.file,
        offset: t.offset,
        reason: `an older log's tail is incomplete (${t.reason}); LevelDB dropped its last ${t.bytes} bytes without reporting them and replayed the newer log(s)`,
      })
    }
  }
  for (const d of info?.drops ?? []) {
    corrupt.push({
      file: d.file,
      offset: -1,
      reason: `LevelDB dropped ${d.bytes} bytes of this log at recovery (${d.reason}); offset unknown (LevelDB does not log it)`,
    })
  }
  return { tornTail, corrupt }
}

/** Why the newest log's torn tail was torn (for the log line), if there is one. */
export function tornReason(scans: WalScan[], tornTail: RecoveryReport['tornTail']): string | undefined {
  return tornTail ? scans.find((s) => s.file === tornTail.file)?.scan.torn?.reason : undefined
}
