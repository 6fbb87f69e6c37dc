/**
 * What the console reads from and leaves in the shared directory, so it works on every node, replicas included:
 * each node's console address under `console/` (announced by each, read to link the primary's console), the group
 * view (GET /api/group: `inspectSharedDir`, the model of `sfbroker status --json`) and the store view (GET
 * /api/store: the live store when serving, the primary's store-summary.json, the files). Never waits on a hung
 * share to announce; a half-written or foreign file costs only that node's link.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inspectSharedDir } from '../election/index.ts'
import { logger } from '../lib/log.ts'
import type { BrokerNode } from '../node/index.ts'
import { listFiles } from './store-files.ts'

const log = logger('console')

/** Where each node leaves its console address for the others, under the shared directory. */
export const CONSOLE_DIR = 'console'
/** Console address files read per group view at most. */
const CONSOLE_FILES_MAX = 100

/** The console's URL for other nodes' pages: a wildcard bind is named by this host's name. */
export function consoleUrl(address: { host: string; port: number }): string {
  const host =
    address.host === '0.0.0.0' || address.host === '::'
      ? os.hostname()
      : address.host.includes(':')
        ? `[${address.host}]`
        : address.host
  return `http://${host}:${address.port}/console/`
}

/** Leave this node's console URL in the shared directory. Never awaited: a hung share must not hold the listener. */
export function announceConsole(node: BrokerNode, url: string): void {
  const dir = path.join(node.config.persistence.directory, CONSOLE_DIR)
  // A failure only loses the replica's link.
  fs.promises
    .mkdir(dir, { recursive: true })
    .then(() =>
      fs.promises.writeFile(
        path.join(dir, `${node.nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`),
        JSON.stringify({ nodeId: node.nodeId, url, updatedAt: Date.now() }),
      ),
    )
    .catch((e: Error) => log.debug(`console address not written to the shared directory: ${e.message}`))
}

/** GET /api/group: the shared directory's report, with every announced console and the primary's. */
export async function groupView(node: BrokerNode): Promise<unknown> {
  const report = await inspectSharedDir(node.config.persistence.directory)
  const consoles: Record<string, string> = {}
  try {
    const dir = path.join(node.config.persistence.directory, CONSOLE_DIR)
    for (const f of (await fs.promises.readdir(dir)).slice(0, CONSOLE_FILES_MAX)) {
      if (!f.endsWith('.json')) continue
      try {
        const o = JSON.parse(await fs.promises.readFile(path.join(dir, f), 'utf8')) as {
          nodeId?: string
          url?: string
        }
        if (typeof o.nodeId === 'string' && typeof o.url === 'string') consoles[o.nodeId] = o.url
      } catch {
        // A half-written or foreign file: no link for that node.
      }
    }
  } catch {
    // No console has announced itself yet.
  }
  const holder = report.holder
  const { store: _store, ...rest } = report
  return {
    ...rest,
    store: report.store
      ? {
          adapter: report.store.adapter,
          bytes: report.store.bytes,
          messages: report.store.messages,
          destinations: report.store.destinations.length,
          ageMs: report.store.ageMs,
          updatedAt: report.store.updatedAt,
        }
      : null,
    self: { nodeId: node.nodeId, role: node.status().role },
    primaryConsole: report.primary && holder ? (consoles[holder.nodeId] ?? null) : null,
    consoles,
    probeLock: report.probeLock,
  }
}

/** GET /api/store: the live store (when serving) and its files, beside the summary the primary last wrote. */
export async function storeView(node: BrokerNode): Promise<unknown> {
  const parts = node.servingParts()
  const report = await inspectSharedDir(node.config.persistence.directory)
  const summary = report.store
  const live = parts?.store ? parts.store.stats() : null
  const files = live ? await listFiles(live.directory) : []
  const newest = files.reduce((a, f) => Math.max(a, f.modifiedAt), 0)
  return {
    adapter: live?.adapter ?? summary?.adapter ?? node.config.persistence.adapter,
    live: live
      ? {
          directory: live.directory,
          bytes: live.bytes,
          messages: live.messages,
          destinations: live.destinations.length,
          syncs: live.syncs,
          integrity: live.integrity ?? null,
        }
      : null,
    files,
    lastWriteAt: newest || null,
    summary: summary
      ? {
          bytes: summary.bytes,
          messages: summary.messages,
          updatedAt: summary.updatedAt,
          ageMs: summary.ageMs,
          integrity: summary.integrity ?? null,
          scheduler: summary.scheduler,
        }
      : null,
    scheduler: parts?.scheduler ? parts.scheduler.stats() : null,
    warnings: report.warnings,
  }
}
