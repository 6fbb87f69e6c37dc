/**
 * The broker's view of destinations: the model's Destination (one internal dotted form, src/model) with the label
 * the broker shows it by, plus store keys. The label is ActiveMQ's `/queue/X` form, as sfbroker 0.1.0 showed
 * destinations in metrics, the console, logs and a DLQ copy's `original-destination`; it keys the registry, so
 * those stay as they were. Owns naming only, not destination state; protocol spellings are the connectors'.
 */
import {
  type Destination,
  type DestinationKind,
  destinationKey,
  fromStompDestination,
  fromStompFilter,
  isQueueKind,
  isTempKind,
  toStompDestination,
} from '../model/index.ts'

export type { Destination, DestinationKind }

/** A destination with its label (`/queue/ORDERS`): the registry key and the name metrics and logs show. */
export interface DestinationName extends Destination {
  label: string
}

/** ActiveMQ's shared dead-letter queue (sharedDeadLetterStrategy). */
export const DLQ: Destination = { kind: 'queue', name: 'ActiveMQ.DLQ' }
export const DLQ_DESTINATION = toStompDestination(DLQ)

/** The label of a destination (see the file header). */
export function labelOf(d: Destination): string {
  return toStompDestination(d)
}

export function named(d: Destination): DestinationName {
  return 'label' in d ? (d as DestinationName) : { kind: d.kind, name: d.name, label: toStompDestination(d) }
}

/**
 * A destination from its label, for operator input (console, management) that names destinations as they are
 * shown; BROKER_DESTINATION_INVALID names `where` and what was expected.
 */
export function parseDestination(value: string, where = 'destination'): DestinationName {
  return named(fromStompDestination(value, where))
}

/** A subscription's destination or wildcard filter from its label (durable subscription records keep labels). */
export function parseFilter(value: string, where = 'subscription destination'): DestinationName {
  return named(fromStompFilter(value, where))
}

export function isTemp(d: Destination): boolean {
  return isTempKind(d.kind)
}

export function isQueue(d: Destination): boolean {
  return isQueueKind(d.kind)
}

/** Store key of a queue's messages (the model's destinationKey: `queue://X`). Temp destinations have none. */
export function queueStoreKey(d: Destination): string {
  return destinationKey(d)
}

/** Store key of a durable topic subscription's messages. */
export function durableStoreKey(clientId: string, subscriptionName: string): string {
  return `durable://${clientId}:${subscriptionName}`
}
