/**
 * Goal: the CLI reports errors in its documented forms (README "Exit codes"): an unknown flag exactly as the user
 * typed it (cac camelCases keys: `--bogus-flag` would read `--bogusFlag`), and command failures as one stderr line
 * `sfbroker: <CODE>: <message>` with the command's exit code (status on a plain file, probe-lock on a file, run
 * with a file as data directory). Method: runProgram in-process with a capturing CliContext; asserts on exit codes,
 * the flag as typed and the error code, not on wording.
 */
import { describe, expect, test } from 'bun:test'
import fs from 'node:fs'
import path from 'node:path'
import { runProgram, typedFlag } from './program.ts'
import type { CliContext } from './shared.ts'
import { tempDir } from '../testing/temp-dir.ts'

const dir = tempDir('sfbroker-cli-errors-')
const plainFile = path.join(dir, 'plain.txt')
fs.writeFileSync(plainFile, 'not a broker directory\n')

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const ctx: CliContext = { version: 'test', out: (t) => void (out += t + '\n'), err: (t) => void (err += t + '\n') }
  const code = await runProgram(['bun', 'sfbroker', '--log-level', 'silent', ...args], ctx)
  return { code, out, err }
}

/** The `<CODE>` of a `sfbroker: <CODE>: <message>` line, or undefined when err has no such line. */
function errorCode(err: string): string | undefined {
  return /^sfbroker: ([A-Z][A-Z0-9_]+): /m.exec(err)?.[1]
}

describe('CLI error forms', () => {
  test('typedFlag maps cac keys back to the flag as typed', () => {
    const argv = [
      'bun',
      'sfbroker',
      'run',
      '--bogus-flag=3',
      '--no-such',
      '--Odd-Case',
      '-Zq',
      '--a.b',
      'x',
      '--',
      '--after',
    ]
    expect(typedFlag(argv, 'bogusFlag')).toBe('--bogus-flag')
    expect(typedFlag(argv, 'such')).toBe('--no-such')
    expect(typedFlag(argv, 'Odd-Case')).toBe('--Odd-Case')
    expect(typedFlag(argv, 'Z')).toBe('-Z')
    expect(typedFlag(argv, 'q')).toBe('-q')
    expect(typedFlag(argv, 'a')).toBe('--a.b')
    expect(typedFlag(argv, 'after')).toBeUndefined()
  })

  test('CLI reports an unknown flag as typed, per command and globally, with exit 2', async () => {
    for (const [args, shown] of [
      [['run', '--bogus-flag'], '--bogus-flag'],
      [['run', '--bogus-flag=3'], '--bogus-flag'],
      [['run', '--no-such-thing'], '--no-such-thing'],
      [['status', dir, '--json-out'], '--json-out'],
      [['--bogus-flag'], '--bogus-flag'],
      [['--Bogus-Flag'], '--Bogus-Flag'],
    ] as const) {
      const r = await run(...args)
      expect({ args, code: r.code }).toEqual({ args, code: 2 })
      expect(r.err).toContain(`unknown option ${shown}`)
      expect(r.err).not.toMatch(/--[a-z]+[A-Z]/) // no camelCased key
    }
  })

  test('CLI status on a plain file or a missing path prints sfbroker: <CODE>: on stderr and exits 4', async () => {
    for (const target of [plainFile, path.join(dir, 'missing')]) {
      const r = await run('status', target)
      expect(r.code).toBe(4)
      expect(errorCode(r.err)).toBe('ELECTION_NOT_BROKER_DIR')
      expect(r.out).not.toMatch(/^error:/m)
      const j = await run('status', target, '--json')
      expect(j.code).toBe(4)
      expect(errorCode(j.err)).toBe('ELECTION_NOT_BROKER_DIR')
      expect(typeof JSON.parse(j.out).error).toBe('string') // the JSON report is still there for scripts
    }
  })

  test('CLI probe-lock and run refuse a plain file as directory in the sfbroker: <CODE>: form', async () => {
    const probe = await run('probe-lock', plainFile)
    expect(probe.code).toBe(2)
    expect(errorCode(probe.err)).toBe('CLI_USAGE')
    const r = await run('run', '--data', plainFile, '--connector', 'stomp://127.0.0.1:0')
    expect(r.code).toBe(1)
    expect(errorCode(r.err)).toBe('CONFIG_INVALID')
  })
})
