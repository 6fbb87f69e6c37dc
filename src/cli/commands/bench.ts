/**
 * `sfbroker bench`: the load generator (src/client/bench.ts). Prints msgs/s and latency p50/p99 for producers
 * (send -> RECEIPT) and consumers (send -> MESSAGE) as text, or one JSON object with --json. Plain STOMP, so it runs
 * against ActiveMQ too. Progress on stderr (a bar on a TTY). Exit 1 if the run was incomplete.
 */
import type { CAC } from 'cac'
import { EXIT, intFlag, stringFlag, usageError, type CliContext } from '../shared.ts'
import { asUsage, clientFlags, clientSettings, destinationFlag } from '../client-flags.ts'

export function register(cli: CAC, ctx: CliContext): void {
  clientFlags(
    cli.command('bench', 'Load generator: producers and consumers on one destination; msgs/s and latency p50/p99'),
  )
    .option('--destination <dest>', 'Destination (default queue://sfbroker.bench)')
    .option('--producers <p>', 'Producer connections (default 1)')
    .option('--consumers <c>', 'Consumer connections (default 1; 0 = produce only)')
    .option('--count <n>', 'Messages in total (default 10000)')
    .option('--size <bytes>', 'Body size (default 100)')
    .option('--persistent', 'Persistent messages (default)')
    .option('--no-persistent', 'Non-persistent messages')
    .option(
      '--receipts <mode>',
      'every: wait for each RECEIPT before the next send; window: up to --window in flight (default window)',
    )
    .option('--window <w>', 'Sends in flight per producer with --receipts window (default 100)')
    .option('--timeout <ms>', 'Stop waiting for consumers after this long without progress (default 30000)')
    .option('--json', 'Print the result as one JSON object')
    .example(
      '  $ sfbroker bench --url tcp://127.0.0.1:61613 --producers 4 --consumers 4 --count 100000 --size 1024 --json',
    )
    .action(async (opts: Record<string, unknown>): Promise<number> => {
      const { url, connect: copts } = await clientSettings(opts)
      const destination = await destinationFlag(opts.destination, 'destination', 'queue://sfbroker.bench')
      const receipts = stringFlag(opts.receipts, 'receipts') ?? 'window'
      if (receipts !== 'every' && receipts !== 'window')
        throw usageError(`--receipts: "${receipts}" is not one of every, window`)
      const window = intFlag(opts.window, 'window', 1) ?? 100
      if (receipts === 'every' && opts.window !== undefined)
        throw usageError('--window applies to --receipts window only')
      const producers = intFlag(opts.producers, 'producers', 1) ?? 1
      const consumers = intFlag(opts.consumers, 'consumers', 0) ?? 1
      const count = intFlag(opts.count, 'count', 1) ?? 10000
      const sizeBytes = intFlag(opts.size, 'size', 0) ?? 100
      const idleTimeoutMs = intFlag(opts.timeout, 'timeout', 1) ?? 30000
      const json = opts.json === true
      const { runBench, formatBench } = await import('../load/bench.ts')
      const { Progress } = await import('../load/progress.ts')
      const progress = new Progress(
        consumers > 0 ? 'bench (consumed)' : 'bench (produced)',
        consumers > 0 && destination.startsWith('/topic/') ? count * consumers : count,
      )
      let last = 0
      const r = await asUsage(() =>
        runBench({
          url,
          connect: copts,
          destination,
          producers,
          consumers,
          count,
          sizeBytes,
          persistent: opts.persistent !== false,
          receipts,
          window,
          idleTimeoutMs,
          onProgress: (p, c) => {
            const v = consumers > 0 ? c : p
            if (v > last) {
              progress.add(v - last)
              last = v
            }
          },
        }),
      )
      progress.done()
      ctx.out(json ? JSON.stringify(r) : formatBench(r))
      return r.complete ? EXIT.ok : EXIT.failed
    })
}
