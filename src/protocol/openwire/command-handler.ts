/**
 * What each OpenWire command does once the handshake is over: ConnectionInfo (credentials through the
 * Authenticator, then one broker session whose client id the broker keeps unique), SessionInfo, ProducerInfo
 * (with the producer window answered by ProducerAck), ConsumerInfo/MessagePull/MessageAck (consumers.ts),
 * messages, local transactions (XA refused with XAException), DestinationInfo for temp destinations (advisories.ts),
 * RemoveInfo, RemoveSubscriptionInfo, keep-alives and the control commands a client may send. A failure is a
 * BrokerError the connection answers with ExceptionResponse (or ConnectionError when no answer was asked for).
 */
import { BrokerError } from '../../lib/errors.ts'
import { logger } from '../../lib/log.ts'
import type { Authenticator, Subject } from '../../security/index.ts'
import { type AdvisoryHub, type AdvisoryWatcher, isAdvisoryDestination } from './advisories.ts'
import type * as W from './commands.ts'
import { TransactionType } from './command-types.ts'
import type { OpenWireConnection } from './connection.ts'
import { ConsumerBook, consumerKey, txKey } from './consumers.ts'
import type { CoreSession, OpenWireCore } from './core-port.ts'
import { XA_EXCEPTION } from './exceptions.ts'
import { fromWireMessage, producerKey, toWireMessageId, wireMessageSize } from './message-mapping.ts'

const log = logger('openwire')

/** Producers and sessions one connection may have open (each is a map entry). */
export const PRODUCERS_MAX = 10_000
export const SESSIONS_MAX = 10_000

export interface HandlerDeps {
  core: OpenWireCore
  authenticator: Authenticator | null
  advisories: AdvisoryHub
  bodyBytesMax: number
}

function sessionKey(id: W.SessionId | null): string {
  return id === null ? 'null' : `${id.connectionId}:${id.value}`
}

/** A TransactionInfo type's name for log lines. */
function txTypeName(type: number): string {
  const name = Object.entries(TransactionType).find(([, v]) => v === type)?.[0]
  return name ?? `type ${type}`
}

export class CommandHandler {
  private session: CoreSession | null = null
  private subject: Subject | null = null
  private connectionId: W.ConnectionId | null = null
  private consumers: ConsumerBook | null = null
  clientId: string | null = null
  private readonly sessions = new Set<string>()
  private readonly producers = new Map<string, W.ProducerInfo>()
  private readonly advisoryConsumers = new Map<string, () => void>()
  private connecting = false
  private advisorySeq = 0n

  constructor(
    private readonly conn: OpenWireConnection,
    private readonly deps: HandlerDeps,
  ) {}

  setDispatchPaused(paused: boolean): void {
    this.session?.setDispatchPaused(paused)
  }

  private need(c: W.Command): CoreSession {
    if (this.session === null)
      throw new BrokerError(
        'BROKER_SESSION_CLOSED',
        `openwire ${c.type}: no ConnectionInfo was accepted on this connection`,
      )
    return this.session
  }

  /** Starts a command; returns its work when it has any to wait for. Throws BrokerError to be answered. */
  handle(c: W.Command): Promise<void> | void {
    try {
      const work = this.dispatch(c)
      if (c.type === 'KeepAliveInfo') return
      if (work === undefined) return this.conn.respond(c)
      return work.then(() => this.conn.respond(c))
    } catch (e) {
      if (e instanceof BrokerError) return this.conn.respondError(c, e)
      throw e
    }
  }

