/**
 * DataReader: java.io.DataInput over one OpenWire frame, big-endian, bounds-checked. Every failure is an
 * OPENWIRE_FRAME_INVALID BrokerError naming the field being read (`where`, kept by the caller), the offset in
 * the frame, what was found and what was expected. Reading past the end sets `details.truncated`, which an
 * unprefixed-stream decoder reads as "wait for more bytes". No allocation is larger than the bytes present.
 */
import { BrokerError } from '../../lib/errors.ts'
import { decodeModifiedUtf8 } from './modified-utf8.ts'

export class DataReader {
  private readonly view: DataView
  offset: number
  /**
   * The field being read, e.g. "ConsumerInfo.destination", kept as path, separator and field name and joined
   * only for an error message (the codec moves it for every field it reads).
   */
  wherePath = 'frame'
  whereSep = ''
  whereField = ''

  get where(): string {
    return this.whereSep === '' && this.whereField === ''
      ? this.wherePath
      : this.wherePath + this.whereSep + this.whereField
  }

  set where(w: string) {
    this.at(w, '', '')
  }

  /** Names the field being read as `path` + `sep` + `field`. */
  at(path: string, sep: string, field: string): void {
    this.wherePath = path
    this.whereSep = sep
    this.whereField = field
  }

  /** `base` is added to offsets in messages, so they count from the start of the frame on the wire. */
  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    private readonly end = bytes.length,
    private readonly base = 0,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.offset = start
  }

  get remaining(): number {
    return this.end - this.offset
  }

  fail(found: string, expected: string, at = this.offset): BrokerError {
    return new BrokerError(
      'OPENWIRE_FRAME_INVALID',
      `openwire ${this.where} at offset ${at + this.base}: found ${found}, expected ${expected}`,
      { details: { where: this.where, offset: at + this.base } },
    )
  }

  private need(n: number, what: string): void {
    if (this.end - this.offset < n) {
      const e = this.fail(`${this.end - this.offset} byte(s) left`, `${n} byte(s) of ${what}`)
      e.details!.truncated = true
      throw e
    }
  }

  u8(): number {
    this.need(1, 'a byte')
    return this.bytes[this.offset++]!
  }

  i8(): number {
    this.need(1, 'a byte')
    return this.view.getInt8(this.offset++)
  }

  /** Java writes booleans as 0 or 1; any other byte is refused rather than read as true. */
  bool(): boolean {
    const at = this.offset
    const b = this.u8()
    if (b > 1) throw this.fail(`boolean byte ${b}`, '0 or 1', at)
    return b === 1
  }

  i16(): number {
    this.need(2, 'a short')
    const v = this.view.getInt16(this.offset)
    this.offset += 2
    return v
  }

  u16(): number {
    this.need(2, 'a short')
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }

  i32(): number {
    this.need(4, 'an int')
    const v = this.view.getInt32(this.offset)
    this.offset += 4
    return v
  }

  i64(): bigint {
    this.need(8, 'a long')
    const v = this.view.getBigInt64(this.offset)
    this.offset += 8
    return v
  }

  f32(): number {
    this.need(4, 'a float')
    const v = this.view.getFloat32(this.offset)
    this.offset += 4
    return v
  }

  f64(): number {
    this.need(8, 'a double')
    const v = this.view.getFloat64(this.offset)
    this.offset += 8
    return v
  }

  /**
   * Checks a count read at `at` before looping over it: negative is invalid; more elements than the bytes left
   * can hold (at `minBytes` each) is a truncation, since on an unprefixed stream the rest may still arrive.
   */
  count(n: number, minBytes: number, what: string, at: number): number {
    if (n < 0) throw this.fail(`${what} ${n}`, `a ${what} >= 0`, at)
    if (n * minBytes > this.remaining) {
      const e = this.fail(`${what} ${n} with ${this.remaining} byte(s) left`, 'a count the bytes can hold', at)
      e.details!.truncated = true
      throw e
    }
    return n
  }

  /** A copy of the next `n` bytes; `n` is checked against what is left before anything is allocated. */
  take(n: number, what: string): Uint8Array {
    if (n < 0) throw this.fail(`length ${n}`, `a non-negative length of ${what}`, this.offset - 4)
    this.need(n, what)
    const out = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return out
  }

  /** A reader over the next `n` bytes (offsets in errors stay frame offsets); this one skips past them. */
  sub(n: number, what: string): DataReader {
    if (n < 0) throw this.fail(`length ${n}`, `a non-negative length of ${what}`, this.offset - 4)
    this.need(n, what)
    const r = new DataReader(this.bytes, this.offset, this.offset + n, this.base)
    r.at(this.wherePath, this.whereSep, this.whereField)
    this.offset += n
    return r
  }

  /** `n` bytes of modified UTF-8 (the body of DataInput.readUTF or of a 4-byte-length string). */
  utf(n: number): string {
    this.need(n, 'modified UTF-8')
    const r = decodeModifiedUtf8(this.bytes, this.offset, this.offset + n)
    if (!r.ok) throw this.fail(r.why, 'modified UTF-8', this.offset + r.at)
    this.offset += n
    return r.value
  }

  /** DataInput.readUTF: an unsigned short length, then that many bytes of modified UTF-8. */
  readUtf(): string {
    return this.utf(this.u16())
  }
}

/** True for the error a DataReader throws when the bytes ran out (more may still arrive on a stream). */
export function isTruncation(e: unknown): boolean {
  return e instanceof BrokerError && e.details?.truncated === true
}
