/**
 * SUBSCRIBE: validating a subscription request and opening what it asks for: a queue consumer, a durable or
 * non-durable topic subscription, or a queue browser. Owns the request rules (unique id per session, prefetch
 * a whole number (0, pull mode, for consumers only), ack mode, consumer priority, durable subscriptions only on non-temporary topics and only
 * with a client id, browsers only on queues) and the prefetch defaults: queue 1000, topic 32767, durable topic
 * 100, browser 500. A `<destinationPolicy>` entry's queuePrefetch/topicPrefetch/durableTopicPrefetch/
 * queueBrowserPrefetch replaces the default for consumers that ask for none or for exactly the default
 * (ActiveMQ's PolicyEntry.configurePrefetch does the same).
 */
import { BrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import type { Delivery, SubscribeRequest } from './types.ts'
import { isWildcard, validateDestinationFilter } from '../model/index.ts'
import { isQueue, named } from './destination.ts'
import { Consumer } from './consumer.ts'
import { MessageQueue } from './queue.ts'
import { QueueBrowser } from './queue-browser.ts'
import { Selector } from './selector.ts'
import type { Session, SessionHost } from './session.ts'

const log = logger('broker')

export const PREFETCH_QUEUE_DEFAULT = 1000
export const PREFETCH_TOPIC_DEFAULT = 32767
export const PREFETCH_DURABLE_DEFAULT = 100
export const PREFETCH_BROWSER_DEFAULT = 500

/**
 * A consumer's prefetch: what it asked for, unless it asked for nothing or exactly the built-in default, in which
 * case a destination policy's value (if any) applies, as in ActiveMQ's PolicyEntry.configurePrefetch.
 */
function prefetchFor(asked: number | undefined, builtIn: number, policy: number | null | undefined): number {
  if (asked !== undefined && asked !== builtIn) return asked
  return policy ?? builtIn
}

/** Open the subscription `req` asks for on session `s`, or throw BROKER_SUBSCRIPTION_INVALID (or BROKER_LIMIT). */
export function subscribe(
  host: SessionHost,
  s: Session,
  req: SubscribeRequest,
  onDelivery: (d: Delivery) => void,
): void {
  const where = `SUBSCRIBE id ${JSON.stringify(req.id)}`
  if (s.hasSubscription(req.id)) {
    throw new BrokerError(
      'BROKER_SUBSCRIPTION_INVALID',
      `${where}: a subscription with this id already exists on this session`,
      { details: { id: req.id } },
    )
  }
  validateDestinationFilter(req.destination.name, `${where} destination`)
  const dest = named(req.destination)
  if (dest.kind !== 'topic' && isWildcard(dest.name)) {
    // ActiveMQ's wildcard queue consumers are not supported: refused, not read as a literal name.
    throw new BrokerError(
      'BROKER_DESTINATION_INVALID',
      `${where} destination: ${JSON.stringify(dest.label)} has a wildcard segment; wildcard subscriptions are supported on topics only`,
      { details: { destination: dest.label } },
    )
  }
  host.authorize(s, 'read', dest)
  host.ensureRoom(dest)
  const selectorText = req.selector !== undefined && req.selector.trim() !== '' ? req.selector : null
  const selector = selectorText !== null ? Selector.parse(selectorText) : null
  // Prefetch 0 is pull mode (Session.pull), for consumers; a browser reads ahead and needs a window.
  const prefetchMin = req.browser ? 1 : 0
  if (req.prefetch !== undefined && (!Number.isSafeInteger(req.prefetch) || req.prefetch < prefetchMin)) {
    throw new BrokerError(
      'BROKER_SUBSCRIPTION_INVALID',
      `${where}: activemq.prefetchSize ${req.prefetch} is not a whole number of ${prefetchMin} or more${req.browser ? ' for a browser' : ''}`,
      { details: { prefetch: req.prefetch } },
    )
  }
  const policy = host.policyFor(dest.label)
  if (req.browser) {
    if (!isQueue(dest))
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: browser:true is only supported on queues, not ${dest.label}`,
      )
    const b = new QueueBrowser(req.id, s, host)
    s.addBrowser(b)
    b.run(
      host.queueFor(dest, s),
      selector,
      prefetchFor(req.prefetch, PREFETCH_BROWSER_DEFAULT, policy?.queueBrowserPrefetch),
      onDelivery,
      () => s.removeBrowser(b.id),
    ).catch((e) => log.error(`browser ${req.id} failed`, e))
    return
  }
  const ack = req.ack ?? 'auto'
  if (ack !== 'auto' && ack !== 'client' && ack !== 'client-individual') {
    throw new BrokerError(
      'BROKER_SUBSCRIPTION_INVALID',
      `${where}: ack mode ${JSON.stringify(ack)} is not auto, client or client-individual`,
    )
  }
  const priority = req.priority ?? 0
  if (!Number.isSafeInteger(priority))
    throw new BrokerError('BROKER_SUBSCRIPTION_INVALID', `${where}: activemq.priority ${priority} is not an integer`)
  let c: Consumer
  if (isQueue(dest)) {
    if (req.durableName)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: activemq.subscriptionName is only valid on topics, not ${dest.label}`,
      )
    const q = host.queueFor(dest, s)
    c = new Consumer(
      s,
      req.id,
      q,
      ack,
      prefetchFor(req.prefetch, PREFETCH_QUEUE_DEFAULT, policy?.queuePrefetch),
      priority,
      req.exclusive ?? false,
      selector,
      onDelivery,
    )
    q.addConsumer(c)
  } else if (req.durableName) {
    if (dest.kind === 'temp-topic')
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: durable subscriptions are not allowed on temporary topic ${dest.label}`,
      )
    if (!s.clientId)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: durable subscription ${JSON.stringify(req.durableName)} needs a client-id on CONNECT`,
      )
    const d = host.durables.get(s.clientId, req.durableName)
    if (d?.active)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        `${where}: durable subscription ${s.clientId}:${req.durableName} is already in use`,
      )
    const ds = host.durables.open(s.clientId, req.durableName, dest, selectorText, req.noLocal ?? false)
    c = new Consumer(
      s,
      req.id,
      ds.queue,
      ack,
      prefetchFor(req.prefetch, PREFETCH_DURABLE_DEFAULT, policy?.durableTopicPrefetch),
      priority,
      false,
      null,
      onDelivery,
    )
    ds.active = c
    ds.queue.addConsumer(c)
  } else {
    const q = new MessageQueue(host.queueHost, 'subscription', dest, null)
    q.subSelector = selector
    q.noLocalSessionId = req.noLocal ? s.sessionId : null
    host.addSubscription(q, s)
    c = new Consumer(
      s,
      req.id,
      q,
      ack,
      prefetchFor(req.prefetch, PREFETCH_TOPIC_DEFAULT, policy?.topicPrefetch),
      priority,
      false,
      null,
      onDelivery,
    )
    q.addConsumer(c)
  }
  s.addConsumer(c)
}
