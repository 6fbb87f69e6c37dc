/**
 * The temporary-destination advisories an ActiveMQ client needs: its connection watches
 * `ActiveMQ.Advisory.TempQueue,ActiveMQ.Advisory.TempTopic` (watchTopicAdvisories, on by default) and refuses to
 * send to a temp destination it has not seen announced there ("Cannot publish to a deleted Destination"), so a
 * replier on another connection can answer a request only after this advisory. ActiveMQ's AdvisoryBroker sends a
 * message on those topics whose data structure is a DestinationInfo (ADD or REMOVE) for every temp destination
 * created or removed, and replays the live ones to a new watcher. One hub per listener holds the live temp
 * destinations of its connections (at most TEMP_DESTINATIONS_MAX) and the watchers; other advisory topics are
 * accepted and stay silent. Temp destinations of other protocols are not announced.
 */
import { BrokerError } from '../../lib/errors.ts'
import type * as W from './commands.ts'
import { DestinationOperation } from './command-types.ts'

export const ADVISORY_PREFIX = 'ActiveMQ.Advisory.'
export const TEMP_QUEUE_ADVISORY = 'ActiveMQ.Advisory.TempQueue'
export const TEMP_TOPIC_ADVISORY = 'ActiveMQ.Advisory.TempTopic'
/** Live temp destinations announced by one listener, all connections together. */
export const TEMP_DESTINATIONS_MAX = 100_000

export interface AdvisoryWatcher {
  /** Called with the advisory topic name and the DestinationInfo to carry. */
  advise(topic: string, info: W.DestinationInfo): void
}

interface TempEntry {
  owner: object
  info: W.DestinationInfo
}

function key(d: W.Destination): string {
  return `${d.type}:${d.physicalName}`
}

function topicOf(d: W.Destination): string {
  return d.type === 'TempQueue' ? TEMP_QUEUE_ADVISORY : TEMP_TOPIC_ADVISORY
}

/** Whether a consumer's destination (a topic, possibly composite) is made only of advisory topics. */
export function isAdvisoryDestination(d: W.Destination | null): boolean {
  if (d === null || d.type !== 'Topic' || d.physicalName === null) return false
  return d.physicalName.split(',').every((n) => n.startsWith(ADVISORY_PREFIX))
}

export class AdvisoryHub {
  private readonly temps = new Map<string, TempEntry>()
  private readonly watchers = new Map<AdvisoryWatcher, Set<string>>()

  get tempCount(): number {
    return this.temps.size
  }

  /** Announces a temp destination created by `owner` (a connection). Idempotent per destination. */
  addTemp(owner: object, connectionId: W.ConnectionId | null, d: W.Destination): void {
    const k = key(d)
    if (this.temps.has(k)) return
    if (this.temps.size >= TEMP_DESTINATIONS_MAX)
      throw new BrokerError(
        'BROKER_LIMIT',
        `openwire DestinationInfo: ${this.temps.size} temporary destinations are live, at most ${TEMP_DESTINATIONS_MAX} are allowed`,
      )
    const info: W.DestinationInfo = {
      type: 'DestinationInfo',
      commandId: 0,
      responseRequired: false,
      connectionId,
      destination: d,
      operationType: DestinationOperation.ADD,
      timeout: 0n,
      brokerPath: null,
    }
    this.temps.set(k, { owner, info })
    this.publish(topicOf(d), info)
  }

  removeTemp(d: W.Destination): void {
    const e = this.temps.get(key(d))
    if (e === undefined) return
    this.temps.delete(key(d))
    this.publish(topicOf(d), { ...e.info, operationType: DestinationOperation.REMOVE })
  }

  /** Removes every temp destination of a closing connection. */
  removeOwner(owner: object): void {
    for (const e of [...this.temps.values()]) if (e.owner === owner) this.removeTemp(e.info.destination!)
  }

  /** Starts advising `w` on the advisory topics named in `physicalName` (comma-separated); replays live temps. */
  watch(w: AdvisoryWatcher, physicalName: string): () => void {
    const topics = new Set(physicalName.split(','))
    this.watchers.set(w, topics)
    for (const e of this.temps.values()) {
      const t = topicOf(e.info.destination!)
      if (topics.has(t)) w.advise(t, e.info)
    }
    return () => void this.watchers.delete(w)
  }

  private publish(topic: string, info: W.DestinationInfo): void {
    for (const [w, topics] of this.watchers) if (topics.has(topic)) w.advise(topic, info)
  }
}
