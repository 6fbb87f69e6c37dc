/**
 * The files of the shared directory that belong to the election, and how they are read and written:
 *   lock            the lock file; its content is the holder record (JSON), rewritten in place (pwrite at 0,
 *                   ftruncate to the new length, fsync; share-io.ts's `write`, on the locked inode only):
 *                   never deleted, never truncated to zero, so readers see the last complete record or a torn one.
 *   epochs/N        one empty-ish file per claimed epoch, created with O_CREAT|O_EXCL (the atomic claim, made by
 *                   share-io.ts's `claim`)
 *   currentEpoch    the last claimed epoch, rewritten after each claim (an optimisation for readers)
 *   replicas/<id>.json  replica heartbeats (tmp + rename)
 *   takeovers.json  the last TAKEOVERS_KEPT takeover timelines (tmp + rename)
 *   store-summary.json  written by the primary node, read by `status`
 * Every read here opens the file afresh (close-to-open consistency on NFS), nothing is cached.
 */
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import path from 'node:path'
import type { TakeoverTimeline } from './types.ts'

export const TAKEOVERS_KEPT = 20

export function sharedPaths(dir: string) {
  return {
    lock: path.join(dir, 'lock'),
    epochs: path.join(dir, 'epochs'),
    currentEpoch: path.join(dir, 'currentEpoch'),
    replicas: path.join(dir, 'replicas'),
    takeovers: path.join(dir, 'takeovers.json'),
    storeSummary: path.join(dir, 'store-summary.json'),
  }
}

export interface HolderRecord {
  nodeId: string
  host: string
  pid: number
  brokerName: string
  epoch: number
  acquiredAt: number
  renewedAt: number
  connectors: string[]
  version: string
  lockType: string
  /** Keep-alive period of the holder, so readers can judge staleness. */
  lockKeepAlivePeriod: number
  /** Keep-alive timeout of the holder: with the period, the bound on how old a live holder's renewal can be. */
  keepAliveTimeout: number
  /** Set by a holder that stopped or handed over cleanly, just before it unlocked. */
  released: boolean
  /** The holder's stall watchdog kill bound in ms (0: none; absent in records of older versions). */
  stallKillMs?: number
  /** dev/ino of the lock file when the holder wrote this record: a copy or a replaced file shows different ones. */
  dev: number
  ino: number
  adapter: string | null
  dataDirectory: string | null
  schedulerDirectory: string | null
  schedulerSupport: boolean
  /** This node has failback=true (it is the preferred primary). */
  preferred: boolean
  /** Client-facing OpenWire URLs of this node (0.0.0.0 replaced by its host); absent in older records. */
  clientUrls?: string[]
}

export interface ReplicaRecord {
  nodeId: string
  role: string
  host: string
  pid: number
  brokerName: string
  since: number
  lastSeen: number
  /** failback=true: the current primary hands over to this node when it sees this heartbeat fresh. */
  preferred: boolean
  heartbeatMs: number
  /** Client-facing OpenWire URLs this node will serve when it takes over; absent in older records. */
  clientUrls?: string[]
}

export interface TakeoverRecord extends TakeoverTimeline {
  nodeId: string
  host: string
  pid: number
  epoch: number
  previousHolder: string | null
  waitedGraceMs: number
}

export function parseHolderRecord(text: string): HolderRecord | null {
  if (!text.trim()) return null
  try {
    const o = JSON.parse(text) as Partial<HolderRecord>
    if (typeof o !== 'object' || o === null || typeof o.nodeId !== 'string' || typeof o.epoch !== 'number') return null
    return o as HolderRecord
  } catch {
    return null
  }
}

/** Read the holder record through an open descriptor (pread from 0). */
export function readHolderRecordFd(fd: number): HolderRecord | null {
  const st = fs.fstatSync(fd)
  const size = Math.min(st.size, 1 << 20)
  if (size === 0) return null
  const buf = Buffer.alloc(size)
  const n = fs.readSync(fd, buf, 0, size, 0)
  return parseHolderRecord(buf.subarray(0, n).toString('utf8'))
}

export async function readHolderRecord(dir: string): Promise<HolderRecord | null> {
  try {
    return parseHolderRecord(await fsp.readFile(sharedPaths(dir).lock, 'utf8'))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw e
  }
}

export function encodeRecord(rec: HolderRecord): Buffer {
  return Buffer.from(JSON.stringify(rec) + '\n', 'utf8')
}

export function epochsOf(names: string[]): number[] {
  const out: number[] = []
  for (const n of names) if (/^[1-9][0-9]*$/.test(n)) out.push(Number(n))
  return out
}

export async function maxEpoch(dir: string): Promise<number> {
  try {
    return Math.max(0, ...epochsOf(await fsp.readdir(sharedPaths(dir).epochs)))
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw e
  }
}

export async function writeJsonAtomicAsync(file: string, value: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true })
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`
  await fsp.writeFile(tmp, JSON.stringify(value, null, 1) + '\n')
  await fsp.rename(tmp, file)
}

export function replicaFile(dir: string, nodeId: string): string {
  return path.join(sharedPaths(dir).replicas, `${nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`)
}

export async function readReplicas(dir: string): Promise<ReplicaRecord[]> {
  const d = sharedPaths(dir).replicas
  let names: string[]
  try {
    names = await fsp.readdir(d)
  } catch {
    return []
  }
  const out: ReplicaRecord[] = []
  for (const n of names) {
    if (!n.endsWith('.json')) continue
    try {
      const r = JSON.parse(await fsp.readFile(path.join(d, n), 'utf8')) as ReplicaRecord
      if (typeof r.nodeId === 'string') out.push(r)
    } catch {
      // being replaced or torn: skip this round
    }
  }
  return out
}

/** takeovers.json's list; [] when the text is not one (missing, torn while being replaced). */
export function parseTakeovers(text: string): TakeoverRecord[] {
  try {
    const v = JSON.parse(text)
    return Array.isArray(v) ? (v as TakeoverRecord[]) : []
  } catch {
    return []
  }
}

export function readTakeovers(dir: string): TakeoverRecord[] {
  try {
    return parseTakeovers(fs.readFileSync(sharedPaths(dir).takeovers, 'utf8'))
  } catch {
    return []
  }
}
