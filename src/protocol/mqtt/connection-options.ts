/**
 * What an MqttConnection is built with: the byte stream it needs (MqttSocket), its options and their defaults.
 * Types and constants only.
 */
import type { ByteSocket } from '../../net/index.ts'
import type { Clock } from '../../lib/clock.ts'
import type { MqttCore } from './core-port.ts'
import type { ServerLimits } from './connect-handler.ts'
import type { ReceiveBudget } from './receive-budget.ts'
import type { MqttProtocolError } from './reason-codes.ts'
import type { MqttConnection } from './connection.ts'

/** What a connection needs of its byte stream (net/byte-socket.ts). */
export type MqttSocket = ByteSocket

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  packetBytesMax: 16 * 1024 * 1024,
  receiveMaximum: 256,
  inFlightMax: 256,
  topicAliasMaximum: 64,
}
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000
/** 8 MiB: socket backlog beyond which QoS 0 deliveries are dropped. */
export const DEFAULT_OUT_BYTES_MAX = 8 * 1024 * 1024
/** Packets handled or awaiting their answer before the socket stops reading. */
export const DEFAULT_PENDING_PACKETS_MAX = 1024
export const DEFAULT_CLOSE_LINGER_MS = 2_000

export interface MqttConnectionOptions {
  socket: MqttSocket
  core: MqttCore
  clock?: Clock
  limits?: Partial<ServerLimits>
  connectTimeoutMs?: number
  outBytesMax?: number
  pendingPacketsMax?: number
  closeLingerMs?: number
  /** The listener's budget for received packets (all connections). */
  receiveBudget?: ReceiveBudget
  /**
   * Admitted only to be refused: its CONNECT is answered with this error's reason (CONNACK 0x89 / 0x97, 3.1.1 0x03)
   * and the connection closes; the connect timeout bounds how long the server waits for that CONNECT.
   */
  refuse?: MqttProtocolError
  onConnected?: (c: MqttConnection) => void
  onClose?: (c: MqttConnection) => void
}