  private dispatch(c: W.Command): Promise<void> | void {
    switch (c.type) {
      case 'ConnectionInfo':
        return this.connect(c)
      case 'SessionInfo':
        this.need(c)
        if (this.sessions.size >= SESSIONS_MAX)
          throw new BrokerError('BROKER_LIMIT', `openwire SessionInfo: ${SESSIONS_MAX} sessions are open`)
        this.sessions.add(sessionKey(c.sessionId))
        return
      case 'ProducerInfo':
        this.need(c)
        if (this.producers.size >= PRODUCERS_MAX)
          throw new BrokerError('BROKER_LIMIT', `openwire ProducerInfo: ${PRODUCERS_MAX} producers are open`)
        if (c.producerId === null)
          throw new BrokerError('OPENWIRE_FRAME_INVALID', 'openwire ProducerInfo: no producerId')
        this.producers.set(producerKey(c.producerId), c)
        return
      case 'ConsumerInfo':
        return this.addConsumer(c)
      case 'MessagePull':
        this.need(c)
        return this.consumers!.pull(c)
      case 'MessageAck':
        this.need(c)
        return this.consumers!.ack(c)
      case 'Message':
      case 'TextMessage':
      case 'BytesMessage':
      case 'MapMessage':
      case 'StreamMessage':
      case 'ObjectMessage':
        return this.send(c)
      case 'TransactionInfo':
        return this.transaction(c)
      case 'DestinationInfo':
        return this.destination(c)
      case 'RemoveInfo':
        return this.remove(c)
      case 'RemoveSubscriptionInfo': {
        const name = c.subscriptionName ?? ''
        return this.need(c).unsubscribe(`durable:${name}`, { removeDurable: true, durableName: name })
      }
      case 'ShutdownInfo':
        this.conn.end()
        return
      case 'KeepAliveInfo':
        // Answered in kind (ActiveMQ's InactivityMonitor), never with a Response.
        if (c.responseRequired) this.conn.write({ type: 'KeepAliveInfo', commandId: 0, responseRequired: false })
        return
      case 'ConsumerControl':
        this.need(c)
        return this.consumers!.control(c)
      case 'FlushCommand':
      case 'ControlCommand':
      case 'ConnectionControl':
      case 'ProducerAck':
      case 'BrokerInfo':
      case 'Response':
      case 'ExceptionResponse':
      case 'DataResponse':
      case 'DataArrayResponse':
      case 'IntegerResponse':
        // Broker-to-client commands or hints with nothing for a broker to do; answered when asked.
        return
      default:
        throw new BrokerError('OPENWIRE_UNSUPPORTED', `openwire: ${c.type} is not a command a client sends to a broker`)
    }
  }

  private async connect(c: W.ConnectionInfo): Promise<void> {
    if (this.session !== null || this.connecting)
      throw new BrokerError(
        'BROKER_SUBSCRIPTION_INVALID',
        'openwire ConnectionInfo: this transport already has a connection',
      )
    this.connecting = true
    try {
      const subject =
        this.deps.authenticator === null
          ? null
          : await this.deps.authenticator.authenticate({
              username: c.userName ?? undefined,
              password: c.password ?? undefined,
              remoteAddress: this.conn.remoteAddress,
            })
      if (!this.conn.isOpen) return
      const session = this.deps.core.connect({
        clientId: c.clientId ?? undefined,
        login: c.userName ?? undefined,
        remoteAddress: this.conn.remoteAddress,
        protocol: 'openwire',
        subject,
      })
      this.session = session
      this.subject = subject
      this.connectionId = c.connectionId
      this.clientId = c.clientId
      this.consumers = new ConsumerBook({ session, clock: this.conn.clock, write: (cmd) => this.conn.write(cmd) })
      this.conn.announceCluster()
    } finally {
      this.connecting = false
    }
  }

  private addConsumer(c: W.ConsumerInfo): void {
    this.need(c)
    if (isAdvisoryDestination(c.destination)) {
      const key = consumerKey(c.consumerId)
      const watcher: AdvisoryWatcher = { advise: (topic, info) => this.advise(c, topic, info) }
      this.advisoryConsumers.set(key, this.deps.advisories.watch(watcher, c.destination!.physicalName!))
      return
    }
    this.consumers!.add(
      c,
      sessionKey(
        c.consumerId === null
          ? null
          : { type: 'SessionId', connectionId: c.consumerId.connectionId, value: c.consumerId.sessionId },
      ),
    )
  }

  /** One advisory message (its data structure a DestinationInfo) to an advisory consumer. */
  private advise(c: W.ConsumerInfo, topic: string, info: W.DestinationInfo): void {
    const seq = ++this.advisorySeq
    this.conn.write({
      type: 'MessageDispatch',
      commandId: 0,
      responseRequired: false,
      consumerId: c.consumerId,
      destination: c.destination,
      redeliveryCounter: 0,
      message: {
        type: 'Message',
        commandId: 0,
        responseRequired: false,
        producerId: null,
        destination: { type: 'Topic', physicalName: topic },
        transactionId: null,
        originalDestination: null,
        messageId: toWireMessageId(`ID:advisory-${this.conn.id}:0:0:${seq}`, seq),
        originalTransactionId: null,
        groupId: null,
        groupSequence: 0,
        correlationId: null,
        persistent: false,
        expiration: 0n,
        priority: 4,
        replyTo: null,
        timestamp: BigInt(this.conn.clock.now()),
        jmsType: 'Advisory',
        content: null,
        properties: null,
        dataStructure: info,
        targetConsumerId: null,
        compressed: false,
        redeliveryCounter: 0,
        brokerPath: null,
        arrival: 0n,
        userId: null,
        receivedByDfBridge: false,
        droppable: false,
        cluster: null,
        brokerInTime: 0n,
        brokerOutTime: 0n,
        jmsxGroupFirstForConsumer: false,
      },
    })
  }

