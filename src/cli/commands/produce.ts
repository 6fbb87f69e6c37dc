/**
 * `sfbroker produce`: send N messages through the failover client, modelled on ActiveMQ's `producer` tool.
 * The flag helpers it shares with the other client commands are in ../client-flags.ts.
 *
 * --count is the total across --parallel producer connections. Each producer keeps up to --window sends waiting for
 * their RECEIPT (the client resends them after a failover, same message-id). With --transaction-batch N each batch
 * of N goes in one transaction; a batch whose transaction ends in doubt after a failover is redone in a new
 * transaction with the same message ids, so a broker that deduplicates by message-id stores each message once.
 * Persistent by default (as ActiveMQ's tool); --no-persistent sends non-persistent messages.
 */
import type { CAC } from 'cac'
import * as fs from 'node:fs'
import { BrokerError, isBrokerError } from '../../lib/errors.ts'
import { EXIT, intFlag, stringFlag, usageError, type CliContext } from '../shared.ts'
import type { StompClient } from '../../client/index.ts'
import { asUsage, clientFlags, clientSettings, destinationFlag, headerFlags, interrupted } from '../client-flags.ts'

function bodyFor(
  n: number,
  text: string | undefined,
  file: Uint8Array | undefined,
  size: number | undefined,
): Uint8Array | string {
  if (file) return file
  if (text !== undefined) return text
  const base = `message ${n}`
  if (size === undefined || size <= base.length) return size === undefined ? base : base.slice(0, size)
  return base + ' ' + 'x'.repeat(size - base.length - 1)
}

