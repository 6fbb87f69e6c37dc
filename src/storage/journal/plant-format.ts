/**
 * Test helpers for the conformance suite (journal adapters): a store the adapter must refuse with STORAGE_FORMAT (a
 * newer version of our journal format, or a journal some other program wrote), and a message that does not decode.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AdapterKind } from '../../config/types.ts'
import { ADD_FIXED, finishAdd, writeAddHead } from './add-op.ts'
import { Writer } from './byte-io.ts'
import {
  encodeSegmentHeader,
  frameRecord,
  JOURNAL_FORMAT_VERSION,
  parseSegmentName,
  RT_BATCH,
  segmentName,
} from './format.ts'
import { MARKER_FILE } from './journal-store.ts'

export function plantJournalFormat(dir: string, kind: 'newer' | 'foreign', adapter: AdapterKind): void {
  mkdirSync(dir, { recursive: true })
  if (kind === 'newer') {
    writeFileSync(
      join(dir, MARKER_FILE),
      JSON.stringify({ format: 'sfbroker-journal', adapter, version: JOURNAL_FORMAT_VERSION + 1 }),
    )
  } else {
    // ActiveMQ's own KahaDB files: a journal without our marker, whose header is not ours.
    writeFileSync(
      join(dir, 'db-1.log'),
      Buffer.concat([Buffer.from('-- KahaDB journal --', 'latin1'), Buffer.alloc(100)]),
    )
  }
}

/**
 * For the conformance suite's corrupt-message case: appends to the closed store in `dir` a segment (epoch 1) whose
 * one batch adds to `destination` a message whose CRCs hold but whose message record does not decode (version 9).
 */
export function plantUndecodableMessage(dir: string, destination: string): void {
  const ids = readdirSync(dir)
    .map(parseSegmentName)
    .filter((x): x is number => x !== null)
  const id = Math.max(0, ...ids) + 1
  const record = Uint8Array.from([9, 0, 0])
  const size = ADD_FIXED + 4 + Buffer.byteLength(destination) + 4 + 4 + record.length + 4
  const payload = Buffer.alloc(4 + size)
  const w = new Writer(payload)
  w.u32(1)
  const start = writeAddHead(w, { destination, dedupe: '', record, body: new Uint8Array(0), size }, 1e9)
  finishAdd(payload, start, w.pos, true)
  const header = encodeSegmentHeader({ version: JOURNAL_FORMAT_VERSION, epoch: 1, id, createdAt: 0 })
  writeFileSync(join(dir, segmentName(id)), Buffer.concat([header, frameRecord(RT_BATCH, 1, payload)]))
}
