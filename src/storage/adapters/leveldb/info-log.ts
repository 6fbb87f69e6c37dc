/**
 * parseInfoLog: reads what LevelDB wrote to its info log (`<db>/LOG`) while opening: which write-ahead logs it
 * replayed and which bytes of them it dropped.
 *
 * leveldb-1.20 db/db_impl.cc writes, per replayed log, `Recovering log #N`, and for every range its log reader
 * drops (LogReporter::Corruption) `[(ignoring error) ]<db>/NNNNNN.log: dropping <n> bytes; <status>`, e.g.
 * `Corruption: checksum mismatch`. Each line starts with the PosixLogger prefix `yyyy/mm/dd-hh:mm:ss.uuuuuu <tid> `.
 * LevelDB renames the previous LOG to LOG.old when it opens, so right after an open the LOG holds that open's lines.
 *
 * Not promised: offsets. LevelDB does not log where the dropped bytes were, only how many and why.
 * Pure: the caller reads the file.
 */

export interface InfoLogDrop {
  /** The log file as LevelDB names it (its db path + `/NNNNNN.log`). */
  file: string
  bytes: number
  /** LevelDB's status text, e.g. `Corruption: checksum mismatch`. */
  reason: string
}

export interface InfoLogFindings {
  /** Numbers of the write-ahead logs LevelDB replayed (`Recovering log #N`). */
  recoveredLogs: number[]
  drops: InfoLogDrop[]
}

const PREFIX = /^\d{4}\/\d\d\/\d\d-\d\d:\d\d:\d\d\.\d+ \S+ /
const DROP = /^(?:\(ignoring error\) )?(.*?): dropping (\d+) bytes; (.*)$/
const RECOVERING = /^Recovering log #(\d+)$/

export function parseInfoLog(text: string): InfoLogFindings {
  const out: InfoLogFindings = { recoveredLogs: [], drops: [] }
  for (const raw of text.split('\n')) {
    const line = raw.replace(PREFIX, '').trimEnd()
    const r = RECOVERING.exec(line)
    if (r) {
      out.recoveredLogs.push(Number(r[1]))
      continue
    }
    const d = DROP.exec(line)
    if (d) out.drops.push({ file: d[1], bytes: Number(d[2]), reason: d[3] })
  }
  return out
}
