/**
 * Little-endian cursors over a journal buffer: Writer (into a buffer sized up front by the caller) and Reader
 * (every field checked against the record end: a short field is STORAGE_CORRUPT_RECORD, never a read past it).
 * Strings are u32 byte length + UTF-8; byte fields u32 length + bytes.
 */
import { crc32 } from 'node:zlib'
import { BrokerError } from '../../lib/errors.ts'

export function checksum(data: Uint8Array, start = 0, end = data.length, init = 0): number {
  return crc32(data.subarray(start, end), init) >>> 0
}

export class Writer {
  pos = 0
  constructor(readonly b: Buffer) {}
  u8(v: number) {
    this.b[this.pos++] = v
  }
  u32(v: number) {
    this.b.writeUInt32LE(v, this.pos)
    this.pos += 4
  }
  f64(v: number) {
    this.b.writeDoubleLE(v, this.pos)
    this.pos += 8
  }
  str(s: string) {
    const n = this.b.write(s, this.pos + 4, 'utf8')
    this.b.writeUInt32LE(n, this.pos)
    this.pos += 4 + n
  }
  bytes(d: Uint8Array) {
    this.b.writeUInt32LE(d.length, this.pos)
    this.b.set(d, this.pos + 4)
    this.pos += 4 + d.length
  }
}

export class Reader {
  constructor(
    readonly b: Buffer,
    public pos: number,
    readonly end: number,
    readonly where: string,
  ) {}
  private need(n: number) {
    if (this.pos + n > this.end) {
      throw new BrokerError(
        'STORAGE_CORRUPT_RECORD',
        `${this.where}: field of ${n} bytes at ${this.pos} runs past the record end ${this.end}`,
      )
    }
  }
  u8() {
    this.need(1)
    return this.b[this.pos++]
  }
  u32() {
    this.need(4)
    const v = this.b.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }
  f64() {
    this.need(8)
    const v = this.b.readDoubleLE(this.pos)
    this.pos += 8
    return v
  }
  str() {
    const n = this.u32()
    this.need(n)
    const s = this.b.toString('utf8', this.pos, this.pos + n)
    this.pos += n
    return s
  }
  /** Step over a string field without decoding it. */
  skipStr() {
    const n = this.u32()
    this.need(n)
    this.pos += n
  }
  bytes(): Buffer {
    const n = this.u32()
    this.need(n)
    const d = this.b.subarray(this.pos, this.pos + n)
    this.pos += n
    return d
  }
}
