/**
 * `sfbroker purge`: empty a queue. This is a CLIENT-SIDE purge: it subscribes with individual acks and acks every
 * message until none arrives for --timeout ms (default 2000). It is not atomic: messages sent meanwhile may be purged
 * too, and messages held unacked by other consumers are not seen (they come back if those consumers close).
 * Prints the number purged. Exit 0 when the queue went quiet.
 */
import type { CAC } from 'cac'
import { EXIT, intFlag, usageError, type CliContext } from '../shared.ts'
import { asUsage, clientFlags, clientSettings, destinationFlag } from '../client-flags.ts'

export function register(cli: CAC, ctx: CliContext): void {
  clientFlags(
    cli.command('purge', 'Delete every message of a queue (client-side: consume and ack until the queue is quiet)'),
  )
    .option('--destination <dest>', 'queue://NAME or /queue/NAME (required)')
    .option('--timeout <ms>', 'The queue counts as empty after this long without a message (default 2000)')
    .example('  $ sfbroker purge --url tcp://127.0.0.1:61613 --destination queue://TEST')
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { url, connect: copts } = await clientSettings(opts)
      const destination = await destinationFlag(opts.destination)
      if (!destination.startsWith('/queue/')) throw usageError(`--destination: purge needs a queue; got ${destination}`)
      const idleMs = intFlag(opts.timeout, 'timeout', 1) ?? 2000
      const { connect } = await import('../../client/index.ts')
      const client = await asUsage(() => connect(url, copts))
      let purged = 0
      try {
        const sub = client.subscribe(destination, { ack: 'client-individual' })
        await sub.ready
        for (;;) {
          const m = await sub.receive(idleMs)
          if (m === undefined) break
          await m.ack()
          purged++
        }
      } finally {
        // DISCONNECT's receipt confirms every ACK above was processed.
        await client.close()
      }
      ctx.out(`purged ${purged} message(s) from ${destination}`)
      return EXIT.ok
    })
}
