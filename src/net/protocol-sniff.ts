/**
 * sniffProtocol: which protocol a connection on an `auto://` connector speaks, from its first bytes, as ActiveMQ's
 * auto transport tells them apart. Pure; the connector reads, asks, and hands the socket on with the bytes put back.
 * - OpenWire: a size prefix (4 bytes), command type 1 (WireFormatInfo), then the magic `ActiveMQ`;
 * - MQTT: a CONNECT packet, first byte 0x10 (MQTT 3.1.1 §3.1.1; the only packet a client may send first);
 * - STOMP: `CONNECT` or `STOMP` (STOMP 1.2 "Connecting"), after any heart-beat end-of-lines.
 * Answers null while the bytes so far fit more than one (at most SNIFF_BYTES_MAX are ever needed), 'unknown' once
 * they fit none.
 */

export type SniffedProtocol = 'openwire' | 'mqtt' | 'stomp'

/** The most bytes sniffProtocol needs to decide (leading STOMP end-of-lines included). */
export const SNIFF_BYTES_MAX = 64
/** End-of-line bytes a STOMP client may send before CONNECT (heart-beats), at most. */
const LEADING_EOLS_MAX = SNIFF_BYTES_MAX - 'CONNECT'.length

const OPENWIRE_HEAD = [0x01, ...Buffer.from('ActiveMQ', 'latin1')]
const STOMP_COMMANDS = [Buffer.from('CONNECT', 'latin1'), Buffer.from('STOMP', 'latin1')]

/** Whether `have` so far agrees with `want` at `offset` (fully or as a prefix of what is still to come). */
function agrees(have: Uint8Array, offset: number, want: ArrayLike<number>): 'yes' | 'no' | 'partial' {
  for (let i = 0; i < want.length; i++) {
    if (offset + i >= have.length) return 'partial'
    if (have[offset + i] !== want[i]) return 'no'
  }
  return 'yes'
}

export function sniffProtocol(bytes: Uint8Array): SniffedProtocol | 'unknown' | null {
  if (bytes.length === 0) return null
  if (bytes[0] === 0x10) return 'mqtt'
  // OpenWire's size prefix is big-endian and under 2^31: its first byte is below 0x80 (usually 0x00).
  let undecided = false
  if (bytes[0] < 0x80) {
    if (bytes.length < 4) undecided = true
    else {
      const ow = agrees(bytes, 4, OPENWIRE_HEAD)
      if (ow === 'yes') return 'openwire'
      if (ow === 'partial') undecided = true
    }
  }
  let start = 0
  while (start < bytes.length && start < LEADING_EOLS_MAX && (bytes[start] === 0x0a || bytes[start] === 0x0d)) start++
  if (start === bytes.length) return start >= LEADING_EOLS_MAX ? 'unknown' : null
  for (const cmd of STOMP_COMMANDS) {
    const st = agrees(bytes, start, cmd)
    if (st === 'yes') return 'stomp'
    if (st === 'partial') undecided = true
  }
  return undecided ? null : 'unknown'
}
