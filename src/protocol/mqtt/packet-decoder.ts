/**
 * PacketDecoder: bytes in, whole decoded packets out, for one connection. PacketFramer cuts the stream (refusing a
 * packet over the maximum size from its header), mqtt-packet's parser decodes each whole packet with every string
 * checked as strict UTF-8 (strict-strings.ts), and the first CONNECT's protocol level is peeked so an unsupported
 * one is answered with CONNACK 0x01 (3.1.1 §3.1.2.2). Every failure is an MqttProtocolError with its reason code.
 * No I/O and no packet semantics.
 */
import { parser as mqttParser, type Packet } from 'mqtt-packet'
import { MqttProtocolError, RC } from './reason-codes.ts'
import { PacketFramer, peekProtocol } from './packet-framer.ts'
import { strictStrings } from './strict-strings.ts'

export interface Decoded {
  packet: Packet
  /** Its size on the wire. */
  bytes: number
}

export class PacketDecoder {
  private readonly framer: PacketFramer
  private readonly parser = strictStrings(mqttParser())
  private first = true

  constructor(packetBytesMax: number) {
    this.framer = new PacketFramer(packetBytesMax)
  }

  /** Every packet `chunk` completes, in order; throws MqttProtocolError at the first bad one. */
  push(chunk: Buffer): Decoded[] {
    return this.framer.push(chunk).map((raw) => ({ packet: this.decode(raw), bytes: raw.length }))
  }

  private decode(raw: Buffer): Packet {
    if (this.first) {
      this.first = false
      const proto = raw[0]! >> 4 === 1 ? peekProtocol(raw) : null
      if (proto && (proto.name === 'MQTT' || proto.name === 'MQIsdp') && ![3, 4, 5].includes(proto.level))
        throw new MqttProtocolError(RC.unsupportedProtocolVersion, `protocol level ${proto.level}, expected 3, 4 or 5`)
    }
    let got: Packet | null = null
    let error: Error | null = null
    const onPacket = (p: Packet) => void (got = p)
    const onError = (e: Error) => void (error = e)
    this.parser.on('packet', onPacket)
    this.parser.on('error', onError)
    try {
      this.parser.parse(raw)
    } catch (e) {
      error = e as Error
    } finally {
      this.parser.off('packet', onPacket)
      this.parser.off('error', onError)
    }
    if (error || !got) {
      const why = error ? (error as Error).message : 'incomplete packet'
      throw new MqttProtocolError(RC.malformedPacket, `malformed packet (type ${raw[0]! >> 4}): ${why}`)
    }
    return got
  }
}
