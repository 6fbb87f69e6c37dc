/**
 * firstConnect: the wait of StompClient.start() (client.ts) for its first connection: resolves on the client's
 * 'connected' event, rejects with the 'failed' error or, after timeoutMs (when positive), with the host's timeout
 * error; on a rejection the client is closed. Its listeners and timer are removed once it settles.
 * It does not connect: `begin` starts the reconnect loop that does.
 */
import type { EventEmitter } from 'node:events'
import type { Clock } from '../lib/clock.ts'

export interface FirstConnectHost {
  readonly events: EventEmitter
  readonly clock: Clock
  /** How long to wait (ms); 0 or less: no bound. */
  readonly timeoutMs: number
  /** The error for a timeout, built when it fires (it may name the last attempt's error). */
  timedOut(): Error
  /** Start connecting (after the listeners are in place). */
  begin(): void
  /** Give up: called on a rejection, before it is delivered. */
  close(): void
}

export function firstConnect(h: FirstConnectHost): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = false
    const timer = h.timeoutMs > 0 ? h.clock.setTimeout(() => finish(h.timedOut()), h.timeoutMs) : undefined
    const finish = (err?: Error) => {
      if (done) return
      done = true
      if (timer !== undefined) h.clock.clearTimeout(timer)
      h.events.off('connected', onOk)
      h.events.off('failed', onFail)
      if (err) {
        h.close()
        reject(err)
      } else resolve()
    }
    const onOk = () => finish()
    const onFail = (e: Error) => finish(e)
    h.events.on('connected', onOk)
    h.events.on('failed', onFail)
    h.begin()
  })
}
