/**
 * `sfbroker status <shared dir> [--json]`: who is primary on a shared directory, read without disturbing it
 * (see src/election/status-report.ts for how lock ownership is tested without taking the lock).
 * Exit codes: 0 a live primary holds the lock, 3 no primary, 4 unreadable or not a broker directory. An
 * unreadable directory is reported like every other command's error, `sfbroker: ELECTION_NOT_BROKER_DIR: …` on
 * stderr (with --json the report still goes to stdout, its `error` field set).
 */
import type { CAC } from 'cac'
import { BrokerError } from '../../lib/errors.ts'
import { formatError, usageError, type CliContext } from '../shared.ts'

export function register(cli: CAC, ctx: CliContext): void {
  cli
    .command(
      'status <dir>',
      'Show the primary, epoch, replicas, last takeover and store summary of a shared directory (exit 0 primary, 3 none, 4 unreadable)',
    )
    .option('--json', 'Print the report as JSON')
    .example('  $ sfbroker status /mnt/shared/broker/kahadb')
    .example('  $ sfbroker status /mnt/shared/broker/kahadb --json | jq .holder')
    .action(async (dir: unknown, opts: Record<string, unknown>): Promise<number> => {
      if (typeof dir !== 'string' || dir === '')
        throw usageError('status: needs the shared directory (the store directory holding lock, epochs/)')
      const { inspectSharedDir } = await import('../../election/index.ts')
      const { formatStatus } = await import('../format/status-text.ts')
      const r = await inspectSharedDir(dir)
      if (opts.json) ctx.out(JSON.stringify(r, null, 2))
      if (r.error !== undefined) {
        ctx.err(
          formatError(
            new BrokerError('ELECTION_NOT_BROKER_DIR', `status: ${r.error}`, { details: { directory: r.directory } }),
          ),
        )
        return r.exitCode
      }
      if (!opts.json) ctx.out(formatStatus(r))
      return r.exitCode
    })
}
