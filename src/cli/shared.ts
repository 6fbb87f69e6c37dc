/**
 * Helpers every CLI command shares: the registration contract, exit codes, and how an error becomes a line on
 * stderr plus an exit code. It owns no command. Commands live in `src/cli/commands/<name>.ts` and export
 *
 *   export function register(cli: CAC, ctx: CliContext): void
 *
 * whose action is `async (...args, opts) => number` — it returns the process exit code (EXIT.ok on success) and
 * throws BrokerError for expected failures (the program maps the code to an exit code and prints the message).
 * Import heavy parts (node, storage, election, client) lazily inside the action with `await import(...)`:
 * `--help` then stays fast, and runtime-specific modules (bun:ffi) are not loaded by commands that do not need them.
 */
import type { CAC } from 'cac'
import { BrokerError, isBrokerError } from '../lib/errors.ts'

/** Process exit codes. Stable: scripts and service managers rely on them (README "Exit codes"). */
export const EXIT = {
  ok: 0,
  /** Runtime failure or bad configuration (any CONFIG_* error). */
  failed: 1,
  /** Command-line usage error: unknown command, unknown flag, missing or malformed flag value. */
  usage: 2,
  /** The primary lost its lock and restartAllowed=false: let the service manager restart it (EX_TEMPFAIL). */
  lockLost: 75,
} as const

export interface CliContext {
  /** Product version (package.json). */
  version: string
  /** Write one line (or block) to stdout; commands print results here, never logs. */
  out(text: string): void
  /** Write one line (or block) to stderr. */
  err(text: string): void
}

/** Registration function each command module exports. */
export type RegisterCommand = (cli: CAC, ctx: CliContext) => void

/** The exit code for an error thrown by a command action. */
export function exitCodeFor(e: unknown): number {
  if (isBrokerError(e, 'CLI_USAGE')) return EXIT.usage
  return EXIT.failed
}

/**
 * The one line printed on stderr for an error thrown by a command: `sfbroker: CODE: message`. An error without a
 * BrokerError code shows its system code (`EACCES`, …) when it has one, else its name.
 */
export function formatError(e: unknown): string {
  if (e instanceof BrokerError) return `sfbroker: ${e.code}: ${e.message}`
  const errno = (e as NodeJS.ErrnoException | null)?.code
  if (e instanceof Error && typeof errno === 'string' && /^E[A-Z0-9]+$/.test(errno))
    return `sfbroker: ${errno}: ${e.message}`
  if (e instanceof Error) return `sfbroker: ${e.name}: ${e.message}`
  return `sfbroker: ${String(e)}`
}

/** A usage error: bad flag value, missing argument. Exit code 2. */
export function usageError(message: string): BrokerError {
  return new BrokerError('CLI_USAGE', message)
}

/**
 * A flag's value as a string. mri (under cac) turns numeric-looking values into numbers (`--broker-name 7`)
 * and a flag given without value into `true`; both are normalised or rejected here.
 */
export function stringFlag(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined
    throw usageError(`--${flag} given ${value.length} times; expected once`)
  }
  if (typeof value === 'boolean') throw usageError(`--${flag} needs a value`)
  const s = String(value)
  if (s === '') throw usageError(`--${flag} needs a non-empty value`)
  return s
}

/** A repeatable flag's values as strings (cac `type: [String]` gives an array; be lenient if it does not). */
export function stringListFlag(value: unknown, flag: string): string[] | undefined {
  if (value === undefined) return undefined
  const list = Array.isArray(value) ? value : [value]
  return list.map((v) => {
    if (typeof v === 'boolean' || v === '' || v === undefined) throw usageError(`--${flag} needs a value`)
    return String(v)
  })
}

/** A non-negative integer flag (counts, milliseconds). */
export function intFlag(value: unknown, flag: string, min = 0): number | undefined {
  const s = stringFlag(value, flag)
  if (s === undefined) return undefined
  if (!/^\d+$/.test(s) || Number(s) < min || !Number.isSafeInteger(Number(s))) {
    throw usageError(`--${flag}: "${s}" is not an integer >= ${min}`)
  }
  return Number(s)
}
