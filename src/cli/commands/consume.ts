/**
 * `sfbroker consume`: receive messages through the failover client, modelled on ActiveMQ's `consumer` tool.
 * Prints each body on its own line on stdout (or, with --quiet, only the final count). Stops after --count messages,
 * after --timeout ms without a message, or on SIGINT. Takes exactly what it prints: every message is acked only
 * after it was written out (--ack auto, the default, is client-individual acks sent by the tool; client and
 * individual are the STOMP modes), and with --count the prefetch is at most --count, so the broker never hands
 * it more than a bounded surplus; what it received and did not print is unacked and goes back to the queue at
 * the DISCONNECT, whose receipt also confirms every ack before it exits. A STOMP `ack:auto` subscription would
 * not do: the broker counts a message consumed once dispatched, so everything prefetched beyond --count was lost.
 * After a failover the broker redelivers unacked messages marked redelivered; the summary on stderr counts them.
 * Exit 1 if --count was given and not reached.
 */
import type { CAC } from 'cac'
import { once } from 'node:events'
import { EXIT, intFlag, stringFlag, usageError, type CliContext } from '../shared.ts'
import { asUsage, clientFlags, clientSettings, destinationFlag, interrupted } from '../client-flags.ts'

/** --ack value -> the STOMP ack mode subscribed with. `auto` means the tool acks, each message after printing it. */
const ACK_MODES: Record<string, 'client' | 'client-individual'> = {
  auto: 'client-individual',
  client: 'client',
  individual: 'client-individual',
  'client-individual': 'client-individual',
}

/** The broker's default queue prefetch (ActiveMQ's), used to bound --prefetch by --count when none is given. */
const PREFETCH_DEFAULT = 1000

export function register(cli: CAC, ctx: CliContext): void {
  clientFlags(
    cli.command(
      'consume',
      'Receive messages from a queue or topic through the failover client (like ActiveMQ "consumer")',
    ),
  )
    .option('--destination <dest>', 'queue://NAME, topic://NAME, /queue/NAME or /topic/NAME (default queue://TEST)')
    .option('--count <n>', 'Stop after n messages (default: no limit)')
    .option('--ack <mode>', 'auto | client | individual (default auto: the tool acks each message once printed)')
    .option('--durable <name>', 'Durable topic subscription name (needs --client-id)')
    .option('--selector <expr>', 'JMS selector, e.g. "priority > 4"')
    .option('--prefetch <n>', 'activemq.prefetchSize (with --count, at most the count)')
    .option('--timeout <ms>', 'Stop after this long without a message (default: wait forever)')
    .option('--quiet', 'Print only the count, not the bodies')
    .example(
      '  $ sfbroker consume --url "failover:(tcp://a:61613,tcp://b:61613)" --destination queue://TEST --count 1000 --quiet',
    )
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { url, connect: copts } = await clientSettings(opts)
      const destination = await destinationFlag(opts.destination, 'destination', 'queue://TEST')
      const count = intFlag(opts.count, 'count', 1)
      const ackName = stringFlag(opts.ack, 'ack') ?? 'auto'
      const ack = ACK_MODES[ackName]
      if (!ack) throw usageError(`--ack: "${ackName}" is not one of auto, client, individual`)
      const durable = stringFlag(opts.durable, 'durable')
      if (durable !== undefined && copts.clientId === undefined) throw usageError('--durable needs --client-id')
      if (durable !== undefined && !destination.startsWith('/topic/'))
        throw usageError(`--durable applies to topics; got ${destination}`)
      const selector = stringFlag(opts.selector, 'selector')
      const prefetchAsked = intFlag(opts.prefetch, 'prefetch', 1)
      // Never ask for more than is wanted: what the broker dispatches beyond --count only comes back at the close.
      const prefetch = count === undefined ? prefetchAsked : Math.min(prefetchAsked ?? PREFETCH_DEFAULT, count)
      const idleMs = intFlag(opts.timeout, 'timeout', 1)
      const quiet = opts.quiet === true

      const { connect } = await import('../../client/index.ts')
      const { Progress } = await import('../load/progress.ts')
      const client = await asUsage(() => connect(url, copts))
      // Bodies go to stdout: redrawing a bar on the same terminal would garble them, so progress only with --quiet or redirected output.
      const progress = new Progress('consume', count, process.stderr, { enabled: quiet || !process.stdout.isTTY })
      const stop = interrupted()
      let received = 0
      let redelivered = 0
      try {
        const sub = await asUsage(async () =>
          client.subscribe(destination, { ack, selector, prefetch, durableName: durable }),
        )
        await sub.ready
        while (count === undefined || received < count) {
          const m = await Promise.race([sub.receive(idleMs), stop.promise.then(() => undefined)])
          if (m === undefined) break
          received++
          if (m.redelivered) redelivered++
          if (!quiet) {
            ctx.out(m.text())
            // Written out before acked: a full stdout pipe holds the ack (and, through the prefetch, the broker).
            if (process.stdout.writableNeedDrain) await once(process.stdout, 'drain')
          }
          progress.add()
          await m.ack()
        }
      } finally {
        progress.done()
        stop.dispose()
        await client.close()
      }
      const summary = `consumed ${received} message(s) from ${destination}${redelivered ? ` (${redelivered} redelivered)` : ''}`
      if (quiet) ctx.out(summary)
      else ctx.err(summary)
      if (stop.fired()) return 130
      if (count !== undefined && received < count) {
        ctx.err(`sfbroker: received ${received} of ${count} message(s) before the ${idleMs} ms idle timeout`)
        return EXIT.failed
      }
      return EXIT.ok
    })
}
