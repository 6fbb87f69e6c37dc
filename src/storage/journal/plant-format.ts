/**
 * Test helper for the conformance suite's format group (journal adapters): writes into `dir` a store the adapter
 * must refuse with STORAGE_FORMAT — a newer version of our journal format, or a journal some other program wrote.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AdapterKind } from '../../config/types.ts'
import { JOURNAL_FORMAT_VERSION } from './format.ts'
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
