/**
 * `sfbroker probe-lock [dir] [--json] [--peer]` (alias lock-probe): can this filesystem be trusted for
 * shared-store HA? See src/election/probe/probe-lock.ts. Exit 0 when a lock type is SAFE (or SAFE ON THIS
 * HOST without --peer), 1 when none is. The probe's child processes (`sfbroker __lock-child …` in the compiled
 * binary) are dispatched by src/main.ts before the CLI, so they stay out of --help.
 */
import fs from 'node:fs'
import type { CAC } from 'cac'
import { intFlag, usageError, type CliContext } from '../shared.ts'

export function register(cli: CAC, ctx: CliContext): void {
  cli
    .command(
      'probe-lock [dir]',
      'Check that flock/fcntl locks on a directory exclude other processes (and, with --peer, other hosts)',
    )
    .alias('lock-probe')
    .option('--json', 'Print the report as JSON')
    .option('--peer', 'Cross-host check: run at the same time on a second host on the same directory')
    .option(
      '--hold-ms <ms>',
      'Peer mode: minimum time each side holds each lock (exceed the NFS attribute cache), default 3000',
    )
    .option('--peer-timeout-ms <ms>', 'Peer mode: how long to wait for the other host, default 60000')
    .example('  $ sfbroker probe-lock /mnt/shared/broker')
    .example('  $ sfbroker probe-lock /mnt/shared/broker --peer     # on host A and host B at the same time')
    .action(async (dir: unknown, opts: Record<string, unknown>): Promise<number> => {
      const target = typeof dir === 'string' && dir !== '' ? dir : '.'
      // The probe creates a missing directory; an existing non-directory is a wrong argument, not a probe failure.
      const st = fs.statSync(target, { throwIfNoEntry: false })
      if (st && !st.isDirectory())
        throw usageError(
          `probe-lock: ${JSON.stringify(target)} is not a directory, expected the shared directory to test`,
        )
      const { runProbe } = await import('../../election/index.ts')
      const { formatProbe } = await import('../format/probe-text.ts')
      const r = await runProbe(target, {
        peer: Boolean(opts.peer),
        holdMs: intFlag(opts.holdMs, 'hold-ms', 100),
        peerTimeoutMs: intFlag(opts.peerTimeoutMs, 'peer-timeout-ms', 1000),
      })
      ctx.out(opts.json ? JSON.stringify(r, null, 2) : formatProbe(r))
      return r.recommended ? 0 : 1
    })
}
