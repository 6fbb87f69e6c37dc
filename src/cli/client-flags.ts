/**
 * Flags and helpers the client commands (produce, consume, browse, purge, bench) share: connection flags
 * (--url, --user, --password, --client-id and TLS), destination and header parsing, how a client usage error
 * becomes exit 2, and the SIGINT/SIGTERM latch that ends a run cleanly.
 */
import type { Command } from 'cac'
import { isBrokerError } from '../lib/errors.ts'
import { stringFlag, stringListFlag, usageError } from './shared.ts'
import type { ConnectOptions } from '../client/index.ts'

export const DEFAULT_URL = 'tcp://127.0.0.1:61613'

/** Add --url, --user, --password, --client-id to a client command. */
export function clientFlags(cmd: Command): Command {
  return cmd
    .option(
      '--url <uri>',
      `Broker URI: failover:(tcp://a:61613,tcp://b:61613)?options, tcp://host:port or stomp://host:port (default ${DEFAULT_URL})`,
    )
    .option('--user <login>', 'STOMP login')
    .option('--password <passcode>', 'STOMP passcode')
    .option('--client-id <id>', 'client-id sent on CONNECT (needed for durable subscriptions)')
    .option('--ca <file>', 'ssl:// URIs: PEM CA certificates to verify the broker with (default: the system CAs)')
    .option('--cert <file>', 'ssl:// URIs: PEM client certificate (brokers with transport.needClientAuth)')
    .option('--key <file>', 'ssl:// URIs: PEM private key of --cert')
}

/** Connection settings from the shared flags; a malformed URI is a usage error (exit 2). */
export async function clientSettings(opts: Record<string, unknown>): Promise<{ url: string; connect: ConnectOptions }> {
  const url = stringFlag(opts.url, 'url') ?? DEFAULT_URL
  const { parseBrokerUri } = await import('../client/index.ts')
  try {
    parseBrokerUri(url)
  } catch (e) {
    throw usageError(`--url: ${(e as Error).message}`)
  }
  const connect: ConnectOptions = {}
  const login = stringFlag(opts.user, 'user')
  const passcode = stringFlag(opts.password, 'password')
  const clientId = stringFlag(opts.clientId, 'client-id')
  if (login !== undefined) connect.login = login
  if (passcode !== undefined) connect.passcode = passcode
  if (clientId !== undefined) connect.clientId = clientId
  const caFile = stringFlag(opts.ca, 'ca')
  const certFile = stringFlag(opts.cert, 'cert')
  const keyFile = stringFlag(opts.key, 'key')
  if ((certFile === undefined) !== (keyFile === undefined))
    throw usageError(
      `--${certFile === undefined ? 'key' : 'cert'} given without --${certFile === undefined ? 'cert' : 'key'}; expected both`,
    )
  if (caFile !== undefined || certFile !== undefined) connect.tls = { caFile, certFile, keyFile }
  return { url, connect }
}

/** A destination flag, normalised (queue://X -> /queue/X); bad forms are usage errors. */
export async function destinationFlag(value: unknown, flag = 'destination', fallback?: string): Promise<string> {
  const raw = stringFlag(value, flag) ?? fallback
  if (raw === undefined) throw usageError(`--${flag} is required (e.g. queue://TEST)`)
  const { normalizeDestination } = await import('../client/index.ts')
  try {
    return normalizeDestination(raw, `--${flag}`)
  } catch (e) {
    throw usageError((e as Error).message)
  }
}

/** Repeated --header k=v flags as a record. */
export function headerFlags(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const kv of stringListFlag(value, 'header') ?? []) {
    const eq = kv.indexOf('=')
    if (eq <= 0) throw usageError(`--header: "${kv}" is not name=value`)
    out[kv.slice(0, eq)] = kv.slice(eq + 1)
  }
  return out
}

/** Run `fn`, turning client-side usage errors (CLIENT_USAGE, CLIENT_URI_INVALID, bad destination) into exit 2. */
export async function asUsage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (e) {
    if (
      isBrokerError(e, 'CLIENT_USAGE') ||
      isBrokerError(e, 'CLIENT_URI_INVALID') ||
      isBrokerError(e, 'CLIENT_DESTINATION_INVALID')
    )
      throw usageError(e.message)
    throw e
  }
}

/** Resolves when SIGINT/SIGTERM arrives (the command then stops cleanly); `dispose` removes the handlers. */
export function interrupted(): { promise: Promise<void>; fired: () => boolean; dispose: () => void } {
  let fired = false
  let resolve: () => void = () => undefined
  const promise = new Promise<void>((r) => (resolve = r))
  const on = () => {
    fired = true
    resolve()
  }
  process.once('SIGINT', on)
  process.once('SIGTERM', on)
  return { promise, fired: () => fired, dispose: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) }
}
