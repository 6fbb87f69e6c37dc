/**
 * A connector's limits: their defaults and bounds, and how the fairness limits are settled once every option of a
 * URI is read.
 *
 * Connection fairness (sfbroker extensions; ActiveMQ has only `maximumConnections`, named in its style):
 * `transport.maximumConnectionsPerAddress` (sockets from one remote IP, default: maximumConnections, i.e. no
 * further limit, as many clients may share a NAT address), `transport.maximumPendingConnects` (sockets that
 * have not completed CONNECT yet, default a quarter of maximumConnections) and
 * `transport.maximumPendingConnectsPerAddress` (the same per remote IP, default half of maximumPendingConnects:
 * a pool opening many connections at once from one host is pending all together for a moment).
 * StompServer (src/protocol/stomp/server.ts) says what happens when one is full.
 *
 * Memory bounds (sfbroker extensions, #19): `transport.maxReceiveSize` (the connector's receive budget for large
 * frames being received, default 128 MiB) and `transport.maxOutboundSize` (bytes queued for one consumer's socket
 * before dispatch to it pauses, default 8 MiB); both at least CONNECTOR_BYTES_MIN.
 */
import type { BrokerError } from '../lib/errors.ts'

/** Smallest transport.maxReceiveSize / transport.maxOutboundSize: one typical socket read. */
export const CONNECTOR_BYTES_MIN = 64 * 1024

export const DEFAULT_MAXIMUM_CONNECTIONS = 1000
export const DEFAULT_MAX_FRAME_SIZE = 100 * 1024 * 1024
export const MAXIMUM_CONNECTIONS_MAX = 1_000_000
/** ActiveMQ's StompWireFormat default: a socket has 30 s to send CONNECT. */
export const DEFAULT_CONNECT_ATTEMPT_TIMEOUT_MS = 30_000
/** ActiveMQ's default: no heart-beat assumed for a CONNECT without the header. */
export const DEFAULT_HEART_BEAT = '0,0'
/** Each side of a heart-beat, as the STOMP parser accepts it (at most 9 digits). */
export const HEART_BEAT_MS_MAX = 999_999_999
/** sfbroker's default read grace (ActiveMQ's is 1.0; its docs recommend 1.5). */
export const DEFAULT_HB_GRACE_PERIOD_MULTIPLIER = 1.5
export const HB_GRACE_PERIOD_MULTIPLIER_MAX = 100
/** Default pre-CONNECT budget: this fraction of maximumConnections (at least 1). */
export const DEFAULT_PENDING_CONNECTS_FRACTION = 1 / 4
/** Default per-address pre-CONNECT budget: this fraction of maximumPendingConnects (at least 1). */
export const DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION = 1 / 2

export interface Fairness {
  maximumConnectionsPerAddress: number
  maximumPendingConnects: number
  maximumPendingConnectsPerAddress: number
}

/** The fairness limits a connector gets when its URI does not set them (also used for hand-built connectors). */
export function defaultFairness(maximumConnections: number): Fairness {
  const maximumPendingConnects = Math.max(1, Math.floor(maximumConnections * DEFAULT_PENDING_CONNECTS_FRACTION))
  return {
    maximumConnectionsPerAddress: maximumConnections,
    maximumPendingConnects,
    maximumPendingConnectsPerAddress: Math.max(
      1,
      Math.floor(maximumPendingConnects * DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION),
    ),
  }
}

/**
 * The fairness limits from what a URI set (undefined: not set) and its maximumConnections, defaults filled in;
 * judged after every option is read, so their order in the URI does not matter. `bad` makes the error.
 */
export function settleFairness(
  maximumConnections: number,
  set: { perAddress?: number; pending?: number; pendingPerAddress?: number },
  bad: (msg: string) => BrokerError,
): Fairness {
  const { perAddress, pending, pendingPerAddress } = set
  const d = defaultFairness(maximumConnections)
  const maximumConnectionsPerAddress = perAddress ?? d.maximumConnectionsPerAddress
  if (maximumConnectionsPerAddress > maximumConnections) {
    throw bad(
      `option transport.maximumConnectionsPerAddress="${maximumConnectionsPerAddress}" is above maximumConnections (${maximumConnections}); expected at most ${maximumConnections}`,
    )
  }
  if (pending !== undefined && pending > maximumConnections) {
    throw bad(
      `option transport.maximumPendingConnects="${pending}" is above maximumConnections (${maximumConnections}); expected at most ${maximumConnections} (sockets before CONNECT are connections too)`,
    )
  }
  const maximumPendingConnects = pending ?? d.maximumPendingConnects
  const perAddressDefault =
    pending === undefined
      ? d.maximumPendingConnectsPerAddress
      : Math.max(1, Math.floor(pending * DEFAULT_PENDING_CONNECTS_PER_ADDRESS_FRACTION))
  const maximumPendingConnectsPerAddress =
    pendingPerAddress ?? Math.min(perAddressDefault, maximumConnectionsPerAddress)
  if (maximumPendingConnectsPerAddress > maximumPendingConnects) {
    throw bad(
      `option transport.maximumPendingConnectsPerAddress="${maximumPendingConnectsPerAddress}" is above transport.maximumPendingConnects (${maximumPendingConnects}); expected at most ${maximumPendingConnects}`,
    )
  }
  if (maximumPendingConnectsPerAddress > maximumConnectionsPerAddress) {
    throw bad(
      `option transport.maximumPendingConnectsPerAddress="${maximumPendingConnectsPerAddress}" is above transport.maximumConnectionsPerAddress (${maximumConnectionsPerAddress}); expected at most ${maximumConnectionsPerAddress}`,
    )
  }
  return { maximumConnectionsPerAddress, maximumPendingConnects, maximumPendingConnectsPerAddress }
}
