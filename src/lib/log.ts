/**
 * Logging through consola. `configureLogging()` is called once by the CLI with --log-level / --log-format;
 * every part takes `logger(tag)` (a consola instance `withTag(tag)`). Pretty format (for people): one line per
 * event on stderr, `[tag] ℹ msg` / `[tag]  WARN  msg` / `[tag]  ERROR  msg` (an Error argument adds its stack
 * below), trailing structured fields as ` {"k":"v"}`. JSON format writes one object per line to stderr with the
 * stable fields documented in README ("Logs"): time (ISO), level, tag, msg, plus any structured fields passed as
 * a trailing plain object argument (and `code` of a BrokerError argument).
 *
 * We use consola's dependency-free core (`consola/core`) with our own reporter: its default fancy reporter
 * loads node:tty, node:util's inspect and stream modules, which cost ~20-40 ms of every broker start and several
 * MB of resident memory (start time and idle RSS are benchmark targets, docs/benchmarks.md). Throttling of
 * repeated lines is off: a broker's log must show every event. Below the configured level a call costs one
 * comparison and never reaches consola.
 */
import { createConsola, type ConsolaInstance, type LogObject } from 'consola/core'

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

function write(obj: LogObject): void {
  const method = (obj.type in METHOD_LEVEL ? obj.type : 'info') as Method
  const tag = obj.tag
  let fields: Record<string, unknown> | null = null
  let a = obj.args
  if (a.length > 1 && isFields(a[a.length - 1])) {
    fields = a[a.length - 1] as Record<string, unknown>
    a = a.slice(0, -1)
  }
  const err = a.find((x) => x instanceof Error) as Error | undefined
  const msg = a.map(show).join(' ')
  if (format === 'json') {
    const line: Record<string, unknown> = {
      time: obj.date.toISOString(),
      level: method,
      tag: tag || 'sfbroker',
      msg,
      ...fields,
    }
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

// Every instance passes everything to the reporter; the level filter is ours (read at each call), so loggers
// created at import time follow a later configureLogging().
const root: ConsolaInstance = createConsola({ level: LOG_LEVELS.trace, throttle: 0, reporters: [{ log: write }] })

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
  const c = root.withTag(tag)
  return {
    error: (...a) => void (level >= METHOD_LEVEL.error && c.error(...(a as [unknown]))),
    warn: (...a) => void (level >= METHOD_LEVEL.warn && c.warn(...(a as [unknown]))),
    info: (...a) => void (level >= METHOD_LEVEL.info && c.info(...(a as [unknown]))),
    debug: (...a) => void (level >= METHOD_LEVEL.debug && c.debug(...(a as [unknown]))),
    trace: (...a) => void (level >= METHOD_LEVEL.trace && c.trace(...(a as [unknown]))),
  }
}
