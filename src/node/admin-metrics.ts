/**
 * The admin listener's /metrics body: Prometheus text for this node (role, election, connectors, security) and,
 * on a serving primary, its broker, with per-destination series bounded by `metricsDestinationsMax` (the deepest
 * first; the rest counted in sfbroker_destination_series_omitted, never folded into counters). /status paging
 * (`?offset=&limit=`) lives here too: both bound what one admin answer may list.
 */
import type { AdminConfig } from '../config/index.ts'
import { DEFAULTS } from '../config/index.ts'
import type { DestinationMetrics } from '../broker/index.ts'
import type { BrokerNode } from './broker-node.ts'
import { Exposition } from './prometheus.ts'
import { ROLES } from './node-metrics.ts'
import type { NodeStatus } from './broker-node.ts'
import { CONNECTION_PROTOCOLS } from './connector.ts'

/** Destinations per /status page unless `limit` says otherwise, and the largest `limit` accepted. */
export const STATUS_PAGE_DEFAULT = 100
export const STATUS_PAGE_MAX = 1000

/** The `metricsDestinationsMax` deepest destinations (ties by name), listed by name; and what is left out. */
export function topDestinations(
  all: readonly DestinationMetrics[],
  max: number,
): { shown: DestinationMetrics[]; omitted: number; omittedDepth: number } {
  if (all.length <= max) return { shown: [...all], omitted: 0, omittedDepth: 0 }
  const byName = (a: DestinationMetrics, b: DestinationMetrics): number =>
    a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0
  const ranked = [...all].sort((a, b) => b.depth - a.depth || byName(a, b))
  const rest = ranked.slice(max)
  return {
    shown: ranked.slice(0, max).sort(byName),
    omitted: rest.length,
    omittedDepth: rest.reduce((n, d) => n + d.depth, 0),
  }
}

/** `?offset=&limit=` of /status: whole numbers, limit 1..STATUS_PAGE_MAX; an error names the parameter and value. */
export function parsePage(url: URL): { offset: number; limit: number } | { error: string } {
  const read = (name: string, dflt: number, min: number, max: number): number | string => {
    const raw = url.searchParams.get(name)
    if (raw === null || raw === '') return dflt
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN
    if (!(n >= min && n <= max))
      return `query parameter ${name}=${JSON.stringify(raw).slice(0, 40)}: expected a whole number from ${min} to ${max}`
    return n
  }
  const offset = read('offset', 0, 0, 999_999_999)
  const limit = read('limit', STATUS_PAGE_DEFAULT, 1, STATUS_PAGE_MAX)
  if (typeof offset === 'string') return { error: offset }
  if (typeof limit === 'string') return { error: limit }
  return { offset, limit }
}

