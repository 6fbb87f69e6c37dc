/**
 * What an OpenWire connection uses of the broker: the subset of the protocol-neutral core contract
 * (src/broker/types.ts) this connector calls, picked from it so the two cannot drift apart. The Broker satisfies it;
 * tests may pass any object that does.
 */
import type {
  AckMode,
  BrokerCore,
  BrokerSession,
  ConnectInfo,
  Delivery,
  SendRequest,
  SubscribeRequest,
} from '../../broker/index.ts'

export type { AckMode }
export type CoreConnectInfo = ConnectInfo
export type CoreSendRequest = Pick<SendRequest, 'message'>
export type CoreSubscribeRequest = SubscribeRequest
export type CoreDelivery = Delivery

export type CoreSession = Pick<
  BrokerSession,
  | 'sessionId'
  | 'send'
  | 'subscribe'
  | 'unsubscribe'
  | 'ack'
  | 'nack'
  | 'pull'
  | 'cancelPull'
  | 'setPrefetch'
  | 'begin'
  | 'commit'
  | 'abort'
  | 'setDispatchPaused'
  | 'close'
>

export interface OpenWireCore {
  connect(info: CoreConnectInfo): CoreSession
  newMessageId: BrokerCore['newMessageId']
}
