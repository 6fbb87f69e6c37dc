/**
 * `<destinationPolicy>`: the subset of ActiveMQ's per-destination policies sfbroker really implements, resolved
 * from the input model, and the lookup the broker uses (`policyEntryFor`). Owns pattern syntax, validation of
 * what an entry may say, and ActiveMQ's rule for choosing among matching entries. It does not own what a limit or
 * a prefetch does (src/broker).
 *
 * Implemented, with ActiveMQ's meaning:
 * - `queue="<pattern>"` / `topic="<pattern>"`: names split on ".", `*` matches one segment, `>` (last) matches one
 *   or more remaining segments, a lone `>` every destination of that kind. Temporary destinations are not matched
 *   (ActiveMQ keeps them apart too: they need `tempQueue`/`tempTopic` entries, not supported).
 * - Exactly one entry applies to a destination: among the matching entries of its kind, the one whose pattern
 *   sorts last as a string (ActiveMQ sorts matches by name and takes the last), so "orders" beats "orders.>"
 *   beats ">". Settings are not merged across entries. With no match, `<defaultEntry>` applies, if any.
 * - `memoryLimit`: the destination's own memory limit (producer flow control); unset → `limits.destinationMemoryLimit`.
 * - `queuePrefetch`, `queueBrowserPrefetch`, `topicPrefetch`, `durableTopicPrefetch`: the prefetch of a consumer that
 *   did not ask for one (or asked for the ActiveMQ default, as ActiveMQ's PolicyEntry.configurePrefetch does).
 * - `maxDestinations` (ActiveMQ 5.12): creating a destination this entry applies to fails once N destinations
 *   matching its pattern exist (a `<defaultEntry>`: N destinations of that kind, as ActiveMQ counts its region);
 *   -1 = no limit of its own. The broker-wide `<broker maxDestinations>` applies on top.
 * - `gcInactiveDestinations="true"` with `inactiveTimoutBeforeGC` (ActiveMQ's misspelling; the correct spelling is
 *   accepted too, not both): the destination is removed once it has had no consumer, no message and no send for
 *   the timeout (default 60000 ms), checked every `<broker schedulePeriodForDestinationPurge>` ms.
 * - `producerFlowControl="true"` and `prioritizedMessages="false"` describe what sfbroker always does and are
 *   accepted; their opposites are CONFIG_UNSUPPORTED (see load-config's use of the messages below).
 */
import { BrokerError } from '../lib/errors.ts'
import type { DestinationPolicyConfig, PolicyEntryConfig } from './types.ts'
import type { Locator, PathItem } from './origin.ts'
import type { PolicyEntryInput, DestinationPolicyInput } from './schema.ts'

/** Whether an ActiveMQ destination pattern matches `name` (the part after /queue/ or /topic/). */
export function matchesPattern(pattern: string, name: string): boolean {
  const want = pattern.split('.')
  const have = name.split('.')
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!
    if (w === '>') return have.length > i
    if (i >= have.length) return false
    if (w !== '*' && w !== have[i]) return false
  }
  return have.length === want.length
}

/**
 * The one policy entry that applies to a queue or topic `name`, or null (use the built-in defaults).
 * `policy` undefined = no `<destinationPolicy>` at all.
 */
export function policyEntryFor(
  policy: DestinationPolicyConfig | undefined,
  kind: 'queue' | 'topic',
  name: string,
): PolicyEntryConfig | null {
  if (!policy) return null
  let best: PolicyEntryConfig | null = null
  for (const e of policy.entries) {
    if (e.kind !== kind || e.pattern === null || !matchesPattern(e.pattern, name)) continue
    // String comparison by UTF-16 code units, as Java's String.compareTo: the last in order wins.
    if (best === null || (best.pattern as string) <= e.pattern) best = e
  }
  return best ?? policy.defaultEntry
}

const PATTERN_EXPECTED =
  'a destination name or pattern: segments separated by ".", "*" for one segment, ">" as the last segment for the rest (e.g. ">", "orders.>", "*.in")'

