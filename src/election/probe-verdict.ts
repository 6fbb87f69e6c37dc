/**
 * The saved verdict of `sfbroker probe-lock`: the record written into the probed directory and the bounded reader
 * that `status` and the console use. What the probe checks lives in probe/probe-lock.ts.
 */
import fs from 'node:fs'
import path from 'node:path'
/** Where `sfbroker probe-lock` leaves its last verdict, in the directory it probed; read back by status. */
export const PROBE_VERDICT_FILE = 'probe-lock.json'
/** Largest probe-lock.json read (it is a few hundred bytes; anything bigger is not ours). */
export const PROBE_VERDICT_BYTES_MAX = 64 * 1024

/** The saved verdict of the last `probe-lock` on this directory (written by probe/probe-lock.ts). */
export interface ProbeVerdictRecord {
  v: 1
  /** The recommended lock type's verdict; NOT SAFE when none is usable. */
  verdict: 'SAFE' | 'SAFE ON THIS HOST' | 'NOT SAFE'
  recommended: string | null
  recommendation: string
  kinds: { kind: string; verdict: string; reason: string }[]
  /** --peer: the other host and its per-kind verdicts; null without --peer. */
  peer: { host: string | null; kinds: { kind: string; verdict: string }[] } | null
  mount: { fsType: string; mountPoint: string; source: string; options: string[] } | null
  warnings: string[]
  host: string
  pid: number
  at: number
}

const VERDICTS = ['SAFE', 'SAFE ON THIS HOST', 'NOT SAFE']

/** The saved probe-lock verdict of `dir`, null when there is none; a file that is not one is an error string. */
export function readProbeVerdict(dir: string): ProbeVerdictRecord | null | string {
  const file = path.join(dir, PROBE_VERDICT_FILE)
  let text: string
  try {
    const st = fs.statSync(file)
    if (st.size > PROBE_VERDICT_BYTES_MAX)
      return `${file}: ${st.size} bytes, over ${PROBE_VERDICT_BYTES_MAX}: not a probe-lock verdict`
    text = fs.readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? null : `${file}: cannot read (${code ?? (e as Error).message})`
  }
  try {
    const r = JSON.parse(text) as ProbeVerdictRecord
    if (
      r?.v !== 1 ||
      !VERDICTS.includes(r.verdict) ||
      typeof r.at !== 'number' ||
      typeof r.host !== 'string' ||
      !Array.isArray(r.kinds)
    )
      throw new Error('unexpected shape')
    return r
  } catch (e) {
    return `${file}: not a probe-lock verdict (${(e as Error).message.slice(0, 80)}); run sfbroker probe-lock again`
  }
}
