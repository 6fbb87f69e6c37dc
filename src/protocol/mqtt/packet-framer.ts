/**
 * PacketFramer: cuts a byte stream into whole MQTT control packets (fixed header, remaining length, body) so that
 * a packet over the maximum packet size is refused from its header, before its body is buffered (MQTT 5 §3.1.2.11.4
 * and §4.13), and mqtt-packet's parser only ever sees whole packets. Also peeks the protocol name and level of the
 * first packet so an unsupported level can be answered with CONNACK 0x01 (3.1.1 §3.1.2.2). No I/O.
 */
import { MqttProtocolError, RC } from './reason-codes.ts'

/** Most bytes of a remaining length (MQTT §1.5.5 variable byte integer). */
const VARINT_BYTES_MAX = 4

export class PacketFramer {
  private chunks: Buffer[] = []
  private buffered = 0

  /** packetBytesMax: the largest whole packet (fixed header included) accepted. */
  constructor(private readonly packetBytesMax: number) {}

  /** Bytes held for a packet not yet complete (at most packetBytesMax). */
  get pendingBytes(): number {
    return this.buffered
  }

  /** Appends `chunk` and returns every packet now complete; throws MqttProtocolError on a bad or oversized header. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const out: Buffer[] = []
    for (;;) {
      if (this.buffered < 2) break
      const head = this.peek(Math.min(this.buffered, 1 + VARINT_BYTES_MAX))
      let length = 0
      let i = 1
      let mul = 1
      let complete = false
      for (; i < head.length && i <= VARINT_BYTES_MAX; i++) {
        const b = head[i]!
        length += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          complete = true
          i++
          break
        }
      }
      if (!complete) {
        if (head.length > VARINT_BYTES_MAX)
          throw new MqttProtocolError(RC.malformedPacket, 'malformed remaining length: more than 4 bytes')
        break
      }
      const total = i + length
      if (total > this.packetBytesMax)
        throw new MqttProtocolError(
          RC.packetTooLarge,
          `packet of ${total} bytes (type ${head[0]! >> 4}) over the maximum packet size ${this.packetBytesMax}`,
        )
      if (this.buffered < total) break
      out.push(this.take(total))
    }
    return out
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!.subarray(0, n)
    const all = Buffer.concat(this.chunks)
    this.chunks = [all]
    return all.subarray(0, n)
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks)
    const packet = all.subarray(0, n)
    const rest = all.subarray(n)
    this.chunks = rest.length > 0 ? [rest] : []
    this.buffered = rest.length
    return packet
  }
}

/**
 * The protocol name and level of a whole CONNECT packet, or null when it is too short to say. Read by hand so a
 * level mqtt-packet rejects can still get its CONNACK.
 */
export function peekProtocol(packet: Buffer): { name: string; level: number } | null {
  let i = 1
  while (i < packet.length && i <= VARINT_BYTES_MAX && (packet[i]! & 0x80) !== 0) i++
  i++
  if (packet.length < i + 2) return null
  const nameLength = packet.readUInt16BE(i)
  if (packet.length < i + 2 + nameLength + 1) return null
  const name = packet.subarray(i + 2, i + 2 + nameLength).toString('latin1')
  return { name, level: packet[i + 2 + nameLength]! & 0x7f }
}