function checkPattern(pattern: string, where: string): void {
  if (pattern.includes(',')) {
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${where}: found "${pattern}"; composite patterns (comma lists) are not supported, expected one entry per pattern`,
    )
  }
  const segs = pattern.split('.')
  segs.forEach((s, i) => {
    const ok = s !== '' && (s === '*' || (s === '>' && i === segs.length - 1) || !/[*>]/.test(s))
    if (!ok) throw new BrokerError('CONFIG_INVALID', `${where}: found "${pattern}", expected ${PATTERN_EXPECTED}`)
  })
}

const QUEUE_ONLY = ['queuePrefetch', 'queueBrowserPrefetch'] as const
const TOPIC_ONLY = ['topicPrefetch', 'durableTopicPrefetch'] as const

function resolveEntry(e: PolicyEntryInput, path: PathItem[], locator: Locator, isDefault: boolean): PolicyEntryConfig {
  const place = locator.container(path)
  if (e.tempQueue !== undefined || e.tempTopic !== undefined) {
    const key = e.tempQueue !== undefined ? 'tempQueue' : 'tempTopic'
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${locator.at([...path, key])}: policies for temporary destinations are not supported; expected queue="..." or topic="..."`,
    )
  }
  if (e.producerFlowControl === false) {
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${locator.at([...path, 'producerFlowControl'])}: found false; sfbroker always blocks a producer at a memory limit (it has no temporary store to spill to), expected true or nothing`,
    )
  }
  if (e.prioritizedMessages === true) {
    throw new BrokerError(
      'CONFIG_UNSUPPORTED',
      `${locator.at([...path, 'prioritizedMessages'])}: found true; sfbroker orders by priority only among messages in memory, not across messages paged from the store (ActiveMQ's prioritizedMessages=false), expected false or nothing`,
    )
  }
  if (e.inactiveTimoutBeforeGC !== undefined && e.inactiveTimeoutBeforeGC !== undefined) {
    throw new BrokerError(
      'CONFIG_INVALID',
      `${locator.at([...path, 'inactiveTimeoutBeforeGC'])}: found both inactiveTimoutBeforeGC (ActiveMQ's spelling) and inactiveTimeoutBeforeGC; expected one of them`,
    )
  }
  let kind: 'queue' | 'topic' | null = null
  let pattern: string | null = null
  if (isDefault) {
    if (e.queue !== undefined || e.topic !== undefined) {
      const key = e.queue !== undefined ? 'queue' : 'topic'
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.at([...path, key])}: a <defaultEntry> applies to every queue and topic no other entry matches; expected no ${key}="..." on it`,
      )
    }
  } else {
    if (e.queue !== undefined && e.topic !== undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${place}: has both queue="${e.queue}" and topic="${e.topic}"; expected exactly one (write two entries)`,
      )
    }
    if (e.queue === undefined && e.topic === undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${place}: names no destination; expected queue="<pattern>" or topic="<pattern>" (">" for all)`,
      )
    }
    kind = e.queue !== undefined ? 'queue' : 'topic'
    pattern = (e.queue ?? e.topic) as string
    checkPattern(pattern, locator.at([...path, kind]))
    const wrong = kind === 'queue' ? TOPIC_ONLY : QUEUE_ONLY
    for (const k of wrong) {
      if (e[k] !== undefined) {
        throw new BrokerError(
          'CONFIG_INVALID',
          `${locator.at([...path, k])}: applies to ${kind === 'queue' ? 'topic' : 'queue'} consumers, but this entry matches ${kind}s (${kind}="${pattern}"); expected it on a ${kind === 'queue' ? 'topic' : 'queue'}="..." entry`,
        )
      }
    }
  }
  return {
    kind,
    pattern,
    memoryLimit: e.memoryLimit ?? null,
    queuePrefetch: e.queuePrefetch ?? null,
    queueBrowserPrefetch: e.queueBrowserPrefetch ?? null,
    topicPrefetch: e.topicPrefetch ?? null,
    durableTopicPrefetch: e.durableTopicPrefetch ?? null,
    maxDestinations: e.maxDestinations === undefined || e.maxDestinations < 0 ? null : e.maxDestinations,
    gcInactiveDestinations: e.gcInactiveDestinations ?? null,
    inactiveTimeoutBeforeGC: e.inactiveTimoutBeforeGC ?? e.inactiveTimeoutBeforeGC ?? null,
  }
}

/** Input `destinationPolicy` → config; throws CONFIG_INVALID / CONFIG_UNSUPPORTED naming file:line or JSON path. */
export function resolveDestinationPolicy(
  input: DestinationPolicyInput | undefined,
  locator: Locator,
): DestinationPolicyConfig {
  const map = input?.policyMap
  const base: PathItem[] = ['destinationPolicy', 'policyMap']
  const entries = (map?.policyEntries ?? []).map((e, i) =>
    resolveEntry(e, [...base, 'policyEntries', i], locator, false),
  )
  const seen = new Map<string, number>()
  entries.forEach((e, i) => {
    const key = `${e.kind}:${e.pattern}`
    const first = seen.get(key)
    if (first !== undefined) {
      throw new BrokerError(
        'CONFIG_INVALID',
        `${locator.container([...base, 'policyEntries', i])}: ${e.kind}="${e.pattern}" is also the pattern of entry ${first + 1}; expected each pattern once (only one entry would apply)`,
      )
    }
    seen.set(key, i)
  })
  const d = map?.defaultEntry?.policyEntry
  const defaultEntry = d ? resolveEntry(d, [...base, 'defaultEntry', 'policyEntry'], locator, true) : null
  return { entries, defaultEntry }
}
