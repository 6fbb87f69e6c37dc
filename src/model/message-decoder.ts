/**
 * decodeMessage: the CoreMessage of a record message-codec.ts wrote (layout there). It checks every length, tag and
 * range against the bytes it has and throws STORAGE_CORRUPT_RECORD naming the field and offset: a corrupt record
 * is reported, never half-read, and no input makes it loop past the record's end. ASCII strings are sliced straight
 * out of the record; others go through a fatal TextDecoder, so invalid UTF-8 is reported, not replaced.
 */
import { BrokerError } from '../lib/errors.ts'
import { DESTINATION_KINDS, type Destination } from './destination.ts'
import { BODY_KINDS, type CoreMessage, MESSAGE_PROPERTIES_MAX, ORIGIN_PROTOCOLS, type ProducerRef } from './message.ts'
import { PROPERTY_TYPES, type Properties, type PropertyValue } from './property.ts'
import {
  F_CORRELATION,
  F_GROUP_ID,
  F_GROUP_SEQ,
  F_PERSISTENT,
  F_PRODUCER,
  F_REPLY_TO,
  F_TYPE,
  F_USER,
  F2_KNOWN,
  F2_MQTT,
  F2_PRODUCER_SEQ,
  F2_RETAIN,
  MESSAGE_FORMAT_VERSION,
} from './message-codec.ts'

const decoder = new TextDecoder('utf-8', { fatal: true })

