/**
 * DataWriter: java.io.DataOutput into a growing buffer, big-endian, with a hard size limit (`bytesMax`): a write
 * that would pass it throws OPENWIRE_FRAME_TOO_LARGE before growing, so an oversized command never allocates
 * more than the limit. `toBytes()` returns a view of the written bytes. One writer may be reused frame after frame
 * (`reset`), keeping its grown buffer; `detach` hands that buffer to the caller and starts the next one small.
 */
import { BrokerError } from '../../lib/errors.ts'
import { modifiedUtf8Length, writeModifiedUtf8 } from './modified-utf8.ts'

/** First allocation; most control commands fit. */
const INITIAL_BYTES = 256

export class DataWriter {
  private buf: Uint8Array
  private view: DataView
  length = 0

  constructor(private bytesMax: number) {
    this.buf = new Uint8Array(Math.min(INITIAL_BYTES, Math.max(1, bytesMax)))
    this.view = new DataView(this.buf.buffer)
  }

  /** Starts over at length 0 under a (possibly new) limit, keeping the buffer grown so far. */
  reset(bytesMax: number): void {
    this.bytesMax = bytesMax
    this.length = 0
  }

  /** The written bytes, handed over: the writer starts again with a small buffer of its own. */
  detach(): Uint8Array {
    const out = this.buf.subarray(0, this.length)
    this.buf = new Uint8Array(Math.min(INITIAL_BYTES, Math.max(1, this.bytesMax)))
    this.view = new DataView(this.buf.buffer)
    this.length = 0
    return out
  }

  private room(n: number): void {
    const want = this.length + n
    if (want <= this.buf.length) return
    if (want > this.bytesMax)
      throw new BrokerError(
        'OPENWIRE_FRAME_TOO_LARGE',
        `openwire encode: ${want} bytes is over the frame limit of ${this.bytesMax} bytes`,
        { details: { bytes: want, bytesMax: this.bytesMax } },
      )
    const next = new Uint8Array(Math.min(this.bytesMax, Math.max(want, this.buf.length * 2)))
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): void {
    this.room(1)
    this.buf[this.length++] = v & 0xff
  }

  bool(v: boolean): void {
    this.u8(v ? 1 : 0)
  }

  i16(v: number): void {
    this.room(2)
    this.view.setInt16(this.length, v)
    this.length += 2
  }

  u16(v: number): void {
    this.room(2)
    this.view.setUint16(this.length, v)
    this.length += 2
  }

  i32(v: number): void {
    this.room(4)
    this.view.setInt32(this.length, v)
    this.length += 4
  }

  i64(v: bigint): void {
    this.room(8)
    this.view.setBigInt64(this.length, BigInt.asIntN(64, v))
    this.length += 8
  }

  f32(v: number): void {
    this.room(4)
    this.view.setFloat32(this.length, v)
    this.length += 4
  }

  f64(v: number): void {
    this.room(8)
    this.view.setFloat64(this.length, v)
    this.length += 8
  }

  bytes(b: Uint8Array): void {
    this.room(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }

  /** Modified UTF-8 without a length; returns the byte count. */
  utf(s: string): number {
    const n = modifiedUtf8Length(s)
    this.room(n)
    this.length = writeModifiedUtf8(s, this.buf, this.length)
    return n
  }

  /**
   * DataOutput.writeUTF: refuses strings over 65535 encoded bytes, as Java does. The error names `where`, or
   * `where.field` when a field is given (joined only then).
   */
  writeUtf(s: string, where: string, field = ''): void {
    const n = modifiedUtf8Length(s)
    if (n > 0xffff)
      throw new BrokerError(
        'OPENWIRE_FRAME_INVALID',
        `openwire encode ${field === '' ? where : `${where}.${field}`}: string of ${n} encoded bytes, expected at most 65535 (DataOutput.writeUTF)`,
      )
    this.u16(n)
    this.room(n)
    this.length = writeModifiedUtf8(s, this.buf, this.length)
  }

  /** Overwrites the int at `at` (a size prefix written before its frame was known). */
  patchI32(at: number, v: number): void {
    this.view.setInt32(at, v)
  }

  toBytes(): Uint8Array {
    return this.buf.subarray(0, this.length)
  }
}
