/**
 * The shared-store group's client-facing OpenWire URLs, for connectors with `updateClusterClients="true"` (beyond
 * ActiveMQ, which tells clients only of networked brokers). `clientUrlsOf` names this node's URLs (0.0.0.0 and ::
 * replaced by the host) for the holder record and the replica heartbeat; `ClusterWatch` (the primary only) reads
 * the replicas' heartbeats every CLUSTER_POLL_MS and reports the list [own, ...fresh replicas'] when it changes;
 * `ClusterUrlBook` keeps one connector's published list under ActiveMQ's rules: a joining node is announced,
 * a leaving one only with `updateClusterClientsOnRemove="true"`. Does not own the OpenWire commands that carry it.
 */
import type { ConnectorConfig } from '../config/index.ts'
import type { ReplicaRecord } from '../election/index.ts'
import { logger } from '../lib/log.ts'

const log = logger('node')

/** How often the primary re-reads the replicas' heartbeats for the cluster list. */
export const CLUSTER_POLL_MS = 2_000
/** Replicas taken into the list at most (a shared dir littered with records must not grow every BrokerInfo). */
export const CLUSTER_NODES_MAX = 32

/** Whether a connector serves OpenWire (tcp/nio/ssl or auto). */
export function speaksOpenWire(c: ConnectorConfig): boolean {
  return c.protocol === 'openwire' || c.protocol === 'auto'
}

/** The URL a client uses for connector `c` bound on `port`: tcp:// or ssl://, a wildcard host replaced by `host`. */
export function clientUrl(c: ConnectorConfig, host: string, port: number): string {
  const wildcard = c.host === '' || c.host === '0.0.0.0' || c.host === '::' || c.host === '[::]'
  const h = wildcard ? host : c.host
  return `${c.tls ? 'ssl' : 'tcp'}://${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${port}`
}

/** This node's OpenWire client URLs at the configured ports (a port-0 connector has none until it binds). */
export function clientUrlsOf(connectors: ConnectorConfig[], host: string): string[] {
  return connectors.filter((c) => speaksOpenWire(c) && c.port !== 0).map((c) => clientUrl(c, host, c.port))
}

/** A heartbeat is fresh while younger than three periods and a second (as `status` judges it). */
export function freshReplica(r: ReplicaRecord, now: number): boolean {
  return now - r.lastSeen < 3 * (r.heartbeatMs || 1000) + 1000
}

/** [own, ...fresh replicas' URLs], each once, in a stable order (own first, then replicas by node id). */
export function clusterList(own: string[], replicas: ReplicaRecord[], now: number): string[] {
  const out = new Set(own)
  const fresh = replicas
    .filter((r) => freshReplica(r, now) && Array.isArray(r.clientUrls))
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
    .slice(0, CLUSTER_NODES_MAX)
  for (const r of fresh) for (const u of r.clientUrls!) if (typeof u === 'string') out.add(u)
  return [...out]
}

/** One connector's published list: what its clients were last told. */
export class ClusterUrlBook {
  private published: string[] = []

  constructor(private readonly onRemove: boolean) {}

  urls(): string[] {
    return this.published
  }

  /** Takes the group's current list; true when the published list changed and clients must be told again. */
  offer(current: string[]): boolean {
    const before = new Set(this.published)
    const added = current.some((u) => !before.has(u))
    const removed = this.published.some((u) => !current.includes(u))
    if (!added && !(removed && this.onRemove)) return false
    // Without onRemove a node that left stays listed (ActiveMQ's default): clients keep it as a fallback.
    this.published = this.onRemove ? [...current] : [...this.published, ...current.filter((u) => !before.has(u))]
    return true
  }
}

/** The primary's poll of the replicas' heartbeats; `onChange` gets each new list (the first one too). */
export class ClusterWatch {
  private timer: ReturnType<typeof setTimeout> | null = null
  private last = ''
  private stopped = false
  /** The last read failed (logged once until a read succeeds again). */
  private failing = false

  constructor(
    private readonly own: string[],
    private readonly readReplicas: () => Promise<ReplicaRecord[]>,
    private readonly onChange: (urls: string[]) => void,
    private readonly pollMs = CLUSTER_POLL_MS,
  ) {}

  /** The first read now; the next ones every pollMs, one at a time, until stop(). */
  start(): Promise<void> {
    return this.poll()
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }

  private async poll(): Promise<void> {
    let replicas: ReplicaRecord[] | null = null
    try {
      replicas = await this.readReplicas()
      this.failing = false
    } catch (err) {
      // Skip this round: an unreadable share says nothing about who left the group.
      if (!this.failing) log.warn(`cluster URLs: cannot read the replicas' heartbeats: ${(err as Error).message}`)
      this.failing = true
    }
    if (this.stopped) return
    const urls = replicas === null ? null : clusterList(this.own, replicas, Date.now())
    const key = urls?.join(',') ?? this.last
    if (urls !== null && key !== this.last) {
      this.last = key
      log.info(`cluster URLs for OpenWire clients: ${key}`)
      this.onChange(urls)
    }
    this.timer = setTimeout(() => void this.poll(), this.pollMs)
    this.timer.unref?.()
  }
}
