/**
 * The loop the protocol rows share (MQTT, OpenWire): start one primary per broker kind, run each row on every broker
 * in turn (row by row, so background load hits both alike), record a failed start or load as that cell's error, and
 * stop the brokers and remove their directories at the end.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { BrokerKind, BrokerProcess } from './brokers.ts'
import { freePort } from './proc.ts'
import type { RowValue, SuiteOptions } from './suite.ts'
import { fmt } from './suite.ts'

export interface RowHead {
  label: string
  unit: string
  better: 'higher' | 'lower'
}

export interface BrokerRow extends RowHead {
  /** One value per broker, in the order given. */
  values: RowValue[]
}

/** `protocol` names the rows in logs and errors (e.g. 'MQTT'); `url` is where each broker serves it. */
export async function runPerBrokerRows<S extends RowHead>(
  protocol: string,
  kinds: { kind: BrokerKind; url: string }[],
  o: SuiteOptions,
  specs: S[],
  run: (spec: S, url: string, row: number, broker: number) => Promise<RowValue>,
): Promise<BrokerRow[]> {
  const rows: BrokerRow[] = specs.map((s) => ({ label: s.label, unit: s.unit, better: s.better, values: [] }))
  const procs: (BrokerProcess | null)[] = []
  const dirs: string[] = []
  try {
    for (const { kind, url } of kinds) {
      const dir = fs.mkdtempSync(path.join(o.workDir, `${protocol.toLowerCase()}-`))
      dirs.push(dir)
      o.log(`${kind.label}: ${protocol} rows on ${url}`)
      try {
        const port = await freePort()
        procs.push((await kind.start({ dataDir: dir, port, role: 'primary', timeoutMs: o.startTimeoutMs })).proc)
      } catch (e) {
        o.log(`  FAILED to start with ${protocol}: ${(e as Error).message.split('\n').slice(0, 3).join(' | ')}`)
        procs.push(null)
      }
    }
    for (const [i, spec] of specs.entries()) {
      for (const [k, { kind, url }] of kinds.entries()) {
        if (!procs[k]) {
          rows[i]!.values.push({ value: null, error: `broker did not start with ${protocol}` })
          continue
        }
        try {
          const v = await run(spec, url, i, k)
          rows[i]!.values.push(v)
          o.log(`  ${kind.label} ${spec.label}: ${fmt(v.value ?? NaN)} ${spec.unit}${v.cell ? ` ${v.cell}` : ''}`)
        } catch (e) {
          const msg = (e as Error).message.split('\n')[0]!
          o.log(`  ${kind.label} ${spec.label}: FAILED: ${msg}`)
          rows[i]!.values.push({ value: null, error: msg })
        }
      }
    }
  } finally {
    for (const p of procs) await p?.stop()
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true })
  }
  return rows
}
