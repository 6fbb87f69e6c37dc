/**
 * One open() of a BrokerMqttCore session: the MqttSession the connection calls. Every call after a takeover or
 * close fails with BROKER_SESSION_CLOSED; the work is the core's (broker-core.ts) and the session's
 * (broker-core-session.ts).
 */
import { BrokerError } from '../../lib/errors.ts'
import type { BrokerSession } from './broker-port.ts'
import type { DeliverySink, MqttMessage, MqttSession, PublishOptions, SubscribeOptions } from './core-port.ts'
import type { SessionAttachment, SessionState } from './broker-core-session.ts'
import type { BrokerMqttCore } from './broker-core.ts'

export class BrokerSessionHandle implements MqttSession, SessionAttachment {
  constructor(
    private readonly core: BrokerMqttCore,
    private readonly s: SessionState,
    readonly sink: DeliverySink,
    readonly brokerSession: BrokerSession,
  ) {}

  get clientId(): string {
    return this.s.clientId
  }

  private live(what: string): SessionState {
    if (this.s.attached !== this)
      throw new BrokerError('BROKER_SESSION_CLOSED', `mqtt session ${this.s.clientId}: ${what} after close or takeover`)
    return this.s
  }

  publish(message: MqttMessage, opts: PublishOptions = {}): Promise<{ duplicate: boolean; matched: boolean }> {
    return this.core.publisher.publishOnce(this.live('publish'), this.brokerSession, message, opts)
  }

  release(packetId: number): Promise<boolean> {
    return this.core.publisher.release(this.live('release'), packetId)
  }

  subscribe(filter: string, opts: SubscribeOptions): Promise<{ existed: boolean }> {
    return this.core.subscribe(this.live('subscribe'), filter, opts)
  }

  unsubscribe(filter: string, shareGroup?: string): Promise<boolean> {
    return this.core.unsubscribe(this.live('unsubscribe'), filter, shareGroup)
  }

  start(): void {
    this.live('start').start()
  }

  settle(packetId: number): boolean {
    return this.live('settle').settle(packetId)
  }

  received(packetId: number): Promise<boolean> {
    return this.live('received').received(packetId)
  }

  async close(opts: { publishWill: boolean; sessionExpirySec?: number }): Promise<void> {
    if (this.s.attached !== this) return
    await this.core.detach(this.s, opts.publishWill, opts.sessionExpirySec)
  }
}
