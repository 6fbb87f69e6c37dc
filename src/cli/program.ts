/**
 * The `sfbroker` command line: one cac program, global flags (--log-level, --log-format, --help, --version),
 * and the registration of every command module in src/cli/commands/. It owns usage errors and exit codes; the
 * commands own what they do. `runProgram(argv)` never calls process.exit: it resolves with the exit code, so it
 * can be tested in-process and main.ts decides when to leave.
 *
 * cac needs care in four places, handled here: it silently ignores an unknown command (we exit 2), it does not
 * check unknown flags when no command matched (we do), it names an unknown flag by its camelCased key
 * (`--bogusFlag` for `--bogus-flag`, `--such` for `--no-such`; we report the flag as typed), and mri turns
 * numeric-looking values into numbers (commands read flags through the helpers in shared.ts).
 */
import { cac, type CAC } from 'cac'
import { configureLogging, logger, LOG_LEVELS, type LogFormat, type LogLevelName } from '../lib/log.ts'
import { VERSION } from '../lib/version.ts'
import { EXIT, exitCodeFor, formatError, type CliContext, type RegisterCommand } from './shared.ts'
import { closest } from '../config/index.ts'
import { register as registerRun } from './commands/run.ts'
import { register as registerProduce } from './commands/produce.ts'
import { register as registerConsume } from './commands/consume.ts'
import { register as registerBrowse } from './commands/browse.ts'
import { register as registerPurge } from './commands/purge.ts'
import { register as registerBench } from './commands/bench.ts'
import { register as registerStatus } from './commands/status.ts'
import { register as registerProbeLock } from './commands/probe-lock.ts'
import { register as registerHashPassword } from './commands/hash-password.ts'

/** Every command module, in the order `--help` lists them. Add one import above and one entry here. */
const COMMANDS: RegisterCommand[] = [
  registerRun,
  registerProduce,
  registerConsume,
  registerBrowse,
  registerPurge,
  registerBench,
  registerStatus,
  registerProbeLock,
  registerHashPassword,
]

const LOG_FORMATS: LogFormat[] = ['pretty', 'json']

export function buildProgram(ctx: CliContext): CAC {
  const cli = cac('sfbroker')
  cli.option('--log-level <level>', `Log level: ${Object.keys(LOG_LEVELS).join('|')}`, { default: 'info' })
  cli.option('--log-format <format>', 'Log format: pretty (human) or json (one object per line, for log shippers)', {
    default: 'pretty',
  })
  // --help and --version are handled below rather than by cac.help()/cac.version(), whose handlers print help for
  // an unknown command and the version for a known one instead of failing.
  cli.option('-h, --help', 'Display help (also after a command: sfbroker run --help)')
  cli.option('-v, --version', 'Display the version')
  cli.globalCommand.versionNumber = VERSION
  cli.usage('<command> [options]')
  cli.example((name) => `  $ ${name} run                          # broker on 127.0.0.1:61613, data in ./data`)
  cli.example((name) => `  $ ${name} run --config broker.xml      # ActiveMQ-style XML (or broker.json)`)
  cli.example((name) => `  $ ${name} run --data /shared/broker --connector stomp://0.0.0.0:61613`)
  for (const register of COMMANDS) register(cli, ctx)
  return cli
}

function knownGlobalOption(cli: CAC, name: string): boolean {
  return name === '--' || cli.globalCommand.hasOption(name) !== undefined
}

/** cac's messages, made consistent with ours: lower case, no backticks, a "did you mean" for misspelt flags. */
function describeCacError(cli: CAC, message: string, argv: readonly string[]): string {
  const unknown = /^Unknown option `(-{1,2})([^`]+)`$/.exec(message)
  if (unknown) {
    const flags = [...(cli.matchedCommand?.options ?? []), ...cli.globalCommand.options].map((o) =>
      o.rawName.replace(/^.*--/, '').replace(/\s.*$/, ''),
    )
    const shown = typedFlag(argv, unknown[2]) ?? `${unknown[1]}${unknown[2]}`
    return `unknown option ${shown}${didYouMeanFlag(shown.replace(/^-+/, ''), flags)}`
  }
  const text = message.replace(/`/g, '')
  return text.charAt(0).toLowerCase() + text.slice(1)
}

function didYouMeanFlag(flag: string, flags: string[]): string {
  const hint = closest(flag, flags)
  return hint === undefined ? '' : ` (did you mean --${hint}?)`
}