export function register(cli: CAC, ctx: CliContext): void {
  clientFlags(
    cli.command('produce', 'Send messages to a queue or topic through the failover client (like ActiveMQ "producer")'),
  )
    .option('--destination <dest>', 'queue://NAME, topic://NAME, /queue/NAME or /topic/NAME (default queue://TEST)')
    .option('--count <n>', 'Messages to send in total (default 1000)')
    .option('--size <bytes>', 'Generated body size in bytes (without --message/--file)')
    .option('--message <text>', 'Body of every message')
    .option('--file <path>', 'Body of every message, read from a file')
    .option('--persistent', 'Persistent messages (default)')
    .option('--no-persistent', 'Non-persistent messages')
    .option('--parallel <p>', 'Producer connections sharing --count (default 1)')
    .option('--window <n>', 'Sends in flight per producer, waiting for RECEIPT (default 64; 1 = one at a time)')
    .option('--ttl <ms>', 'Time to live: sets expires = now + ms')
    .option('--priority <n>', 'Message priority 0-9')
    .option('--header <name=value>', 'Extra header (repeatable)', { type: [String] })
    .option('--group <id>', 'Message group (JMSXGroupID)')
    .option('--transaction-batch <n>', 'Send in transactions of n messages')
    .option('--quiet', 'No progress output')
    .example(
      '  $ sfbroker produce --url "failover:(tcp://a:61613,tcp://b:61613)" --destination queue://TEST --count 1000',
    )
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { url, connect: copts } = await clientSettings(opts)
      const destination = await destinationFlag(opts.destination, 'destination', 'queue://TEST')
      const count = intFlag(opts.count, 'count', 1) ?? 1000
      const size = intFlag(opts.size, 'size', 0)
      const text = stringFlag(opts.message, 'message')
      const filePath = stringFlag(opts.file, 'file')
      if (text !== undefined && filePath !== undefined) throw usageError('--message and --file are mutually exclusive')
      if (size !== undefined && (text !== undefined || filePath !== undefined))
        throw usageError('--size applies only to generated bodies; drop it or drop --message/--file')
      let file: Uint8Array | undefined
      if (filePath !== undefined) {
        try {
          file = fs.readFileSync(filePath)
        } catch (e) {
          throw new BrokerError('CLI_USAGE', `--file ${filePath}: ${(e as Error).message}`)
        }
      }
      const parallel = intFlag(opts.parallel, 'parallel', 1) ?? 1
      const window = intFlag(opts.window, 'window', 1) ?? 64
      const ttl = intFlag(opts.ttl, 'ttl', 1)
      const priority = intFlag(opts.priority, 'priority', 0)
      if (priority !== undefined && priority > 9) throw usageError(`--priority: "${priority}" is not in 0..9`)
      const extra = headerFlags(opts.header)
      const group = stringFlag(opts.group, 'group')
      const batch = intFlag(opts.transactionBatch, 'transaction-batch', 1)
      const persistent = opts.persistent !== false
      const quiet = opts.quiet === true

      const { connect } = await import('../../client/index.ts')
      const { Progress } = await import('../load/progress.ts')
      const progress = new Progress('produce', count, process.stderr, { enabled: !quiet })
      const stop = interrupted()
      const clients: StompClient[] = []
      const started = Date.now()
      try {
        await asUsage(async () => {
          for (let i = 0; i < parallel; i++) clients.push(await connect(url, copts))
        })
        let next = 0
        const headersFor = (n: number): Record<string, string> => {
          const h: Record<string, string> = { ...extra }
          if (persistent) h.persistent = 'true'
          if (ttl !== undefined) h.expires = String(Date.now() + ttl)
          if (priority !== undefined) h.priority = String(priority)
          if (group !== undefined) h.JMSXGroupID = group
          h['sfbroker-seq'] = String(n)
          return h
        }
        await Promise.all(
          clients.map(async (c) => {
            if (batch !== undefined) {
              for (;;) {
                const ns: number[] = []
                while (ns.length < batch && next < count && !stop.fired()) ns.push(next++)
                if (ns.length === 0) return
                await sendBatch(c, ns)
                progress.add(ns.length)
              }
            }
            let inFlight = 0
            let failure: unknown
            let wake: () => void = () => undefined
            while (next < count && failure === undefined && !stop.fired()) {
              while (inFlight >= window) await new Promise<void>((r) => (wake = r))
              if (failure !== undefined) break
              const n = next++
              inFlight++
              c.send(destination, bodyFor(n, text, file, size), headersFor(n)).then(
                () => {
                  inFlight--
                  progress.add()
                  wake()
                },
                (e) => {
                  failure ??= e
                  inFlight--
                  wake()
                },
              )
            }
            while (inFlight > 0) await new Promise<void>((r) => (wake = r))
            if (failure !== undefined) throw failure
          }),
        )
        async function sendBatch(c: StompClient, ns: number[]): Promise<void> {
          // Same message ids on every attempt: a redo after an in-doubt commit is deduplicated by the broker.
          const ids = ns.map((n) => `${c.producerId}:tx:${n}`)
          for (let attempt = 1; ; attempt++) {
            const tx = c.begin()
            try {
              await Promise.all(
                ns.map((n, i) =>
                  tx.send(destination, bodyFor(n, text, file, size), { ...headersFor(n), 'message-id': ids[i] }),
                ),
              )
              await tx.commit()
              return
            } catch (e) {
              if (!isBrokerError(e, 'CLIENT_TX_IN_DOUBT') || attempt >= 10) throw e
              await tx.abort().catch(() => undefined)
              ctx.err(
                `sfbroker: transaction of ${ns.length} message(s) in doubt after a failover; redoing it (attempt ${attempt + 1})`,
              )
            }
          }
        }
      } finally {
        progress.done()
        stop.dispose()
        await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
      }
      const secs = (Date.now() - started) / 1000
      const sent = progress.value
      ctx.out(
        `produced ${sent} message(s) to ${destination} in ${secs.toFixed(2)} s (${Math.round(sent / Math.max(secs, 0.001))} msg/s)`,
      )
      if (stop.fired()) return 130
      return EXIT.ok
    })
}
