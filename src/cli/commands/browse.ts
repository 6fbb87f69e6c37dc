/**
 * `sfbroker browse`: list a queue's messages without consuming them (a STOMP `browser:true` subscription; the
 * broker ends it with its browser-end marker). Prints bodies on stdout, or with --quiet only the count; --headers
 * prints each message's headers as JSON instead of the body. --timeout bounds the wait for a broker that never
 * sends the end marker.
 */
import type { CAC } from 'cac'
import { EXIT, intFlag, usageError, type CliContext } from '../shared.ts'
import { asUsage, clientFlags, clientSettings, destinationFlag } from '../client-flags.ts'

export function register(cli: CAC, ctx: CliContext): void {
  clientFlags(cli.command('browse', 'Show the messages of a queue without consuming them'))
    .option('--destination <dest>', 'queue://NAME or /queue/NAME (required)')
    .option('--count <n>', 'Show at most n messages')
    .option('--timeout <ms>', 'Stop after this long without a message or end marker (default 5000)')
    .option('--headers', 'Print headers (JSON, one line per message) instead of bodies')
    .option('--quiet', 'Print only the count')
    .example('  $ sfbroker browse --url tcp://127.0.0.1:61613 --destination queue://TEST --count 10')
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { url, connect: copts } = await clientSettings(opts)
      const destination = await destinationFlag(opts.destination)
      if (!destination.startsWith('/queue/'))
        throw usageError(`--destination: browse needs a queue; got ${destination}`)
      const count = intFlag(opts.count, 'count', 1)
      const idleMs = intFlag(opts.timeout, 'timeout', 1) ?? 5000
      const { connect } = await import('../../client/index.ts')
      const client = await asUsage(() => connect(url, copts))
      let shown = 0
      let ended = false
      try {
        const sub = client.subscribe(destination, { browser: true, ack: 'auto' })
        await sub.ready
        while (count === undefined || shown < count) {
          const m = await sub.receive(idleMs)
          if (m === undefined) {
            ended = !sub.active
            break
          }
          shown++
          if (opts.quiet === true) continue
          ctx.out(opts.headers === true ? JSON.stringify(m.headers) : m.text())
        }
      } finally {
        await client.close()
      }
      ctx.err(
        `browsed ${shown} message(s) on ${destination}${count !== undefined && shown >= count ? ' (--count reached)' : ended ? '' : ` (no end marker within ${idleMs} ms)`}`,
      )
      if (opts.quiet === true) ctx.out(String(shown))
      return EXIT.ok
    })
}