function unknownOptionName(name: string, argv: readonly string[]): string {
  return typedFlag(argv, name) ?? (name.length > 1 ? `--${name}` : `-${name}`)
}

/** cac's key for a long flag (its camelcaseOptionName, then the first segment of a dotted name). */
function cacKey(flag: string): string {
  return flag.split('.')[0]!.replace(/([a-z])-([a-z])/g, (_, a: string, b: string) => a + b.toUpperCase())
}

/**
 * The flag as the user typed it (without any `=value`) for cac's option key `name`, or undefined. cac reports
 * `--bogus-flag` as `bogusFlag`, `--no-such` as `such` and `--a.b` as `a`; this maps the key back to argv.
 */
export function typedFlag(argv: readonly string[], name: string): string | undefined {
  for (const arg of argv.slice(2)) {
    if (arg === '--') break
    if (arg.startsWith('--')) {
      const flag = arg.slice(2).replace(/=.*$/s, '')
      if (cacKey(flag) === name || (flag.startsWith('no-') && cacKey(flag.slice(3)) === name)) return `--${flag}`
    } else if (arg.startsWith('-') && arg.length > 1) {
      const letters = arg.slice(1).replace(/=.*$/s, '')
      if (name.length === 1 && letters.includes(name)) return `-${name}`
    }
  }
  return undefined
}

/** Parse argv (process.argv shape: [runtime, script, ...args]), run the command, resolve with its exit code. */
export async function runProgram(argv: string[], ctx: CliContext = defaultContext()): Promise<number> {
  const cli = buildProgram(ctx)
  const usage = (msg: string): number => {
    ctx.err(`sfbroker: ${msg}`)
    ctx.err('Run "sfbroker --help" for usage.')
    return EXIT.usage
  }
  // Once --log-format json is in force, a command's failure is logged as one JSON object too (for log shippers).
  let jsonLogs = false
  try {
    cli.parse(argv, { run: false })
    const opts = cli.options as Record<string, unknown>
    const command = cli.matchedCommand
    const first = cli.args[0]
    if (!command && first !== undefined) {
      const names = cli.commands.map((c) => c.name).filter((n) => n !== '')
      const hint = closest(first, names)
      return usage(
        `unknown command "${first}"${hint ? ` (did you mean "${hint}"?)` : ''}; commands: ${names.join(', ')}`,
      )
    }
    if (!command) {
      for (const name of Object.keys(opts)) {
        if (knownGlobalOption(cli, name)) continue
        const flags = cli.globalCommand.options.map((o) => o.rawName.replace(/^.*--/, '').replace(/\s.*$/, ''))
        const shown = unknownOptionName(name, argv)
        return usage(`unknown option ${shown}${didYouMeanFlag(shown.replace(/^-+/, ''), flags)}`)
      }
      if (opts.version) {
        ctx.out(`sfbroker ${VERSION}`)
        return EXIT.ok
      }
      cli.globalCommand.outputHelp()
      return opts.help ? EXIT.ok : EXIT.usage
    }
    if (opts.help) {
      command.outputHelp()
      return EXIT.ok
    }
    if (opts.version) {
      ctx.out(`sfbroker ${VERSION}`)
      return EXIT.ok
    }
    const level = String(opts.logLevel)
    if (!(level in LOG_LEVELS))
      return usage(`--log-level: "${level}" is not one of ${Object.keys(LOG_LEVELS).join(', ')}`)
    const format = String(opts.logFormat)
    if (!LOG_FORMATS.includes(format as LogFormat))
      return usage(`--log-format: "${format}" is not one of ${LOG_FORMATS.join(', ')}`)
    configureLogging(level as LogLevelName, format as LogFormat)
    jsonLogs = format === 'json' && level !== 'silent'
    // runMatchedCommand checks unknown flags, missing flag values and extra arguments (CACError), then runs.
    const result: unknown = await cli.runMatchedCommand()
    return typeof result === 'number' ? result : EXIT.ok
  } catch (e) {
    if (e instanceof Error && e.name === 'CACError') return usage(describeCacError(cli, e.message, argv))
    if (jsonLogs) logger('cli').error(e instanceof Error ? e : String(e))
    else ctx.err(formatError(e))
    return exitCodeFor(e)
  }
}

export function defaultContext(): CliContext {
  return {
    version: VERSION,
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
  }
}
