/**
 * Goal: the CLI runs under Deno too (the design asks for a Deno/Bun-compatible CLI): `deno run -A src/main.ts
 * --help` prints the same help and exits 0, and a usage error exits 2. Method: run the Deno binary from the npm
 * `deno` package as a child process. Only the help path is checked: the lock binding is runtime-specific
 * (Deno.dlopen under Deno) and the node's Deno coverage belongs to the election and node tests.
 */
import { describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const repo = path.resolve(import.meta.dir, '..')
const deno = path.join(repo, 'node_modules/.bin/deno')

function denoRun(...args: string[]): { code: number | null; out: string; err: string } {
  // --no-lock: do not write deno.lock into the working tree; --quiet: no download/check chatter on stderr.
  const r = spawnSync(deno, ['run', '-A', '--quiet', '--no-lock', path.join(repo, 'src/main.ts'), ...args], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe('sfbroker under Deno', () => {
  test('deno run src/main.ts --help prints the help and exits 0', () => {
    expect(fs.existsSync(deno)).toBe(true)
    const r = denoRun('--help')
    if (r.code !== 0) console.error(r.err)
    expect(r.code).toBe(0)
    expect(r.out).toContain('Usage:')
    expect(r.out).toContain('$ sfbroker <command> [options]')
    expect(r.out).toContain('run ')
    expect(r.out).toContain('--log-format')
  })

  test('deno run src/main.ts run --help and a usage error behave as under Bun', () => {
    const help = denoRun('run', '--help')
    expect(help.code).toBe(0)
    expect(help.out).toContain('--config <file>')
    const bad = denoRun('rn')
    expect(bad.code).toBe(2)
    expect(bad.err).toContain('unknown command "rn"')
  })
})