class Reader {
  pos = 0
  private dv: DataView | null = null
  /** The record as a Buffer for latin1Slice (Node's and Bun's undeclared fast slice; toString('latin1') is ~3x slower). */
  private readonly nb: Buffer & { latin1Slice(start: number, end: number): string }
  constructor(readonly b: Uint8Array) {
    // A Buffer already (the journal's records are subarrays of its read buffers): no second view per record.
    this.nb = (b instanceof Buffer ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)) as Reader['nb']
  }

  corrupt(field: string, at: number, what: string): never {
    throw new BrokerError('STORAGE_CORRUPT_RECORD', `message record: ${field} at offset ${at}: ${what}`, {
      details: { field, offset: at, recordBytes: this.b.length },
    })
  }

  need(field: string, n: number): void {
    if (this.pos + n > this.b.length)
      this.corrupt(field, this.pos, `needs ${n} bytes, the record ends after ${this.b.length - this.pos}`)
  }

  u8(field: string): number {
    this.need(field, 1)
    return this.b[this.pos++]!
  }

  /** An enum byte: an index into `values`. */
  tag<T>(field: string, values: readonly T[]): T {
    const at = this.pos
    const v = this.u8(field)
    if (v >= values.length) this.corrupt(field, at, `tag ${v}, expected 0..${values.length - 1}`)
    return values[v]!
  }

  varuint(field: string): number {
    const at = this.pos
    let v = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.b.length) this.corrupt(field, at, 'varint runs past the end of the record')
      const c = this.b[this.pos++]!
      v += (c & 0x7f) * scale
      if (c < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) this.corrupt(field, at, `varint ${v} is over 2^53-1`)
        return v
      }
      scale *= 0x80
    }
    return this.corrupt(field, at, 'varint longer than 8 bytes')
  }

  str(field: string): string {
    const n = this.varuint(field)
    const at = this.pos
    this.need(field, n)
    const b = this.b
    const end = at + n
    let i = at
    while (i < end && b[i]! < 0x80) i++
    if (i === end) {
      // ASCII (the common case): sliced straight out of the record, no view or decoder per string.
      this.pos = end
      return this.nb.latin1Slice(at, end)
    }
    try {
      const s = decoder.decode(b.subarray(at, end))
      this.pos = end
      return s
    } catch {
      return this.corrupt(field, at, `${n} bytes are not valid UTF-8`)
    }
  }

  bytes(field: string): Uint8Array {
    const n = this.varuint(field)
    this.need(field, n)
    const out = this.b.slice(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  view(field: string, n: number): DataView {
    this.need(field, n)
    this.dv ??= new DataView(this.b.buffer, this.b.byteOffset, this.b.byteLength)
    return this.dv
  }

  destination(field: string): Destination {
    const kind = this.tag(`${field}.kind`, DESTINATION_KINDS)
    const at = this.pos
    const name = this.str(`${field}.name`)
    if (name.length === 0) this.corrupt(`${field}.name`, at, 'is empty')
    return { kind, name }
  }

  property(field: string): PropertyValue {
    const type = this.tag(`${field} type`, PROPERTY_TYPES)
    const at = this.pos
    switch (type) {
      case 'string':
        return { type, value: this.str(field) }
      case 'boolean': {
        const v = this.u8(field)
        if (v > 1) this.corrupt(field, at, `boolean byte ${v}, expected 0 or 1`)
        return { type, value: v === 1 }
      }
      case 'bytes':
        return { type, value: this.bytes(field) }
      case 'byte':
        return this.fixed(type, at, 1, this.view(field, 1).getInt8(at))
      case 'short':
        return this.fixed(type, at, 2, this.view(field, 2).getInt16(at, true))
      case 'int':
        return this.fixed(type, at, 4, this.view(field, 4).getInt32(at, true))
      case 'long':
        this.view(field, 8)
        this.pos = at + 8
        return { type, value: this.dv!.getBigInt64(at, true) }
      case 'float':
        return this.fixed(type, at, 4, this.view(field, 4).getFloat32(at, true))
      case 'double':
        return this.fixed(type, at, 8, this.view(field, 8).getFloat64(at, true))
    }
  }

  private fixed(
    type: 'byte' | 'short' | 'int' | 'float' | 'double',
    at: number,
    width: number,
    value: number,
  ): PropertyValue {
    this.pos = at + width
    return { type, value }
  }
}

/** The message of a record written by encodeMessage; STORAGE_CORRUPT_RECORD (field, offset) for anything else. */
export function decodeMessage(record: Uint8Array): CoreMessage {
  const r = new Reader(record)
  const version = r.u8('version')
  if (version !== MESSAGE_FORMAT_VERSION)
    r.corrupt('version', 0, `format ${version}, expected ${MESSAGE_FORMAT_VERSION}`)
  const f = r.u8('flags')
  const f2 = r.u8('flags2')
  if ((f2 & ~F2_KNOWN) !== 0 || (!(f2 & F2_MQTT) && f2 & ~F2_PRODUCER_SEQ))
    r.corrupt('flags2', 2, `bits 0x${f2.toString(16)} are not a valid combination`)
  const protocol = r.tag('origin', ORIGIN_PROTOCOLS)
  const bodyKind = r.tag('bodyKind', BODY_KINDS)
  const priority = r.u8('priority')
  if (priority > 9) r.corrupt('priority', 5, `${priority}, expected 0..9`)
  const messageId = r.str('messageId')
  const dest = r.destination('destination')
  const replyTo = f & F_REPLY_TO ? r.destination('replyTo') : null
  const correlationId = f & F_CORRELATION ? r.str('correlationId') : null
  const type = f & F_TYPE ? r.str('type') : null
  const timestamp = r.varuint('timestamp')
  const expiration = r.varuint('expiration')
  const redeliveryCount = r.varuint('redeliveryCount')
  const groupId = f & F_GROUP_ID ? r.str('groupId') : null
  let groupSeq: number | null = null
  if (f & F_GROUP_SEQ) {
    const at = r.pos
    const z = r.varuint('groupSeq')
    groupSeq = z % 2 === 0 ? z / 2 : -(z + 1) / 2
    if (groupSeq < -(2 ** 31) || groupSeq >= 2 ** 31) r.corrupt('groupSeq', at, `${groupSeq} is not a JMS int`)
  }
  let producer: ProducerRef | null = null
  if (f & F_PRODUCER) {
    const id = r.str('producer.id')
    producer = { id, seq: f2 & F2_PRODUCER_SEQ ? r.varuint('producer.seq') : null }
  } else if (f2 & F2_PRODUCER_SEQ) r.corrupt('flags2', 2, 'producer seq without a producer')
  const userId = f & F_USER ? r.str('userId') : null
  const countAt = r.pos
  const count = r.varuint('properties')
  // Each property takes at least 3 bytes: a count past that is corrupt, whatever MESSAGE_PROPERTIES_MAX allows.
  if (count > MESSAGE_PROPERTIES_MAX || count * 3 > record.length - r.pos)
    r.corrupt('properties', countAt, `count ${count} does not fit the ${record.length - r.pos} bytes left`)
  const properties: Properties = new Map()
  for (let i = 0; i < count; i++) {
    const name = r.str(`property ${i} name`)
    properties.set(name, r.property(`property ${JSON.stringify(name)}`))
  }
  const body = r.bytes('body')
  if (bodyKind === 'none' && body.length > 0) r.corrupt('body', r.pos - body.length, 'bytes with bodyKind none')
  if (r.pos !== record.length) r.corrupt('end', r.pos, `${record.length - r.pos} bytes after the body`)
  return {
    messageId,
    destination: dest,
    replyTo,
    correlationId,
    type,
    timestamp,
    expiration,
    priority,
    persistent: (f & F_PERSISTENT) !== 0,
    redeliveryCount,
    groupId,
    groupSeq,
    properties,
    bodyKind,
    body,
    producer,
    origin: f2 & F2_MQTT ? { protocol, mqtt: { qos: qosOf(r, f2), retain: (f2 & F2_RETAIN) !== 0 } } : { protocol },
    userId,
  }
}

function qosOf(r: Reader, f2: number): 0 | 1 | 2 {
  const q = (f2 >> 3) & 3
  if (q === 3) r.corrupt('flags2', 2, 'MQTT QoS 3, expected 0, 1 or 2')
  return q as 0 | 1 | 2
}
