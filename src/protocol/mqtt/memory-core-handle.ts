/**
 * One open() of a MemoryCore session (memory-core.ts): the MqttSession a connection calls. Every call after a
 * takeover or close fails with BROKER_SESSION_CLOSED; the state and routing are the core's.
 */
import { BrokerError } from '../../lib/errors.ts'
import type { DeliverySink, MqttMessage, MqttSession, PublishOptions, SubscribeOptions } from './core-port.ts'
import type { MemoryCore, State } from './memory-core.ts'

/** One open() of a session; every call after takeover or close fails with BROKER_SESSION_CLOSED. */
export class MemoryHandle implements MqttSession {
  constructor(
    private readonly core: MemoryCore,
    private readonly s: State,
    readonly sink: DeliverySink,
  ) {}

  get clientId(): string {
    return this.s.clientId
  }

  private live(what: string): State {
    if (this.s.attached !== this)
      throw new BrokerError('BROKER_SESSION_CLOSED', `mqtt session ${this.s.clientId}: ${what} after close or takeover`)
    return this.s
  }

  async publish(message: MqttMessage, opts: PublishOptions = {}): Promise<{ duplicate: boolean; matched: boolean }> {
    const s = this.live('publish')
    if (opts.exactlyOnceId !== undefined) {
      if (s.exactlyOnce.has(opts.exactlyOnceId)) return { duplicate: true, matched: false }
      const matched = this.core.route({ ...message, origin: s.clientId })
      s.exactlyOnce.add(opts.exactlyOnceId)
      return { duplicate: false, matched }
    }
    return { duplicate: false, matched: this.core.route({ ...message, origin: s.clientId }) }
  }

  async release(packetId: number): Promise<boolean> {
    return this.live('release').exactlyOnce.delete(packetId)
  }

  async subscribe(filter: string, opts: SubscribeOptions): Promise<{ existed: boolean }> {
    return this.core.subscribe(this.live('subscribe'), filter, opts)
  }

  async unsubscribe(filter: string, shareGroup?: string): Promise<boolean> {
    return this.core.unsubscribe(this.live('unsubscribe'), filter, shareGroup)
  }

  start(): void {
    this.core.start(this.live('start'))
  }

  settle(packetId: number): boolean {
    const s = this.live('settle')
    if (!s.inFlight.delete(packetId)) return false
    this.core.pump(s)
    return true
  }

  async received(packetId: number): Promise<boolean> {
    const f = this.live('received').inFlight.get(packetId)
    if (!f || f.delivery.qos !== 2) return false
    f.state = 'received'
    return true
  }

  async close(opts: { publishWill: boolean; sessionExpirySec?: number }): Promise<void> {
    if (this.s.attached !== this) return
    this.core.detach(this.s, opts.publishWill, opts.sessionExpirySec)
  }
}
