/**
 * Java's "modified UTF-8" (java.io.DataOutput.writeUTF): every UTF-16 code unit is encoded on its own, U+0000
 * as the two bytes C0 80, supplementary characters as two 3-byte surrogates. OpenWire writes every string this
 * way. Decoding is strict (a bad lead or continuation byte is an error) except that it also accepts standard
 * 4-byte UTF-8 sequences, which non-Java OpenWire clients write; it does not promise byte-identical re-encoding
 * for those.
 */
import { isAscii } from 'node:buffer'

/** Bytes `encodeModifiedUtf8(s)` would produce, without producing them. */
export function modifiedUtf8Length(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    n += c >= 1 && c <= 0x7f ? 1 : c <= 0x7ff ? 2 : 3
  }
  return n
}

/** Writes `s` into `out` at `at`; returns the offset after it. `out` must have `modifiedUtf8Length(s)` bytes. */
export function writeModifiedUtf8(s: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 1 && c <= 0x7f) out[at++] = c
    else if (c <= 0x7ff) {
      out[at++] = 0xc0 | (c >> 6)
      out[at++] = 0x80 | (c & 0x3f)
    } else {
      out[at++] = 0xe0 | (c >> 12)
      out[at++] = 0x80 | ((c >> 6) & 0x3f)
      out[at++] = 0x80 | (c & 0x3f)
    }
  }
  return at
}

/** Up to this many bytes a JS loop checks for ASCII faster than the native call does. */
const ASCII_LOOP_BYTES_MAX = 64
const asciiDecoder = new TextDecoder()

/** True when every byte of `bytes[start, end)` is below 0x80. */
export function isAsciiRange(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > ASCII_LOOP_BYTES_MAX) return isAscii(bytes.subarray(start, end))
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false
  return true
}

/** Code units decoded per String.fromCharCode call: bounds the argument list, not the string. */
const DECODE_CHUNK_UNITS = 4096

/**
 * Decodes `bytes[start, end)`. Returns the string, or a description of the first malformed byte (relative
 * offset and why) so the caller can name the field and frame offset in its error.
 */
export function decodeModifiedUtf8(
  bytes: Uint8Array,
  start: number,
  end: number,
): { ok: true; value: string } | { ok: false; at: number; why: string } {
  // ASCII (ids, destination names, most text) reads the same in UTF-8: the native decoder takes it at once.
  if (isAsciiRange(bytes, start, end)) return { ok: true, value: asciiDecoder.decode(bytes.subarray(start, end)) }
  let out = ''
  const units: number[] = []
  let i = start
  while (i < end) {
    const a = bytes[i]!
    if (a < 0x80) {
      units.push(a)
      i += 1
    } else if ((a & 0xe0) === 0xc0) {
      if (i + 1 >= end) return { ok: false, at: i - start, why: 'a 2-byte sequence cut short' }
      const b = bytes[i + 1]!
      if ((b & 0xc0) !== 0x80) return { ok: false, at: i + 1 - start, why: `0x${hex(b)} is not a continuation byte` }
      units.push(((a & 0x1f) << 6) | (b & 0x3f))
      i += 2
    } else if ((a & 0xf0) === 0xe0) {
      if (i + 2 >= end) return { ok: false, at: i - start, why: 'a 3-byte sequence cut short' }
      const b = bytes[i + 1]!
      const c = bytes[i + 2]!
      if ((b & 0xc0) !== 0x80 || (c & 0xc0) !== 0x80)
        return { ok: false, at: i + 1 - start, why: 'a 3-byte sequence with a bad continuation byte' }
      units.push(((a & 0x0f) << 12) | ((b & 0x3f) << 6) | (c & 0x3f))
      i += 3
    } else if (a >= 0xf0 && a <= 0xf4) {
      if (i + 3 >= end) return { ok: false, at: i - start, why: 'a 4-byte sequence cut short' }
      const b = bytes[i + 1]!
      const c = bytes[i + 2]!
      const d = bytes[i + 3]!
      if ((b & 0xc0) !== 0x80 || (c & 0xc0) !== 0x80 || (d & 0xc0) !== 0x80)
        return { ok: false, at: i + 1 - start, why: 'a 4-byte sequence with a bad continuation byte' }
      const cp = ((a & 0x07) << 18) | ((b & 0x3f) << 12) | ((c & 0x3f) << 6) | (d & 0x3f)
      if (cp < 0x10000 || cp > 0x10ffff) return { ok: false, at: i - start, why: `code point ${cp} out of range` }
      units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff))
      i += 4
    } else {
      return { ok: false, at: i - start, why: `0x${hex(a)} is not a lead byte` }
    }
    if (units.length >= DECODE_CHUNK_UNITS) {
      out += String.fromCharCode(...units)
      units.length = 0
    }
  }
  if (units.length > 0) out += String.fromCharCode(...units)
  return { ok: true, value: out }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0')
}
