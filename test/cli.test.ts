/**
 * Goal: the `sfbroker` command line behaves as documented: help and version exit 0, usage errors (unknown command,
 * unknown flag, missing or bad flag value) exit 2 with a message on stderr, configuration errors exit 1 naming
 * the place. Method: run `bun src/main.ts ...` as a child process (bounded by a timeout) and check exit code,
 * stdout and stderr. `run` itself, serving STOMP, is covered by test/binary.test.ts and the node's tests.
 */
import { describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { tempDir } from '../src/testing/temp-dir.ts'

const repo = path.resolve(import.meta.dir, '..')
const bun = process.execPath
const dir = tempDir('sfbroker-cli-')

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(bun, [path.join(repo, 'src/main.ts'), ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe('sfbroker CLI help and version', () => {
  test('sfbroker --help lists the commands and examples, exit 0', () => {
    const r = cli('--help')
    expect(r.code).toBe(0)
    expect(r.out).toContain('Usage:')
    expect(r.out).toContain('run ')
    expect(r.out).toContain('--log-level')
    expect(r.out).toContain('--log-format')
    expect(r.out).toContain('Examples:')
    expect(r.out).not.toContain('__lock-child')
  })

  test('sfbroker run --help shows the run flags and examples, exit 0', () => {
    const r = cli('run', '--help')
    expect(r.code).toBe(0)
    for (const flag of [
      '--config <file>',
      '--data <dir>',
      '--connector <uri>',
      '--broker-name <name>',
      '--admin <host:port>',
      '--lock-type <type>',
    ]) {
      expect(r.out).toContain(flag)
    }
    expect(r.out).toContain('$ sfbroker run --config')
  })

  test('sfbroker --version prints the package version, exit 0', () => {
    const r = cli('--version')
    expect(r.code).toBe(0)
    expect(r.out.trim()).toBe(`sfbroker ${pkg.version}`)
    expect(cli('-v').out.trim()).toBe(`sfbroker ${pkg.version}`)
  })

  test('sfbroker with no command prints help and exits 2', () => {
    const r = cli()
    expect(r.code).toBe(2)
    expect(r.out).toContain('Usage:')
  })
})

describe('sfbroker CLI usage errors', () => {
  test('sfbroker rejects an unknown command with exit 2 and a suggestion', () => {
    const r = cli('rn')
    expect(r.code).toBe(2)
    expect(r.err).toContain('unknown command "rn" (did you mean "run"?)')
    expect(cli('frobnicate', '--help').code).toBe(2)
  })

  test('sfbroker rejects unknown flags with exit 2, globally and per command', () => {
    const g = cli('--bogus')
    expect(g.code).toBe(2)
    expect(g.err).toContain('unknown option --bogus')
    const r = cli('run', '--confg', 'x.xml')
    expect(r.code).toBe(2)
    expect(r.err).toContain('unknown option --confg (did you mean --config?)')
  })

  test('sfbroker rejects missing flag values, extra arguments and bad log settings with exit 2', () => {
    expect(cli('run', '--data').code).toBe(2)
    expect(cli('run', 'extra').code).toBe(2)
    const level = cli('--log-level', 'loud', 'run')
    expect(level.code).toBe(2)
    expect(level.err).toContain('--log-level: "loud"')
    expect(cli('--log-format', 'xml', 'run').code).toBe(2)
    expect(cli('run', '--data', 'a', '--data', 'b').err).toContain('--data given 2 times')
  })
})

describe('sfbroker run config errors', () => {
  test('sfbroker run exits 1 naming file, line and attribute for a misspelt attribute', () => {
    fs.writeFileSync(
      path.join(dir, 'bad.xml'),
      '<broker>\n  <persistenceAdapter>\n    <kahaDB directroy="/x"/>\n  </persistenceAdapter>\n</broker>\n',
    )
    const r = cli('run', '--config', 'bad.xml')
    expect(r.code).toBe(1)
    expect(r.err).toContain('CONFIG_INVALID')
    expect(r.err).toContain('bad.xml:3: <kahaDB> has unknown attribute "directroy" (did you mean "directory"?)')
  })

  test('sfbroker run exits 1 for a missing config file and an unsupported connector flag', () => {
    const missing = cli('run', '--config', 'nope.json')
    expect(missing.code).toBe(1)
    expect(missing.err).toContain('CONFIG_NOT_FOUND')
    const amqp = cli('run', '--connector', 'amqp://127.0.0.1:5672')
    expect(amqp.code).toBe(1)
    expect(amqp.err).toContain('CONFIG_UNSUPPORTED')
    expect(amqp.err).toContain('--connector')
    expect(cli('run', '--lock-type', 'lockf').err).toContain('--lock-type: found "lockf"')
  })

  test('sfbroker run with --log-format json reports a config error as one JSON log line with its code', () => {
    const r = cli('--log-format', 'json', 'run', '--config', 'nope.xml')
    expect(r.code).toBe(1)
    const line = JSON.parse(r.err.trim().split('\n').pop()!)
    expect(line).toMatchObject({ level: 'error', tag: 'cli', code: 'CONFIG_NOT_FOUND' })
    expect(line.msg).toContain('nope.xml')
  })
})