export function renderMetrics(node: BrokerNode, cfg: AdminConfig): string {
  const x = new Exposition()
  const m = node.metrics
  const st = node.status()
  const labels = { broker: st.brokerName, node: st.nodeId }
  for (const r of ROLES)
    x.sample(
      'sfbroker_role',
      'gauge',
      'Current election role of this node (1 for the current role).',
      r === st.role ? 1 : 0,
      { ...labels, role: r },
    )
  x.sample('sfbroker_epoch', 'gauge', 'Epoch this node serves under (0 when not primary).', st.epoch ?? 0, labels)
  x.sample('sfbroker_takeovers_total', 'counter', 'Times this node became primary.', m.takeovers, labels)
  x.sample('sfbroker_step_downs_total', 'counter', 'Times this node stepped down from primary.', m.stepDowns, labels)
  x.sample(
    'sfbroker_last_takeover_ms',
    'gauge',
    'Duration of the last takeover (lock acquired to connectors open), ms; -1 if none.',
    m.lastTakeoverMs ?? -1,
    labels,
  )
  const el = node.electionStatus()
  x.sample(
    'sfbroker_lock_keepalive_latency_ms',
    'gauge',
    'Duration of the last lock keep-alive check, ms; -1 if none.',
    el.keepAliveLatencyMs ?? -1,
    labels,
  )
  const parts = node.servingParts()
  connectionSamples(x, st, labels)
  const sec = node.security.stats()
  x.sample(
    'sfbroker_auth_successes_total',
    'counter',
    'Logins accepted by the authentication plugin.',
    sec.authSuccesses,
    labels,
  )
  x.sample(
    'sfbroker_auth_failures_total',
    'counter',
    'Logins refused (wrong user name or password).',
    sec.authFailures,
    labels,
  )
  x.sample(
    'sfbroker_authorization_denials_total',
    'counter',
    'Operations refused by the authorization map.',
    sec.authorizationDenials,
    labels,
  )
  x.sample(
    'sfbroker_auth_backoff_addresses',
    'gauge',
    'Client addresses with recent failed logins (answers to them are delayed).',
    sec.backoffAddresses,
    labels,
  )
  x.sample(
    'sfbroker_pending_connections',
    'gauge',
    'Client sockets that have not completed CONNECT yet (the pre-CONNECT budget in use).',
    parts ? parts.connectors.reduce((a, c) => a + c.pendingConnections(), 0) : 0,
    labels,
  )
  x.family('sfbroker_destination_enqueued_total', 'counter', 'Messages enqueued per destination.')
  x.family('sfbroker_destination_dequeued_total', 'counter', 'Messages dequeued (acknowledged) per destination.')
  x.family('sfbroker_destination_depth', 'gauge', 'Messages waiting per destination.')
  x.family('sfbroker_destination_consumers', 'gauge', 'Consumers per destination.')
  x.family('sfbroker_destination_expired_total', 'counter', 'Messages expired per destination.')
  if (parts) {
    const bm = parts.broker.metrics()
    x.sample('sfbroker_memory_bytes', 'gauge', 'Message bytes held in memory.', bm.memoryBytes, labels)
    x.sample(
      'sfbroker_memory_limit_bytes',
      'gauge',
      'Broker-wide memory limit for messages.',
      bm.memoryLimitBytes,
      labels,
    )
    const top = topDestinations(bm.destinations, cfg.metricsDestinationsMax ?? DEFAULTS.metricsDestinationsMax)
    x.sample(
      'sfbroker_destinations',
      'gauge',
      'Destinations (queues and topics) the broker holds.',
      bm.destinations.length,
      labels,
    )
    x.sample(
      'sfbroker_destination_series_omitted',
      'gauge',
      'Destinations left out of the per-destination series (past metricsDestinationsMax, shallowest first).',
      top.omitted,
      labels,
    )
    x.sample(
      'sfbroker_destination_omitted_depth',
      'gauge',
      'Messages waiting in the destinations left out of the per-destination series.',
      top.omittedDepth,
      labels,
    )
    for (const d of top.shown) {
      const dl = { ...labels, destination: d.destination }
      x.sample('sfbroker_destination_enqueued_total', 'counter', '', d.enqueued, dl)
      x.sample('sfbroker_destination_dequeued_total', 'counter', '', d.dequeued, dl)
      x.sample('sfbroker_destination_depth', 'gauge', '', d.depth, dl)
      x.sample('sfbroker_destination_consumers', 'gauge', '', d.consumers, dl)
      x.sample('sfbroker_destination_expired_total', 'counter', '', d.expired, dl)
    }
    if (parts.store) {
      const ss = parts.store.stats()
      x.sample('sfbroker_store_bytes', 'gauge', 'Bytes on disk used by the message store.', ss.bytes, labels)
      x.sample('sfbroker_store_messages', 'gauge', 'Messages held by the message store.', ss.messages, labels)
      x.sample('sfbroker_store_syncs_total', 'counter', 'fsync/fdatasync calls by the message store.', ss.syncs, labels)
      x.histogram(
        'sfbroker_store_fsync_latency_ms',
        'Latency of message store syncs, ms.',
        ss.syncLatencyMs,
        ss.syncLatencySumMs,
        labels,
      )
    }
    if (parts.scheduler) {
      const sc = parts.scheduler.stats()
      x.sample('sfbroker_scheduler_jobs', 'gauge', 'Scheduled jobs waiting.', sc.jobs, labels)
      x.sample(
        'sfbroker_scheduler_next_due_timestamp_ms',
        'gauge',
        'When the next scheduled job is due (epoch ms); -1 if none.',
        sc.nextDueAt ?? -1,
        labels,
      )
    }
  }
  return x.toString()
}

/**
 * sfbroker_connections, one series per connector and protocol it can speak (a STOMP connector has no mqtt series,
 * a ws connector both), labelled with the transport; sfbroker_connections_total sums them. A node that is not
 * primary serves none: its series read 0, so dashboards see the drop at a step-down rather than a gap.
 */
function connectionSamples(x: Exposition, st: NodeStatus, labels: Record<string, string>): void {
  x.family('sfbroker_connections', 'gauge', 'Open client connections per connector and protocol.')
  let total = 0
  for (const c of st.connectors) {
    for (const protocol of CONNECTION_PROTOCOLS) {
      const n = c.byProtocol[protocol]
      if (n === 0 && !c.speaks.includes(protocol)) continue
      total += n
      x.sample('sfbroker_connections', 'gauge', '', n, {
        ...labels,
        connector: c.name,
        protocol,
        transport: c.transport,
      })
    }
  }
  x.sample('sfbroker_connections_total', 'gauge', 'Open client connections over all connectors.', total, labels)
}
