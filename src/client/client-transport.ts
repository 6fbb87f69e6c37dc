/**
 * ClientTransport: the port through which the client's failover logic (client.ts, reconnect-loop.ts,
 * priority-backup.ts, frame-router.ts) uses one connection to one broker. BrokerLink (broker-link.ts) is the real
 * adapter over node:net; the logic needs nothing else from it, so it can run over any duplex that speaks STOMP.
 */
import type { ClientStompVersion } from './broker-link.ts'
import type { Endpoint } from './failover-uri.ts'

export interface ClientTransport {
  readonly endpoint: Endpoint
  /** STOMP version negotiated in CONNECTED. */
  readonly version: ClientStompVersion
  /** CONNECTED headers (server, session, heart-beat...). */
  readonly connected: Record<string, string>
  /** Write one frame; false if the connection is already closed (the caller keeps the op for a resend). */
  write(command: string, headers: Record<string, string>, body?: Uint8Array): boolean
  /** Stop reading from the socket (TCP backpressure to the broker) or start again. */
  setPaused(paused: boolean): void
  /** Close without DISCONNECT; the close notification carries `err`. */
  destroy(err?: Error): void
  /** Graceful close: DISCONNECT with a receipt, wait for the RECEIPT or `waitMs`, then close. */
  disconnect(waitMs: number): Promise<void>
}

/** Opens a transport to one endpoint; resolves after CONNECTED. */
export type OpenTransport = (ep: Endpoint) => Promise<ClientTransport>
