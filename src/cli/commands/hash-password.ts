/**
 * `sfbroker hash-password`: print a scrypt hash of a password, in the `scrypt$N$r$p$salt$hash` form
 * `<authenticationUser password="...">` and users.properties accept. The password is read from stdin (piped: the
 * first line; a terminal: a prompt with echo off, asked twice), so it stays out of shell history and `ps`.
 * `--password` exists for scripts that cannot pipe, and warns that argv is visible to every user of the host.
 */
import type { CAC } from 'cac'
import { EXIT, intFlag, stringFlag, usageError, type CliContext } from '../shared.ts'

/** Longest password read (bytes of the first stdin line): a bound, not a policy. */
export const PASSWORD_BYTES_MAX = 4096

async function readPipedLine(stdin: NodeJS.ReadStream): Promise<string> {
  let buf = ''
  for await (const chunk of stdin) {
    buf += chunk.toString('utf8')
    const nl = buf.indexOf('\n')
    if (nl >= 0) {
      buf = buf.slice(0, nl)
      break
    }
    if (buf.length > PASSWORD_BYTES_MAX) break
  }
  if (buf.length > PASSWORD_BYTES_MAX)
    throw usageError(`hash-password: the password is longer than ${PASSWORD_BYTES_MAX} bytes`)
  return buf.replace(/\r$/, '')
}

/** Prompt on the terminal without echo (raw mode, our own line editing: backspace, Ctrl-C). */
function prompt(stdin: NodeJS.ReadStream, question: string, err: (s: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    process.stderr.write(question)
    stdin.setRawMode?.(true)
    stdin.resume()
    let s = ''
    const onData = (chunk: Buffer): void => {
      for (const c of chunk.toString('utf8')) {
        if (c === '\r' || c === '\n') {
          done()
          return resolve(s)
        }
        if (c === '\u0003') {
          done()
          return reject(usageError('hash-password: cancelled'))
        }
        if (c === '\u007f' || c === '\b') s = s.slice(0, -1)
        else if (s.length < PASSWORD_BYTES_MAX) s += c
      }
    }
    const done = (): void => {
      stdin.off('data', onData)
      stdin.setRawMode?.(false)
      stdin.pause()
      err('')
    }
    stdin.on('data', onData)
  })
}

export function register(cli: CAC, ctx: CliContext): void {
  cli
    .command(
      'hash-password',
      'Print a scrypt hash of a password (read from stdin or a prompt) for <authenticationUser password> or users.properties',
    )
    .option('--password <text>', 'The password itself (visible in ps and shell history: prefer stdin)')
    .option('--cost <N>', 'scrypt N, a power of two from 1024 to 1048576 (default 32768)')
    .example('  $ sfbroker hash-password                       # prompts twice')
    .example('  $ printf \'%s\\n\' "$PW" | sfbroker hash-password')
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { hashPassword, SCRYPT_DEFAULTS } = await import('../../security/index.ts')
      const N = intFlag(opts.cost, 'cost', 1024) ?? SCRYPT_DEFAULTS.N
      if (N > 2 ** 20 || (N & (N - 1)) !== 0)
        throw usageError(`--cost: ${N} is not a power of two from 1024 to 1048576`)
      let password = stringFlag(opts.password, 'password')
      if (password !== undefined) {
        ctx.err(
          'sfbroker: warning: --password puts the password in the process list and shell history; pipe it on stdin instead',
        )
      } else if (process.stdin.isTTY) {
        password = await prompt(process.stdin, 'Password: ', ctx.err)
        const again = await prompt(process.stdin, 'Again: ', ctx.err)
        if (again !== password) throw usageError('hash-password: the two passwords differ')
      } else {
        password = await readPipedLine(process.stdin)
      }
      if (password === '')
        throw usageError('hash-password: empty password; expected one on stdin (first line) or at the prompt')
      ctx.out(await hashPassword(password, { N }))
      return EXIT.ok
    })
}
