/**
 * ReconnectLoop: the failover loop. Passes over a failover URI's brokers (passOrder) until one accepts, paced by
 * ReconnectBackoff and the injected Clock, and gives up when the backoff says so.
 * Owns: the pass order, the wait between passes (cancellable), the decision to give up or to stop at a login
 * failure. It does not own the connection, its state or what is restored on it: the host (client.ts) does.
 */
import type { Clock } from '../lib/clock.ts'
import { BrokerError, isBrokerError } from '../lib/errors.ts'
import { logger } from '../lib/log.ts'
import { passOrder, type ReconnectBackoff } from './backoff.ts'
import type { ClientTransport } from './client-transport.ts'
import type { BrokerUri, Endpoint } from './failover-uri.ts'

const log = logger('client')

/** A broker's refusal that names authentication: retrying other brokers with the same credentials will not help. */
const AUTH_ERROR = /auth|login|passcode|password|credential|security|not authori[sz]ed|access denied|permission/i

/** What the loop needs from the client it reconnects. */
export interface ReconnectHost {
  /** The client was closed or gave up: stop. */
  isDone(): boolean
  open(ep: Endpoint): Promise<ClientTransport>
  /** A broker accepted: the link is the client's now. */
  connected(link: ClientTransport, initial: boolean): void
  /** The last attempt's error (reported if connect() times out). */
  attemptFailed(err: Error): void
  /** Give up with `err`. */
  fail(err: Error): void
}

export class ReconnectLoop {
  private sleeping: { timer: unknown; resolve: () => void } | null = null

  constructor(
    private readonly uri: BrokerUri,
    private readonly backoff: ReconnectBackoff,
    private readonly random: () => number,
    private readonly clock: Clock,
    private readonly host: ReconnectHost,
  ) {}

  /**
   * Passes over the URI list until a broker accepts. After a loss the first pass waits initialReconnectDelay, unless
   * `immediate` (the broker said it stopped serving: another one is taking over, waiting only delays the clients);
   * either way the lost broker comes last in the pass.
   */
  async run(lostUri: string | undefined, initial: boolean, immediate = false): Promise<void> {
    const host = this.host
    if (!initial && !immediate) await this.sleep(this.backoff.firstDelayMs())
    let lastErr: Error | undefined
    for (;;) {
      if (host.isDone()) return
      for (const ep of passOrder(this.uri.endpoints, this.uri.options, lostUri, this.random)) {
        if (host.isDone()) return
        try {
          const conn = await host.open(ep)
          if (host.isDone()) {
            conn.destroy()
            return
          }
          host.connected(conn, initial)
          return
        } catch (e) {
          lastErr = e as Error
          host.attemptFailed(lastErr)
          log.debug(`could not connect to ${ep.uri}: ${lastErr.message}`)
          // A broker saying it stops serving (sfbroker-reason) is no login failure, whatever its reason's words.
          if (
            isBrokerError(e, 'CLIENT_BROKER_ERROR') &&
            e.details?.reason === undefined &&
            AUTH_ERROR.test(String(e.details?.message ?? e.message))
          ) {
            host.fail(e)
            return
          }
        }
      }
      const out = this.backoff.failedPass()
      const list = this.uri.endpoints.map((e) => e.uri).join(',')
      if (out.warn && this.uri.failover)
        log.warn(`no broker of ${list} reachable after ${out.failures} attempt(s); last error: ${lastErr?.message}`)
      if (out.giveUp && !this.uri.failover && lastErr) {
        // A plain tcp:// URI makes one attempt: report its error as is.
        host.fail(lastErr)
        return
      }
      if (out.giveUp) {
        host.fail(
          new BrokerError(
            'CLIENT_DISCONNECTED',
            `no broker of ${list} reachable after ${out.failures} attempt(s) (limit ${this.backoff.limit()}); last error: ${lastErr?.message}`,
            { cause: lastErr },
          ),
        )
        return
      }
      await this.sleep(out.delayMs)
    }
  }

  /** End a wait between passes now (close or failure); the loop then sees isDone() and stops. */
  cancelSleep(): void {
    if (this.sleeping) {
      this.clock.clearTimeout(this.sleeping.timer)
      this.sleeping.resolve()
      this.sleeping = null
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.sleeping = null
        resolve()
      }, ms)
      this.sleeping = { timer, resolve }
    })
  }
}
