/**
 * Logging through consola. `configureLogging()` is called once by the CLI with --log-level / --log-format;
 * every part takes `logger(tag)` (consola.withTag). JSON format writes one object per line to stderr with the
 * stable fields documented in README ("Logs"): time (ISO), level, tag, msg, plus any structured fields passed
 * as a trailing plain object argument.
 */
import { createConsola, type ConsolaInstance, type LogObject } from 'consola'

export type LogLevelName = 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
export type LogFormat = 'pretty' | 'json'
export const LOG_LEVELS: Record<LogLevelName, number> = { silent: -999, error: 0, warn: 1, info: 3, debug: 4, trace: 5 }

let root: ConsolaInstance = build('info', 'pretty')
let format: LogFormat = 'pretty'

function isFields(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !(v instanceof Error) && !Array.isArray(v)
}

/** Pretty logs keep one line per event: trailing structured fields become ` {"k":"v"}` instead of a dump. */
function prettyArgs(a: unknown[]): unknown[] {
  if (format !== 'pretty' || a.length < 2 || !isFields(a[a.length - 1])) return a
  return [...a.slice(0, -1), JSON.stringify(a[a.length - 1])]
}

function levelName(type: string): string {
  if (type === 'fatal' || type === 'error') return 'error'
  if (type === 'warn') return 'warn'
  if (type === 'debug') return 'debug'
  if (type === 'trace' || type === 'verbose') return 'trace'
  return 'info'
}

function build(level: LogLevelName, format: LogFormat): ConsolaInstance {
  if (format === 'pretty') {
    return createConsola({ level: LOG_LEVELS[level], stderr: process.stderr, stdout: process.stderr, formatOptions: { date: true, colors: false, compact: true } })
  }
  return createConsola({
    level: LOG_LEVELS[level],
    reporters: [
      {
        log(obj: LogObject) {
          const args = [...obj.args]
          let fields: Record<string, unknown> = {}
          const last = args[args.length - 1]
          if (args.length > 1 && isFields(last)) {
            fields = last as Record<string, unknown>
            args.pop()
          }
          const err = args.find((a) => a instanceof Error) as Error | undefined
          const msg = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')
          const line: Record<string, unknown> = { time: obj.date.toISOString(), level: levelName(obj.type), tag: obj.tag || 'sfbroker', msg, ...fields }
          if (err && (err as { code?: string }).code) line.code = (err as { code?: string }).code
          process.stderr.write(JSON.stringify(line) + '\n')
        },
      },
    ],
  })
}

export function configureLogging(level: LogLevelName, fmt: LogFormat): void {
  format = fmt
  root = build(level, fmt)
  for (const [tag, proxy] of tagged) proxy.target = root.withTag(tag)
}

export interface Logger {
  error(...args: unknown[]): void
  warn(...args: unknown[]): void
  info(...args: unknown[]): void
  debug(...args: unknown[]): void
  trace(...args: unknown[]): void
}

// Loggers handed out before configureLogging() must follow it, so parts may create theirs at import time.
const tagged = new Map<string, { target: ConsolaInstance }>()

export function logger(tag: string): Logger {
  let slot = tagged.get(tag)
  if (!slot) {
    slot = { target: root.withTag(tag) }
    tagged.set(tag, slot)
  }
  const s = slot
  return {
    error: (...a) => s.target.error(...(prettyArgs(a) as [unknown])),
    warn: (...a) => s.target.warn(...(prettyArgs(a) as [unknown])),
    info: (...a) => s.target.info(...(prettyArgs(a) as [unknown])),
    debug: (...a) => s.target.debug(...(prettyArgs(a) as [unknown])),
    trace: (...a) => s.target.trace(...(prettyArgs(a) as [unknown])),
  }
}
