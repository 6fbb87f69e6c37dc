/**
 * Goal: excerpt() never lets control, bidi or escape characters of untrusted input through, and never quotes more
 * than EXCERPT_CHARS_MAX characters of it. Method: tables, plus every code unit 0..0xFFFF through escapeNonPrintable.
 */
import { describe, expect, test } from 'bun:test'
import { EXCERPT_CHARS_MAX, escapeNonPrintable, excerpt } from './excerpt.ts'

describe('excerpt', () => {
  test('excerpt escapes control, DEL, C1, bidi and lone surrogate characters JSON style', () => {
    expect(excerpt('SEND')).toBe('"SEND"')
    expect(excerpt('a\nb\r\t\0\x1b[31m')).toBe('"a\\nb\\r\\t\\u0000\\u001b[31m"')
    expect(excerpt('x\x7f\x85\u202e\u2066\ufeff')).toBe('"x\\u007f\\u0085\\u202e\\u2066\\ufeff"')
    expect(excerpt('q"\\')).toBe('"q\\"\\\\"')
    expect(excerpt('\ud800x')).toBe('"\\ud800x"')
    expect(excerpt('é😀')).toBe('"é😀"')
  })

  test('excerpt quotes at most EXCERPT_CHARS_MAX source characters and marks the cut', () => {
    expect(excerpt('a'.repeat(EXCERPT_CHARS_MAX))).toBe(`"${'a'.repeat(EXCERPT_CHARS_MAX)}"`)
    expect(excerpt('a'.repeat(1024))).toBe(`"${'a'.repeat(EXCERPT_CHARS_MAX)}…"`)
    // A pair is not split at the cut.
    const e = excerpt('a'.repeat(EXCERPT_CHARS_MAX - 1) + '😀')
    expect(e).toBe(`"${'a'.repeat(EXCERPT_CHARS_MAX - 1)}…"`)
  })

  test('escapeNonPrintable leaves no C0, DEL or C1 character in any output', () => {
    let all = ''
    for (let c = 0; c < 0x10000; c++) all += String.fromCharCode(c)
    const out = escapeNonPrintable(all)
    expect(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/.test(out)).toBe(false)
  })
})
