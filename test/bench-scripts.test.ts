/**
 * Smoke test of the benchmark scripts: each runs with tiny counts against a freshly compiled sfbroker binary and
 * must print its table with a number in every row it ran. Not a timing test: no speed is asserted. ActiveMQ is left
 * out (--sfbroker-only) to keep it short; the ActiveMQ launcher is exercised by running the script by hand. The
 * bench-vs-activemq run also covers the backlog takeover row (a tiny backlog) and --cpu-hogs (hogs gone afterwards).
 * Also checks the load generator's frame scanner on frames split at every byte.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { encodeFrame, FrameScanner, type ScannedFrame } from '../scripts/bench-lib/stomp-wire.ts'
import { CPU_HOG_TAG } from '../scripts/bench-lib/cpu-hogs.ts'
import { makeTempDir, type TempDir } from '../src/testing/temp-dir.ts'

const root = path.resolve(import.meta.dir, '..')
let scratch: TempDir | undefined
let tmp = ''
let binary = ''

beforeAll(() => {
  scratch = makeTempDir('sfb-bench-smoke-')
  tmp = scratch.path
  binary = path.join(tmp, 'sfbroker')
  const r = spawnSync(process.execPath, ['build', '--compile', path.join(root, 'src/main.ts'), '--outfile', binary], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  })
  if (r.status !== 0) throw new Error(`bun build failed: ${r.stderr}`)
}, 150_000)

afterAll(() => {
  scratch?.remove()
})

let lastPid = 0

function runScript(script: string, args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', script), '--binary', binary, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 150_000,
  })
  lastPid = r.pid
  if (r.status !== 0) throw new Error(`${script} exited ${r.status ?? r.signal}: ${r.stderr}\n${r.stdout}`)
  return r.stdout
}

/** The table rows (| label | unit | value | ...) whose label starts with `prefix`. */
function rowValue(out: string, prefix: string): string {
  const line = out.split('\n').find((l) => l.startsWith(`| ${prefix}`))
  if (!line) throw new Error(`no table row "${prefix}" in:\n${out}`)
  return line.split('|')[3]!.trim()
}

const NUMBER = /^[\d,]+(\.\d+)?$/
/** A receipt-per-message cell: msg/s, then receipt p50/p99 and p50 as a multiple of the disk's sync floor. */
const RECEIPT_CELL = /^[\d,]+(\.\d+)? \(p50 [\d,.]+ \/ p99 [\d,.]+ ms; p50 [\d,.]+× floor\)$/

describe('benchmark scripts', () => {
  test('bench-stomp prints msg/s for every load row', () => {
    const out = runScript('bench-stomp.ts', [
      '--p1',
      '20',
      '--p4',
      '40',
      '--window-count',
      '300',
      '--window',
      '50',
      '--np',
      '300',
      '--load-timeout-ms',
      '60000',
      '--starts',
      '2',
    ])
    for (const row of ['persistent, windowed receipts', 'non-persistent', 'drain of 300']) {
      expect(rowValue(out, row)).toMatch(NUMBER)
    }
    // Both generators by default: ours and @stomp/stompjs, each with receipt latency and the sync floor multiple.
    for (const row of [
      'persistent, receipt per message, 1 producer (20) |',
      'persistent, receipt per message, 4 producers (40) |',
      'persistent, receipt per message, 1 producer (20), stompjs',
      'persistent, receipt per message, 4 producers (40), stompjs',
    ]) {
      expect(rowValue(out, row)).toMatch(RECEIPT_CELL)
    }
    expect(rowValue(out, 'disk sync floor')).toMatch(/^[\d.]+ \/ [\d.]+ \(/)
  }, 150_000)

  test('bench-stomp drives every row through stompjs with --generator stompjs, and refuses an unknown generator', () => {
    const out = runScript('bench-stomp.ts', [
      '--generator',
      'stompjs',
      '--warmup',
      '0',
      '--p1',
      '20',
      '--p4',
      '40',
      '--window-count',
      '300',
      '--window',
      '50',
      '--np',
      '300',
      '--load-timeout-ms',
      '60000',
      '--starts',
      '1',
    ])
    expect(rowValue(out, 'persistent, receipt per message, 1 producer (20), stompjs')).toMatch(RECEIPT_CELL)
    for (const row of ['persistent, windowed receipts', 'non-persistent', 'drain of 300'])
      expect(rowValue(out, row)).toMatch(NUMBER)
    expect(out).not.toContain('(20), stompjs, stompjs')
    expect(() => runScript('bench-stomp.ts', ['--generator', 'jmeter'])).toThrow(
      /--generator: "jmeter" is not one of raw, stompjs, both/,
    )
  }, 150_000)

  test('bench-vs-activemq (sfbroker only) prints takeover, backlog takeover, start and RSS rows beside CPU hogs', () => {
    const out = runScript('bench-vs-activemq.ts', [
      '--sfbroker-only',
      '--takeovers',
      '1',
      '--backlog-takeovers',
      '1',
      '--takeover-backlog',
      '300',
      '--cpu-hogs',
      '1',
      '--p1',
      '10',
      '--p4',
      '20',
      '--window-count',
      '100',
      '--window',
      '20',
      '--np',
      '100',
      '--load-timeout-ms',
      '60000',
      '--starts',
      '2',
    ])
    for (const row of [
      'takeover after kill -9 (median',
      'takeover after kill -9 with 300 persistent queued',
      'start: spawn -> accepting STOMP',
      'start: spawn -> replica ready',
      'idle RSS',
      'peak RSS',
      'drain of 100',
    ]) {
      expect(rowValue(out, row)).toMatch(NUMBER)
    }
    expect(out).toContain('1 CPU hogs beside the brokers')
    // The hogs are gone once the script has exited.
    const left = spawnSync('pgrep', ['-f', `${CPU_HOG_TAG} ${lastPid} `], { encoding: 'utf8' }).stdout.trim()
    expect(left).toBe('')
  }, 150_000)
})

describe('FrameScanner', () => {
  test('FrameScanner finds the same frames wherever the stream is split', () => {
    const body = Buffer.from('x\0y\nz')
    const stream = Buffer.concat([
      Buffer.from('\n'),
      encodeFrame('RECEIPT', { 'receipt-id': '7' }),
      Buffer.from('\r\n'),
      encodeFrame('MESSAGE', { destination: '/queue/a', 'message-id': 'm1' }, body),
      Buffer.from('ERROR\r\nmessage:bad\r\n\r\noops\0'),
    ])
    const want = (frames: ScannedFrame[]) => frames.map((f) => `${f.command}/${f.receiptId ?? ''}/${f.message ?? ''}`)
    const whole: ScannedFrame[] = []
    new FrameScanner().push(stream, (f) => whole.push(f))
    expect(want(whole)).toEqual(['RECEIPT/7/', 'MESSAGE//', 'ERROR//bad'])
    for (let cut = 1; cut < stream.length; cut++) {
      const got: ScannedFrame[] = []
      const s = new FrameScanner()
      s.push(stream.subarray(0, cut), (f) => got.push(f))
      s.push(stream.subarray(cut), (f) => got.push(f))
      expect(want(got)).toEqual(want(whole))
    }
  })
})
