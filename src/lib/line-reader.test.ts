/**
 * readLines and Wakeup: lines split across chunks arrive whole and in order, a last unterminated line arrives at
 * the end, a runaway line past lineCharsMax is dropped; a Wakeup wait ends on notify or on its timeout.
 * Method: a PassThrough stream fed by hand; waits bounded.
 */
import { describe, expect, test } from 'bun:test'
import { PassThrough } from 'node:stream'
import { parseJsonLine, readLines } from './line-reader.ts'
import { Wakeup } from './wakeup.ts'

function collect(opts = {}): { s: PassThrough; lines: string[]; ended: Promise<void> } {
  const s = new PassThrough()
  const lines: string[] = []
  readLines(s, (l) => lines.push(l), opts)
  return { s, lines, ended: new Promise((r) => s.once('end', () => setTimeout(r, 0))) }
}

describe('readLines', () => {
  test('readLines joins lines split across chunks and delivers a last line without newline at the end', async () => {
    const { s, lines, ended } = collect()
    s.write('{"a":')
    s.write('1}\nplain\n{"b"')
    s.end(':2}')
    await ended
    expect(lines).toEqual(['{"a":1}', 'plain', '{"b":2}'])
    expect(lines.map((l) => parseJsonLine<{ a?: number; b?: number }>(l))).toEqual([{ a: 1 }, undefined, { b: 2 }])
  })

  test('readLines drops an unterminated line longer than lineCharsMax and keeps reading', async () => {
    const { s, lines, ended } = collect({ lineCharsMax: 10 })
    s.write('x'.repeat(50))
    s.end('\nok\n')
    await ended
    expect(lines).toEqual(['', 'ok'])
  })

  test('parseJsonLine returns undefined for a broken or non-object line', () => {
    expect(parseJsonLine('{"a":')).toBeUndefined()
    expect(parseJsonLine('[1]')).toBeUndefined()
    expect(parseJsonLine('{"a":[1]}')).toEqual({ a: [1] })
  })
})

describe('Wakeup', () => {
  test('Wakeup wait ends on notify, and on its timeout when nobody notifies', async () => {
    const w = new Wakeup()
    let woke = false
    const p = w.wait(60_000).then(() => (woke = true))
    w.notify()
    await p
    expect(woke).toBe(true)
    let timedOut = false
    await w.wait(5).then(() => (timedOut = true))
    expect(timedOut).toBe(true)
  })
})
