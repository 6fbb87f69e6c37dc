/**
 * The client's public option, state, event and statistics types (connect(), StompClient's events and stats).
 * Types only: what they mean at runtime is promised by client.ts.
 */
import type { Clock } from '../lib/clock.ts'
import type { EndpointTls } from './failover-uri.ts'

export type SendBody = string | Uint8Array

export interface SendOptions {
  /** Ask for a RECEIPT and resolve on it (default true). false: resolve once the frame is written to a socket. */
  receipt?: boolean
  /** Overrides the client's timeout for this operation. */
  timeoutMs?: number
}

export interface ConnectOptions {
  login?: string
  passcode?: string
  /** Sent as `client-id` on every CONNECT (needed for durable subscriptions). */
  clientId?: string
  /** STOMP `host` header; defaults to each endpoint's host name. */
  vhost?: string
  /** [cx, cy] heart-beat in ms: we send every cx, want one every cy. Default [10000, 10000]; [0, 0] disables. */
  heartbeat?: [number, number]
  /** Overrides the URI's `timeout` option (ms; -1 forever). */
  timeoutMs?: number
  /** Messages an iterator-mode subscription buffers before the client stops reading the socket. Default 1000. */
  iteratorBufferMax?: number
  /** How long close() waits for the DISCONNECT receipt. Default 5000 ms. */
  closeTimeoutMs?: number
  /**
   * Message ids remembered per client (subscription + message-id, oldest forgotten first) to mark a repeated delivery
   * as redelivered even when the broker does not. Default 10000; 0 disables the audit.
   */
  duplicateAuditDepth?: number
  clock?: Clock
  /** TLS defaults for `ssl://` / `stomp+ssl://` endpoints whose URI options do not set them (caFile, certFile, keyFile, verifyHostName). */
  tls?: Partial<EndpointTls>
  /** Randomness for URI shuffling and backoff jitter (tests inject a seeded one). */
  random?: () => number
}

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed'

export interface ConnectedInfo {
  endpoint: string
  server?: string
  session?: string
  version: string
}

export interface InterruptedInfo {
  endpoint: string
  error: Error
}

export interface ClientStats {
  /** Successful connections after the first one. */
  reconnects: number
  /** SEND frames written again after a failover. */
  resentSends: number
  sentFrames: number
  receivedMessages: number
}