  private async send(m: W.Message): Promise<void> {
    const session = this.need(m)
    const message = fromWireMessage(m, {
      bodyBytesMax: this.deps.bodyBytesMax,
      nowMs: this.conn.clock.now(),
      userId: null,
    })
    await session.send({ message }, txKey(m.transactionId))
    const producer = m.producerId === null ? undefined : this.producers.get(producerKey(m.producerId))
    if (!m.responseRequired && producer !== undefined && producer.windowSize > 0)
      this.conn.write({
        type: 'ProducerAck',
        commandId: 0,
        responseRequired: false,
        producerId: m.producerId,
        size: wireMessageSize(m),
      })
  }

  private transaction(t: W.TransactionInfo): Promise<void> | void {
    const session = this.need(t)
    if (t.transactionId?.type === 'XATransactionId')
      throw new BrokerError(
        'OPENWIRE_UNSUPPORTED',
        'openwire: XA transactions are not supported; use local transactions',
        {
          details: { javaClass: XA_EXCEPTION },
        },
      )
    const tx = txKey(t.transactionId)
    if (tx === undefined) throw new BrokerError('BROKER_TX_UNKNOWN', 'openwire TransactionInfo: no transactionId')
    // One line per transaction command: after a failover, which node began, committed or rolled back which
    // transaction is the evidence of an in-doubt commit's fate.
    log.debug(`openwire ${this.conn.id}: TransactionInfo ${txTypeName(t.transactionType)} ${tx}`)
    switch (t.transactionType) {
      case TransactionType.BEGIN:
        return session.begin(tx)
      case TransactionType.COMMIT_ONE_PHASE:
        return session.commit(tx).then(
          () => {
            log.debug(`openwire ${this.conn.id}: committed ${tx}`)
            this.consumers!.endTransaction(tx, true)
          },
          (e) => {
            this.consumers!.endTransaction(tx, false)
            throw e
          },
        )
      case TransactionType.ROLLBACK:
        return session.abort(tx).then(() => this.consumers!.endTransaction(tx, false))
      case TransactionType.END:
      case TransactionType.FORGET:
        return
      default:
        throw new BrokerError(
          'OPENWIRE_UNSUPPORTED',
          `openwire TransactionInfo: type ${t.transactionType} (prepare, two-phase commit, recover) is XA only; use local transactions`,
        )
    }
  }

  private destination(d: W.DestinationInfo): void {
    this.need(d)
    const dest = d.destination
    if (dest === null || (dest.type !== 'TempQueue' && dest.type !== 'TempTopic')) return
    if (d.operationType === 0) this.deps.advisories.addTemp(this, d.connectionId, dest)
    else this.deps.advisories.removeTemp(dest)
  }

  private remove(r: W.RemoveInfo): Promise<void> | void {
    const id = r.objectId
    if (id === null) return
    switch (id.type) {
      case 'ConnectionId':
        return this.close()
      case 'SessionId':
        this.sessions.delete(sessionKey(id))
        for (const [k, p] of this.producers) if (p.producerId?.sessionId === id.value) this.producers.delete(k)
        return this.consumers?.removeSession(sessionKey(id))
      case 'ProducerId':
        this.producers.delete(producerKey(id))
        return
      case 'ConsumerId': {
        const key = consumerKey(id)
        const unwatch = this.advisoryConsumers.get(key)
        if (unwatch !== undefined) {
          unwatch()
          this.advisoryConsumers.delete(key)
          return
        }
        return this.consumers?.remove(id)
      }
    }
  }

  /** The logical connection ends: consumers, advisories, temp destinations, the broker session. */
  async close(): Promise<void> {
    for (const unwatch of this.advisoryConsumers.values()) unwatch()
    this.advisoryConsumers.clear()
    this.deps.advisories.removeOwner(this)
    const released = this.consumers?.release()
    const s = this.session
    this.session = null
    this.consumers = null
    // Both take effect when called (window acks first); a failed ack is the redelivery the close makes anyway.
    const closing = s?.close()
    await released?.catch((e) =>
      log.debug(`openwire ${this.conn.id}: window acks at close: ${e instanceof Error ? e.message : String(e)}`),
    )
    await closing
    if (this.subject !== null) log.debug(`openwire ${this.conn.id}: ${this.subject.user} closed`)
  }
}
