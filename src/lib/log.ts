/**
 * Logging. `configureLogging()` is called once by the CLI with --log-level / --log-format; every part takes
 * `logger(tag)`. Pretty format (for people): one line per event on stderr, `[tag] ℹ msg` / `[tag]  WARN  msg` /
 * `[tag]  ERROR  msg` (an Error argument adds its stack below), trailing structured fields as ` {"k":"v"}`.
 * JSON format writes one object per line to stderr with the stable fields documented in README ("Logs"): time
 * (ISO), level, tag, msg, plus any structured fields passed as a trailing plain object argument (and `code` of a
 * BrokerError argument).
 *
 * Written directly on process.stderr rather than through a logging library: loading consola (with node:tty,
 * node:util's inspect and the stream modules it pulls in) cost ~40 ms of every broker start and ~15 MB of resident
 * memory, a large share of the start-time and idle-RSS budgets (docs/benchmarks.md). Below the configured level a
 * call costs one comparison.
 */

export type LogLevelName = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
export type LogFormat = 'pretty' | 'json'
export const LOG_LEVELS: Record<LogLevelName, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 }

type Method = 'error' | 'warn' | 'info' | 'debug' | 'trace'
const METHOD_LEVEL: Record<Method, number> = { error: 0, warn: 1, info: 3, debug: 4, trace: 5 }
const PRETTY_BADGE: Record<Method, string> = { error: ' ERROR ', warn: ' WARN ', info: 'ℹ', debug: '⚙', trace: '→' }

let level = LOG_LEVELS.info
let format: LogFormat = 'pretty'

function isFields(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !(v instanceof Error) && !Array.isArray(v)
}

function show(a: unknown): string {
  if (typeof a === 'string') return a
  if (a instanceof Error) return a.message
  if (a === undefined) return 'undefined'
  if (typeof a === 'bigint' || typeof a === 'symbol' || typeof a === 'function') return String(a)
  try {
    return JSON.stringify(a) ?? String(a)
  } catch {
    return String(a)
  }
}

/** Stack frames of an Error (the lines after its message), indented as one block. */
function stackOf(e: Error): string {
  const lines = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l))
  return lines.length ? '\n\n' + lines.map((l) => '    ' + l.trim()).join('\n') + '\n' : ''
}

function emit(method: Method, tag: string, args: unknown[]): void {
  if (METHOD_LEVEL[method] > level) return
  let fields: Record<string, unknown> | null = null
  let a = args
  if (a.length > 1 && isFields(a[a.length - 1])) {
    fields = a[a.length - 1] as Record<string, unknown>
    a = a.slice(0, -1)
  }
  const err = a.find((x) => x instanceof Error) as Error | undefined
  const msg = a.map(show).join(' ')
  if (format === 'json') {
    const line: Record<string, unknown> = { time: new Date().toISOString(), level: method, tag: tag || 'sfbroker', msg, ...fields }
    if (err && (err as { code?: string }).code) line.code = (err as { code?: string }).code
    process.stderr.write(JSON.stringify(line) + '\n')
    return
  }
  const badge = PRETTY_BADGE[method]
  const head = `${tag ? `[${tag}] ` : ''}${badge.startsWith(' ') ? ` ${badge} ` : `${badge} `}`
  const tail = fields ? ` ${show(fields)}` : ''
  const stack = err && (method === 'error' || level >= LOG_LEVELS.debug) ? stackOf(err) : ''
  process.stderr.write(`${head}${msg}${tail}${stack}\n`)
}

export function configureLogging(lvl: LogLevelName, fmt: LogFormat): void {
  level = LOG_LEVELS[lvl]
  format = fmt
}

export interface Logger {
  error(...args: unknown[]): void
  warn(...args: unknown[]): void
  info(...args: unknown[]): void
  debug(...args: unknown[]): void
  trace(...args: unknown[]): void
}

// Loggers may be created at import time, before configureLogging(): level and format are read at each call.
export function logger(tag: string): Logger {
  return {
    error: (...a) => emit('error', tag, a),
    warn: (...a) => emit('warn', tag, a),
    info: (...a) => emit('info', tag, a),
    debug: (...a) => emit('debug', tag, a),
    trace: (...a) => emit('trace', tag, a),
  }
}
