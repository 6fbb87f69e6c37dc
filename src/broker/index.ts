/**
 * The broker part's public surface: the Broker (implements BrokerCore), its session type, the selector parser,
 * destination-name helpers and the contract types. Other parts import only from here.
 */
export { Broker, type BrokerOptions } from './broker.ts'
export { Session } from './session.ts'
export {
  PREFETCH_QUEUE_DEFAULT,
  PREFETCH_TOPIC_DEFAULT,
  PREFETCH_DURABLE_DEFAULT,
  PREFETCH_BROWSER_DEFAULT,
} from './subscribe.ts'
export type { DeadLetterPolicy } from './dead-letter.ts'
export { MemoryUsage } from './memory-usage.ts'
export { Selector, headerSource, type SelectorSource, type SelectorValue } from './selector.ts'
export {
  parseDestination,
  parseFilter,
  labelOf,
  DLQ,
  DLQ_DESTINATION,
  type DestinationName,
  type DestinationKind,
} from './destination.ts'
export { messageSource } from './selector-source.ts'
export type * from './types.ts'
export { BrokerManagement, type BrowsedMessage, type SessionInfo, type JobInfo } from './management.ts'
