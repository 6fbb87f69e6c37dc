/**
 * TODO(#16): remove at the merge of the protocol-neutral core (wt-core). Until then the Broker speaks the STOMP-
 * shaped contract, and this adapter lets the OpenWire connector's Java tests run over it through the STOMP
 * mapping (typed properties and map/stream/object body kinds do not survive it; those scenarios wait for the core).
 */
import type { Broker } from '../../src/broker/index.ts'
import { fromStompSend, toStompHeaders } from '../../src/protocol/stomp/message-mapping.ts'
import { toStompDestination } from '../../src/model/index.ts'
import type { CoreSession, OpenWireCore } from '../../src/protocol/openwire/core-port.ts'

let seq = 0

export function legacyCore(broker: Broker): OpenWireCore {
  const newMessageId = () => `ID:sfbroker-test-1:1:1:${++seq}`
  return {
    newMessageId,
    connect(info): CoreSession {
      const s = broker.connect(info)
      return {
        sessionId: s.sessionId,
        send: ({ message }, tx) =>
          s.send(
            {
              destination: toStompDestination(message.destination),
              headers: {
                ...toStompHeaders(message),
                'amq-msg-type': message.bodyKind === 'text' ? 'text' : 'bytes',
                persistent: String(message.persistent),
              },
              body: message.body,
            },
            tx,
          ),
        subscribe: (req, cb) =>
          s.subscribe({ ...req, destination: toStompDestination(req.destination) }, (d) => {
            const message = d.browserEnd
              ? (null as never)
              : {
                  ...fromStompSend(d.headers.destination!, d.headers, d.body, { nowMs: Date.now(), newMessageId }),
                  redeliveryCount: d.redelivered ? 1 : 0,
                  messageId: d.messageId,
                }
            cb({
              subscriptionId: d.subscriptionId,
              ackId: d.ackId,
              message,
              redelivered: d.redelivered,
              browserEnd: d.browserEnd,
            })
          }),
        unsubscribe: (id, o) => s.unsubscribe(id, o),
        ack: (a, t) => s.ack(a, t),
        nack: (a, t) => s.nack(a, t),
        begin: (t) => s.begin(t),
        commit: (t) => s.commit(t),
        abort: (t) => s.abort(t),
        setDispatchPaused: (p) => s.setDispatchPaused(p),
        close: () => s.close(),
      }
    },
  }
}
